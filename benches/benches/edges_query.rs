//! `homelab edges` on a 1,000,000-row `edge` table: the store queries behind
//! `--ns`, `--src`, `--dst`, `--new-since`, `--peers-of` (default `--limit 200`), in
//! PostgreSQL (`TempPostgres`, default settings) and SQLite (a WAL file).
//!
//! The table ([`homelab_benches::edge_table`]): 1000 namespaces, each the source of an
//! `allow` and a `deny` edge to 500 others, `first_seen` spread over 30 days. So `--ns X`
//! matches 2000 rows, `--src X` 1000, `--src X --new-since 24h` about 33, and
//! `--new-since 24h` alone about 33,000. The namespace changes at every iteration (all 1000
//! in turn), so no single namespace's pages stay hot. Loading (20 `EdgeStore::apply`
//! batches of 50,000 edges; on PostgreSQL then `ANALYZE edge`, which autovacuum does by itself
//! in production; SQLite keeps its planner defaults, as the store never runs `ANALYZE`) is
//! setup and is not measured; what is measured is one `EdgeStore::edges` / `peers` call
//! through the store's pool (the CLI adds process start and connection setup).
//!
//! `cargo bench -p homelab-benches --bench edges_query`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use homelab_benches::{edge_table, edge_table_namespace};
use homelab_core::flows::FlushBatch;
use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT, PeersQuery};
use homelab_flows::store::{self, AnyStore, EdgeStore};
use homelab_testkit::postgres::TempPostgres;

const NAMESPACES: usize = 1000;
const PEERS: usize = 500;
const DAYS: i64 = 30;
const BATCH: usize = 50_000;
const LIMIT: u32 = 200;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// What one benchmark asks for namespace `x`.
#[derive(Clone, Copy)]
enum Shape {
    /// `homelab edges` (no filter): the newest 200.
    All,
    Ns,
    Src,
    Dst,
    NsNewSince,
    SrcNewSince,
    NewSince,
    PeersOf,
}

const SHAPES: [(&str, Shape); 8] = [
    ("all", Shape::All),
    ("ns", Shape::Ns),
    ("src", Shape::Src),
    ("dst", Shape::Dst),
    ("ns_new_since_24h", Shape::NsNewSince),
    ("src_new_since_24h", Shape::SrcNewSince),
    ("new_since_24h", Shape::NewSince),
    ("peers_of", Shape::PeersOf),
];

/// Runs the query; returns the number of rows.
async fn query(s: &AnyStore, shape: Shape, x: &str, since: i64, limit: u32) -> usize {
    let mut q = EdgeQuery {
        limit,
        ..EdgeQuery::default()
    };
    match shape {
        Shape::All => {}
        Shape::Ns => q.ns = Some(x.to_owned()),
        Shape::Src => q.src = Some(x.to_owned()),
        Shape::Dst => q.dst = Some(x.to_owned()),
        Shape::NsNewSince => {
            q.ns = Some(x.to_owned());
            q.new_since = Some(since);
        }
        Shape::SrcNewSince => {
            q.src = Some(x.to_owned());
            q.new_since = Some(since);
        }
        Shape::NewSince => q.new_since = Some(since),
        Shape::PeersOf => {
            let p = PeersQuery {
                of: x.to_owned(),
                new_since: None,
                action: None,
                limit,
            };
            return s.peers(&p).await.expect("peers").len();
        }
    }
    s.edges(&q).await.expect("edges").len()
}

fn edges_query(c: &mut Criterion) {
    if !TempPostgres::available_or_skip("edges_query bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let pg = TempPostgres::start().expect("temporary PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now();
    let since = now - 86_400;
    let rows = edge_table(NAMESPACES, PEERS, now, DAYS);
    let recent = rows.iter().filter(|(_, d)| d.first_seen >= since).count();

    let mut group = c.benchmark_group("edges_query");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (backend, url) in [
        ("postgres", pg.url()),
        ("sqlite", store::sqlite_url(&dir.path().join("edges.db"))),
    ] {
        let s = rt.block_on(async {
            let s = store::connect(&url).await.expect("connect");
            s.migrate().await.expect("migrate");
            let start = Instant::now();
            for chunk in rows.chunks(BATCH) {
                s.apply(&FlushBatch {
                    edges: chunk.to_vec(),
                    cursor: None,
                })
                .await
                .expect("bulk load");
            }
            if let AnyStore::Postgres(pg) = &s {
                sqlx::query("ANALYZE edge").execute(pg.pool()).await.expect("analyze");
            }
            eprintln!(
                "edges_query/{backend}: loaded {} rows in {:.1?} ({} apply statements of {BATCH})",
                rows.len(),
                start.elapsed(),
                rows.len().div_ceil(BATCH)
            );
            s
        });
        // The filters select what the generator says they select.
        rt.block_on(async {
            let x = edge_table_namespace(NAMESPACES / 2);
            let n = |shape| query(&s, shape, &x, since, MAX_LIMIT);
            assert_eq!(n(Shape::Ns).await, 4 * PEERS);
            assert_eq!(n(Shape::Src).await, 2 * PEERS);
            assert_eq!(n(Shape::Dst).await, 2 * PEERS);
            // Distinct (peer, action): the peers after x and before x, both actions.
            assert_eq!(n(Shape::PeersOf).await, 2 * (2 * PEERS).min(NAMESPACES - 1));
            assert_eq!(n(Shape::NewSince).await, recent);
            eprintln!(
                "edges_query/{backend}: --ns {x}: {} rows, --src {x} --new-since 24h: {} rows, --new-since 24h: {recent} rows",
                4 * PEERS,
                n(Shape::SrcNewSince).await,
            );
        });
        for (name, shape) in SHAPES {
            let next = AtomicUsize::new(0);
            group.bench_function(format!("{backend}/{name}"), |b| {
                b.iter(|| {
                    let x = edge_table_namespace(next.fetch_add(1, Ordering::Relaxed) % NAMESPACES);
                    black_box(rt.block_on(query(&s, shape, &x, since, LIMIT)))
                })
            });
        }
        rt.block_on(s.close());
    }
    group.finish();
}

criterion_group!(benches, edges_query);
criterion_main!(benches);
