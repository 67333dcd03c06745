//! The flow trail end to end: the Goldmane simulator (burst mode, the 20-namespace mesh,
//! 1216 flows per 15 s bucket) streams over gRPC + mTLS on loopback into
//! `homelab_flows::aggregator::run`, which coalesces and flushes into a real store.
//!
//! - `flows/aggregated/{postgres,sqlite}`: [`BUCKETS`] buckets (≈ 500k flows) counted; the
//!   clock stops when the store's cursor reaches the end of the last counted bucket, i.e.
//!   when every counted flow is durably in the `edge` table. One trailing bucket is streamed
//!   but not counted: it is what closes the last counted bucket (otherwise the measurement
//!   would include the aggregator's quiet-close grace period of one second).
//! - `flows/naive/{postgres,sqlite}`: the same stream, consumed by a client that writes
//!   each received flow with one autocommitted upsert (`AnyStore::upsert_each` with a single
//!   edge, delta count 1; flows that make no edge, such as self-edges, cost no statement),
//!   on a bounded prefix of the stream so that it finishes: 4,000 flows into PostgreSQL,
//!   20,000 into SQLite.
//!
//! Before measuring, `flows/check/*` lines: three aggregated runs per backend (¼×, 1× and
//! 4× [`BUCKETS`]: 125k, 500k and 2M flows), each checked against the simulator's ground
//! truth, print the largest edge buffer the aggregator held (its `buffered_edges` gauge,
//! sampled before every flush) against the number of unique edges, and the process's RSS
//! before/after and peak (`VmHWM`, reset before each run); one short naive run per backend
//! checks that it stores one flow per upsert.
//!
//! PostgreSQL is a throwaway server (`TempPostgres`, default settings: fsync on, synchronous
//! commit); SQLite is a WAL file in a temporary directory (synchronous = NORMAL).
//!
//! `cargo bench -p homelab-benches --bench flows`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
use homelab_core::flows::{EdgeDelta, edge_of};
use homelab_flows::aggregator::{self, AggregatorConfig, Metrics};
use homelab_flows::goldmane::{FlowSource, GoldmaneClient};
use homelab_flows::sim::{ExpectedEdge, ExpectedEdges, SimConfig, SimHandle, SimMode, SimServer, Topology};
use homelab_flows::store::{self, AnyStore, EdgeStore};
use homelab_testkit::pki::TestPki;
use homelab_testkit::postgres::TempPostgres;
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// Counted buckets per aggregated iteration: 412 × 1216 = 500,992 flows.
const BUCKETS: usize = 412;
/// Flows per naive iteration (a prefix of the same stream): one fsync'd commit per flow
/// makes PostgreSQL's naive consumer several times slower than SQLite's (WAL, synchronous =
/// NORMAL: no fsync per commit), so its prefix is shorter to keep the run to minutes.
fn naive_flows(backend: Backend) -> u64 {
    match backend {
        Backend::Postgres => 4_000,
        Backend::Sqlite => 20_000,
    }
}
/// How often the driver polls the store's cursor while the aggregator runs.
const POLL: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(300);

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn topology() -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/flows/testdata/topologies/mesh.json");
    Topology::from_path(&path).expect("mesh topology")
}

