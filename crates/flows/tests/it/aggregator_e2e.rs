//! The aggregator end to end: the Goldmane simulator over real mTLS → the aggregator →
//! a real store, compared exactly (edge set, flow counts, first/last seen) with the
//! simulator's ground truth, which is computed independently of the core edge model.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use homelab_core::flows::Action;
use homelab_flows::aggregator::{self, AggregatorConfig, Metrics};
use homelab_flows::goldmane::GoldmaneClient;
use homelab_flows::sim::{SimConfig, SimHandle, SimMode, SimServer};
use homelab_flows::store::{self, EdgeStore};
use homelab_testkit::pki::TestPki;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::topology;

use crate::support::now;

const LIMIT: Duration = Duration::from_secs(60);

fn config() -> AggregatorConfig {
    AggregatorConfig {
        flush_interval: Duration::from_millis(200),
        // Buckets close when the stream has brought nothing new for this long. The quiet
        // clock is wall time: a test process starved of CPU for longer (2 cores shared with
        // compile jobs) could close a bucket before reading the rest of its flows, which
        // would then be dropped as late. 3 s keeps that out of reach on a loaded CI machine.
        quiet_close: Duration::from_secs(3),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(200),
        ..AggregatorConfig::default()
    }
}

type Table = homelab_flows::sim::ExpectedEdges;

async fn table<S: EdgeStore>(s: &S) -> Table {
    homelab_testkit::flows::edge_table(s).await.unwrap()
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: Arc<Metrics>,
}

/// Starts the aggregator. The store is migrated first so the test can query it at once
/// (the aggregator migrates too; migrations are idempotent).
async fn start<S: EdgeStore + 'static>(pki: &TestPki, sim: &SimHandle, store: Arc<S>) -> Running {
    store.migrate().await.unwrap();
    let client = GoldmaneClient::new(pki.goldmane_config(sim)).unwrap();
    let metrics = Arc::new(Metrics::new(now()));
    let (stop, rx) = watch::channel(false);
    let m = Arc::clone(&metrics);
    let task = tokio::spawn(async move {
        aggregator::run(client, store, config(), m, rx).await.unwrap();
    });
    Running { stop, task, metrics }
}

impl Running {
    async fn stop(self) -> Arc<Metrics> {
        self.stop.send(true).unwrap();
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("aggregator stops")
            .unwrap();
        self.metrics
    }
}

/// Waits until the store holds exactly `want`; panics with the difference after LIMIT.
async fn converge<S: EdgeStore>(s: &S, want: &Table) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let got = table(s).await;
        if &got == want {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let missing: Vec<_> = want.iter().filter(|(k, v)| got.get(*k) != Some(v)).take(5).collect();
            let extra: Vec<_> = got.iter().filter(|(k, v)| want.get(*k) != Some(v)).take(5).collect();
            panic!("store never matched the ground truth\nmissing/different: {missing:?}\nextra/different: {extra:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sim(dir: &Path, rate: Option<u64>, buckets: usize) -> (TestPki, SimHandle, i64) {
    let pki = TestPki::generate(dir).unwrap();
    // Recent enough for Goldmane's one hour of history, aligned to the bucket size.
    let t0 = (now() - 1800) / 15 * 15;
    let mut cfg = SimConfig::new(topology("homelab.yaml"))
        .with_tls(pki.sim_tls())
        .with_mode(SimMode::Burst { t0, buckets });
    cfg.rate_limit = rate;
    let sim = SimServer::start(cfg).await.unwrap();
    (pki, sim, t0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_sqlite_with_exactly_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, sim, t0) = sim(dir.path(), None, 40).await;
    let url = format!("sqlite://{}", dir.path().join("db/edges.db").display());
    let store = Arc::new(store::connect(&url).await.unwrap());
    let running = start(&pki, &sim, Arc::clone(&store)).await;
    let want = sim.expected_edges(t0, t0 + 40 * 15);
    assert!(want.len() > 10, "the topology makes a real edge set");
    assert!(
        want.keys().all(|(s, d, _)| s != d && s != "-" && d != "-"),
        "ground truth drops self/external"
    );
    assert!(
        want.keys().any(|(_, _, a)| *a == Action::Deny),
        "allow-at-src + deny-at-dst is a deny edge"
    );
    converge(store.as_ref(), &want).await;
    let m = running.stop().await;
    assert_eq!(
        m.flows_received(),
        sim.total_flows().unwrap(),
        "every flow received once"
    );
    assert_eq!(
        store.cursor().await.unwrap(),
        Some(t0 + 40 * 15),
        "the cursor is the last bucket's end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_reconnects_neither_lose_nor_double_count() {
    let dir = tempfile::tempdir().unwrap();
    // Rate-limited so the stream is still running when we cut it.
    let (pki, sim, t0) = sim(dir.path(), Some(5_000), 30).await;
    let store = Arc::new(store::connect("sqlite::memory:").await.unwrap());
    let running = start(&pki, &sim, Arc::clone(&store)).await;
    // Cut the stream at a quarter, half and three quarters of the flows.
    let total = sim.total_flows().unwrap();
    for quarter in 1..=3 {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while sim.flows_sent() < total * quarter / 4 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sim.disconnect_all();
    }
    let want = sim.expected_edges(t0, t0 + 30 * 15);
    converge(store.as_ref(), &want).await;
    let m = running.stop().await;
    assert!(m.reconnects() >= 3, "reconnected after every cut ({})", m.reconnects());
    assert!(
        m.flows_received() > sim.total_flows().unwrap(),
        "backfill re-sent open buckets, and they were not double counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_and_a_new_process_resumes_from_the_stored_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, sim, t0) = sim(dir.path(), Some(15_000), 30).await;
    let url = format!("sqlite://{}", dir.path().join("edges.db").display());
    let store = Arc::new(store::connect(&url).await.unwrap());
    let first = start(&pki, &sim, Arc::clone(&store)).await;
    // Stop mid-stream, like a SIGTERM during a rollout.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while sim.flows_sent() < sim.total_flows().unwrap() / 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.stop().await;
    let stored = store.cursor().await.unwrap().expect("the final flush stored a cursor");
    assert!(
        stored > t0 && stored < t0 + 30 * 15,
        "stopped mid-stream (cursor {stored})"
    );
    let partial = table(store.as_ref()).await;
    assert!(!partial.is_empty(), "the final flush wrote the closed buckets");

    // A new process on the same database resumes from the stored cursor.
    let store2 = Arc::new(store::connect(&url).await.unwrap());
    let second = start(&pki, &sim, Arc::clone(&store2)).await;
    converge(store2.as_ref(), &sim.expected_edges(t0, t0 + 30 * 15)).await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_mid_stream_loses_no_edge() {
    use homelab_testkit::postgres::TempPostgres;
    if !TempPostgres::available_or_skip("postgres_outage_mid_stream_loses_no_edge") {
        return;
    }
    let mut pg = tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .unwrap()
        .expect("start postgres");
    let dir = tempfile::tempdir().unwrap();
    // ~3,200 flows at 200/s: the stream lasts ~16 s, so it is still flowing well after
    // `pg_ctl stop` returns even on a loaded machine (at 4,000/s it could end first).
    let (pki, sim, t0) = sim(dir.path(), Some(200), 30).await;
    let store = Arc::new(store::connect(&pg.url()).await.unwrap());
    let running = start(&pki, &sim, Arc::clone(&store)).await;

    // Let some flushes land, then take the database away while the stream goes on.
    let total = sim.total_flows().unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while sim.flows_sent() < total / 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pg = tokio::task::spawn_blocking(move || {
        pg.stop().expect("stop postgres");
        pg
    })
    .await
    .unwrap();
    let received_at_stop = running.metrics.flows_received();
    // The stream keeps flowing into memory and flushes fail meanwhile.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while (running.metrics.flush_errors() == 0 || running.metrics.flows_received() < received_at_stop + 200)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        running.metrics.flush_errors() > 0,
        "flushes failed while the database was down"
    );
    assert!(
        running.metrics.flows_received() > received_at_stop,
        "the receive loop did not wait on the database"
    );
    assert!(
        running.metrics.buffered_edges() > 0,
        "edge deltas are buffered in memory"
    );

    let pg = tokio::task::spawn_blocking(move || {
        pg.restart().expect("restart postgres");
        pg
    })
    .await
    .unwrap();
    converge(store.as_ref(), &sim.expected_edges(t0, t0 + 30 * 15)).await;
    let m = running.stop().await;
    assert!(m.edges_upserted() > 0);
    drop(pg);
}