/// The aggregator as deployed, but flushing every 100 ms instead of 15 s so that a
/// burst of a few seconds is not dominated by one flush interval.
fn aggregator_config() -> AggregatorConfig {
    AggregatorConfig {
        flush_interval: Duration::from_millis(100),
        quiet_close: Duration::from_secs(1),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(200),
        ..AggregatorConfig::default()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Hands out an empty, migrated store per run: a new database of the temporary PostgreSQL
/// server, or a new SQLite file.
struct Stores {
    pg: TempPostgres,
    dir: tempfile::TempDir,
    seq: AtomicU32,
}

impl Stores {
    fn fresh(&self, rt: &Runtime, backend: Backend) -> Arc<AnyStore> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let url = match backend {
            Backend::Postgres => self.pg.create_database(&format!("bench_{n}")).expect("createdb"),
            Backend::Sqlite => store::sqlite_url(&self.dir.path().join(format!("bench-{n}.db"))),
        };
        rt.block_on(async {
            let s = store::connect(&url).await.expect("connect");
            s.migrate().await.expect("migrate");
            Arc::new(s)
        })
    }
}

struct Sim {
    handle: SimHandle,
    t0: i64,
    /// Flows in the counted buckets.
    counted_flows: u64,
    /// End of the last counted bucket: the cursor that says "all counted flows are stored".
    target_cursor: i64,
}

/// A burst of `counted` buckets plus one trailing bucket, over mTLS.
async fn start_sim(pki: &TestPki, counted: usize) -> Sim {
    let topology = topology();
    let compiled = topology.compile().expect("valid topology");
    let b = compiled.bucket_seconds();
    let t0 = (now() - 1800) / b * b;
    let counted_flows = (0..counted as i64).map(|k| compiled.flows_in_bucket(t0 + k * b)).sum();
    let handle = SimServer::start(
        SimConfig::new(topology)
            .with_tls(pki.sim_tls())
            .with_mode(SimMode::Burst {
                t0,
                buckets: counted + 1,
            }),
    )
    .await
    .expect("simulator");
    Sim {
        handle,
        t0,
        counted_flows,
        target_cursor: t0 + counted as i64 * b,
    }
}

struct AggregatedRun {
    elapsed: Duration,
    flows: u64,
    max_buffered_edges: u64,
    expected: ExpectedEdges,
}

/// Simulator → mTLS → aggregator → store, timed from the aggregator's start until the
/// stored cursor covers every counted bucket.
async fn aggregated(pki: &TestPki, store: Arc<AnyStore>, counted: usize) -> AggregatedRun {
    let sim = start_sim(pki, counted).await;
    let client = GoldmaneClient::new(pki.goldmane_config(&sim.handle)).expect("client");
    let metrics = Arc::new(Metrics::new(now()));
    let (stop, rx) = watch::channel(false);
    let start = Instant::now();
    let task = tokio::spawn(aggregator::run(
        client,
        Arc::clone(&store),
        aggregator_config(),
        Arc::clone(&metrics),
        rx,
    ));
    let mut max_buffered_edges = 0;
    loop {
        max_buffered_edges = max_buffered_edges.max(metrics.buffered_edges());
        if store
            .cursor()
            .await
            .expect("cursor")
            .is_some_and(|c| c >= sim.target_cursor)
        {
            break;
        }
        assert!(start.elapsed() < LIMIT, "the aggregator never caught up");
        tokio::time::sleep(POLL).await;
    }
    let elapsed = start.elapsed();
    max_buffered_edges = max_buffered_edges.max(metrics.buffered_edges());
    stop.send(true).expect("stop");
    task.await.expect("aggregator task").expect("aggregator");
    assert_eq!(metrics.flush_errors(), 0, "no failed flush");
    assert_eq!(metrics.reconnects(), 0, "one stream, no reconnect");
    let expected = sim.handle.expected_edges(sim.t0, sim.target_cursor);
    sim.handle.shutdown().await;
    AggregatedRun {
        elapsed,
        flows: sim.counted_flows,
        max_buffered_edges,
        expected,
    }
}

/// The same stream, one autocommitted upsert per received flow, for `flows` flows. Returns
/// the time and the number of upserts.
async fn naive(pki: &TestPki, store: Arc<AnyStore>, flows: u64) -> (Duration, i64) {
    let per_bucket = topology().compile().expect("valid topology").flows_in_bucket(0);
    let buckets = flows.div_ceil(per_bucket) as usize;
    let sim = start_sim(pki, buckets).await;
    let mut client = GoldmaneClient::new(pki.goldmane_config(&sim.handle)).expect("client");
    let start = Instant::now();
    let mut stream = client.open(-3600).await.expect("open stream");
    let (mut received, mut upserts) = (0, 0);
    while received < flows {
        let flow = stream.next().await.expect("stream open").expect("flow");
        received += 1;
        if let Ok(key) = edge_of(&flow) {
            let delta = EdgeDelta {
                first_seen: flow.start_time,
                last_seen: flow.end_time,
                flow_count: 1,
            };
            store.upsert_each(&[(key, delta)]).await.expect("upsert");
            upserts += 1;
        }
    }
    let elapsed = start.elapsed();
    drop(stream);
    sim.handle.shutdown().await;
    (elapsed, upserts)
}

async fn table(s: &AnyStore) -> ExpectedEdges {
    s.edges(&EdgeQuery {
        limit: MAX_LIMIT,
        ..EdgeQuery::default()
    })
    .await
    .expect("edges")
    .into_iter()
    .map(|r| {
        (
            (r.src_ns, r.dst_ns, r.action),
            ExpectedEdge {
                flow_count: r.flow_count,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            },
        )
    })
    .collect()
}

/// `VmRSS` and `VmHWM` (kB) from /proc/self/status.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak RSS (`VmHWM`) of this process (Linux ≥ 4.0); false if not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn flows(c: &mut Criterion) {
    if !TempPostgres::available_or_skip("flows bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let pki_dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::generate(pki_dir.path()).expect("test PKI");
    let stores = Stores {
        pg: TempPostgres::start().expect("temporary PostgreSQL"),
        dir: tempfile::tempdir().expect("tempdir"),
        seq: AtomicU32::new(0),
    };

    // Correctness and memory, once per backend, before measuring anything.
    for backend in [Backend::Postgres, Backend::Sqlite] {
        for counted in [BUCKETS / 4, BUCKETS, 4 * BUCKETS] {
            let store = stores.fresh(&rt, backend);
            let reset = reset_peak_rss();
            let (rss_before, _) = rss_kb();
            let run = rt.block_on(aggregated(&pki, Arc::clone(&store), counted));
            let (rss_after, hwm) = rss_kb();
            let got = rt.block_on(async {
                let t = table(&store).await;
                store.close().await;
                t
            });
            assert_eq!(
                got,
                run.expected,
                "{}: the store holds exactly the ground truth",
                backend.name()
            );
            println!(
                "flows/check/{}: {} flows in {:.2?} ({:.0} flows/s); unique edges {}, max buffered edges {}; \
                 RSS before {} kB, after {} kB, peak {} kB{}",
                backend.name(),
                run.flows,
                run.elapsed,
                run.flows as f64 / run.elapsed.as_secs_f64(),
                run.expected.len(),
                run.max_buffered_edges,
                rss_before,
                rss_after,
                hwm,
                if reset {
                    " (peak reset before the run)"
                } else {
                    " (peak since process start)"
                },
            );
            assert!(
                run.max_buffered_edges <= run.expected.len() as u64,
                "the edge buffer is bounded by the unique edges"
            );
        }
    }

    // The naive consumer writes what it claims: one flow per upsert.
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let store = stores.fresh(&rt, backend);
        let (elapsed, upserts) = rt.block_on(naive(&pki, Arc::clone(&store), 2_000));
        let stored: i64 = rt.block_on(async {
            let t = table(&store).await;
            store.close().await;
            t.values().map(|e| e.flow_count).sum()
        });
        assert_eq!(stored, upserts, "{}: one flow per upsert", backend.name());
        println!(
            "flows/check/naive/{}: 2000 flows, {upserts} upserts in {elapsed:.2?} ({:.0} flows/s)",
            backend.name(),
            2_000.0 / elapsed.as_secs_f64()
        );
    }

    let mut group = c.benchmark_group("flows");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    let per_bucket = topology().compile().expect("valid topology").flows_in_bucket(0);
    for backend in [Backend::Postgres, Backend::Sqlite] {
        group.throughput(Throughput::Elements(per_bucket * BUCKETS as u64));
        group.bench_function(format!("aggregated/{}", backend.name()), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let store = stores.fresh(&rt, backend);
                        rt.block_on(async {
                            let elapsed = aggregated(&pki, Arc::clone(&store), BUCKETS).await.elapsed;
                            store.close().await;
                            elapsed
                        })
                    })
                    .sum()
            })
        });
    }
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let flows = naive_flows(backend);
        group.throughput(Throughput::Elements(flows));
        group.bench_function(format!("naive/{}", backend.name()), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let store = stores.fresh(&rt, backend);
                        rt.block_on(async {
                            let (elapsed, _) = naive(&pki, Arc::clone(&store), flows).await;
                            store.close().await;
                            elapsed
                        })
                    })
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
