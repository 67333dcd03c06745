//! The edge store against both backends: a real PostgreSQL server (`TempPostgres`) and an
//! SQLite file. Every scenario in `on_both!` runs as `<scenario>::sqlite` and
//! `<scenario>::postgres`; the PostgreSQL-only tests (adoption of the original table, the
//! runbook's SQL recipes, outage and reconnect, TLS, password redaction) follow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use homelab_core::flows::query::{EdgeQuery, PeerRow, PeersQuery};
use homelab_core::flows::{Action, EdgeDelta, EdgeKey, EdgeRow, FlushBatch};
use homelab_flows::store::{AnyStore, Backend, EdgeStore, PgStore, StoreError, connect, connect_lazy};
use homelab_testkit::postgres::TempPostgres;
use sqlx::{AssertSqlSafe, Row};

use crate::support::{delta, key};

struct Db {
    store: AnyStore,
    pg: Option<TempPostgres>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/edges.db", dir.path().display());
    let store = connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Db {
        store,
        pg: None,
        _dir: Some(dir),
    }
}

async fn pg_db(test: &str) -> Option<Db> {
    if !TempPostgres::available_or_skip(test) {
        return None;
    }
    let pg = TempPostgres::start().unwrap();
    let store = connect(&pg.url()).await.unwrap();
    store.migrate().await.unwrap();
    Some(Db {
        store,
        pg: Some(pg),
        _dir: None,
    })
}

/// Runs plain SQL (possibly several statements) on the store's own pool.
async fn exec(store: &AnyStore, sql: &str) -> Result<(), sqlx::Error> {
    let sql = AssertSqlSafe(sql.to_owned());
    match store {
        AnyStore::Postgres(s) => sqlx::raw_sql(sql).execute(s.pool()).await.map(drop),
        AnyStore::Sqlite(s) => sqlx::raw_sql(sql).execute(s.pool()).await.map(drop),
    }
}

async fn count(store: &AnyStore, sql: &str) -> i64 {
    let sql = AssertSqlSafe(sql.to_owned());
    match store {
        AnyStore::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap(),
        AnyStore::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap(),
    }
}

fn row(src: &str, dst: &str, action: Action, first_seen: i64, last_seen: i64, flow_count: i64) -> EdgeRow {
    EdgeRow {
        src_ns: src.into(),
        dst_ns: dst.into(),
        action,
        first_seen,
        last_seen,
        flow_count,
    }
}

fn batch(edges: Vec<(EdgeKey, EdgeDelta)>, cursor: Option<i64>) -> FlushBatch {
    let mut edges = edges;
    edges.sort_by(|a, b| a.0.cmp(&b.0));
    FlushBatch { edges, cursor }
}

/// Every row, in the store's order.
async fn all(store: &AnyStore) -> Vec<EdgeRow> {
    store
        .edges(&EdgeQuery {
            limit: 100_000,
            ..EdgeQuery::default()
        })
        .await
        .unwrap()
}

/// Every row, by key (independent of the store's order).
async fn table(store: &AnyStore) -> Vec<EdgeRow> {
    let mut rows = all(store).await;
    rows.sort_by(|a, b| (&a.src_ns, &a.dst_ns, a.action).cmp(&(&b.src_ns, &b.dst_ns, b.action)));
    rows
}

/// Namespaces chosen so byte order and "natural" order could differ (`a-b` < `ab` < `b`).
fn fixture() -> Vec<(EdgeKey, EdgeDelta)> {
    vec![
        (key("a", "b", Action::Allow), delta(100, 200, 5)),
        (key("a", "b", Action::Deny), delta(150, 160, 1)),
        (key("b", "c", Action::Allow), delta(300, 400, 7)),
        (key("b", "c", Action::Deny), delta(300, 300, 1)),
        (key("c", "a", Action::Deny), delta(300, 310, 2)),
        (key("kube-system", "monitoring", Action::Allow), delta(50, 500, 100)),
        (key("monitoring", "kube-system", Action::Pass), delta(400, 450, 3)),
        (key("x", "a", Action::Unspecified), delta(300, 300, 1)),
        (key("a-b", "a", Action::Allow), delta(300, 300, 4)),
        (key("ab", "a", Action::Allow), delta(300, 300, 3)),
    ]
}

fn fixture_rows() -> Vec<EdgeRow> {
    fixture()
        .into_iter()
        .map(|(k, d)| row(&k.src_ns, &k.dst_ns, k.action, d.first_seen, d.last_seen, d.flow_count))
        .collect()
}

/// The reference semantics of `edges`.
fn model_edges(rows: &[EdgeRow], q: &EdgeQuery) -> Vec<EdgeRow> {
    let mut out: Vec<EdgeRow> = rows
        .iter()
        .filter(|r| q.ns.as_ref().is_none_or(|n| &r.src_ns == n || &r.dst_ns == n))
        .filter(|r| q.src.as_ref().is_none_or(|n| &r.src_ns == n))
        .filter(|r| q.dst.as_ref().is_none_or(|n| &r.dst_ns == n))
        .filter(|r| q.new_since.is_none_or(|t| r.first_seen >= t))
        .filter(|r| q.action.is_none_or(|a| r.action == a))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        b.first_seen
            .cmp(&a.first_seen)
            .then_with(|| a.src_ns.cmp(&b.src_ns))
            .then_with(|| a.dst_ns.cmp(&b.dst_ns))
            .then_with(|| a.action.as_str().cmp(b.action.as_str()))
    });
    out.truncate(q.limit as usize);
    out
}

/// The reference semantics of `peers`.
fn model_peers(rows: &[EdgeRow], q: &PeersQuery) -> Vec<PeerRow> {
    let mut out: Vec<PeerRow> = rows
        .iter()
        .filter(|r| r.src_ns == q.of || r.dst_ns == q.of)
        .filter(|r| q.new_since.is_none_or(|t| r.first_seen >= t))
        .filter(|r| q.action.is_none_or(|a| r.action == a))
        .map(|r| PeerRow {
            peer: if r.src_ns == q.of {
                r.dst_ns.clone()
            } else {
                r.src_ns.clone()
            },
            action: r.action,
        })
        .collect();
    out.sort();
    out.dedup();
    out.truncate(q.limit as usize);
    out
}

const HOSTILE: [&str; 9] = [
    "x' OR '1'='1",
    "'; DROP TABLE edge; --",
    "a' --",
    "a\" OR \"\"=\"",
    "%",
    "_",
    "*",
    "a\\",
    "1); DELETE FROM edge; --",
];

mod scenarios {
    use super::*;

    pub async fn empty_store(db: &Db) {
        let s = &db.store;
        assert_eq!(all(s).await, vec![]);
        assert_eq!(s.cursor().await.unwrap(), None);
        assert_eq!(s.observed_since().await.unwrap(), None);
        assert_eq!(s.new_edges(0, 10).await.unwrap(), vec![]);
        let peers = PeersQuery {
            of: "a".into(),
            new_since: None,
            action: None,
            limit: 10,
        };
        assert_eq!(s.peers(&peers).await.unwrap(), vec![]);
        s.ping().await.unwrap();
        // An empty batch touches nothing.
        s.apply(&FlushBatch::default()).await.unwrap();
        s.upsert_each(&[]).await.unwrap();
        assert_eq!(s.cursor().await.unwrap(), None);
    }

    pub async fn migrate_twice_is_idempotent(db: &Db) {
        let s = &db.store;
        s.apply(&batch(vec![(key("a", "b", Action::Allow), delta(1, 2, 3))], Some(2)))
            .await
            .unwrap();
        s.migrate().await.unwrap();
        s.migrate().await.unwrap();
        // A second process starting up against the same database.
        let url = match s {
            AnyStore::Postgres(_) => db.pg.as_ref().unwrap().url(),
            AnyStore::Sqlite(x) => format!("sqlite://{}", x.path().unwrap().display()),
        };
        let other = connect(&url).await.unwrap();
        other.migrate().await.unwrap();
        assert_eq!(count(s, "SELECT count(*) FROM _sqlx_migrations").await, 2);
        assert_eq!(table(&other).await, vec![row("a", "b", Action::Allow, 1, 2, 3)]);
        assert_eq!(other.cursor().await.unwrap(), Some(2));
        other.close().await;
    }

    pub async fn apply_merges_min_max_sum(db: &Db) {
        let s = &db.store;
        let ab = key("a", "b", Action::Allow);
        let abd = key("a", "b", Action::Deny);
        let bc = key("b", "c", Action::Allow);
        s.apply(&batch(
            vec![(ab.clone(), delta(100, 115, 2)), (abd.clone(), delta(100, 115, 1))],
            Some(115),
        ))
        .await
        .unwrap();
        // Later bucket for ab; an EARLIER first_seen arriving late for abd; a new edge.
        s.apply(&batch(
            vec![
                (ab.clone(), delta(115, 130, 3)),
                (abd.clone(), delta(40, 60, 4)),
                (bc.clone(), delta(130, 145, 1)),
            ],
            Some(145),
        ))
        .await
        .unwrap();
        assert_eq!(
            table(s).await,
            vec![
                row("a", "b", Action::Allow, 100, 130, 5),
                row("a", "b", Action::Deny, 40, 115, 5),
                row("b", "c", Action::Allow, 130, 145, 1),
            ]
        );
        assert_eq!(s.cursor().await.unwrap(), Some(145));
        // Duplicate keys inside one batch are merged, not rejected.
        let dup = FlushBatch {
            edges: vec![(bc.clone(), delta(200, 210, 1)), (bc.clone(), delta(10, 20, 1))],
            cursor: None,
        };
        s.apply(&dup).await.unwrap();
        assert!(table(s).await.contains(&row("b", "c", Action::Allow, 10, 210, 3)));
        // flow_count saturates instead of failing the flush.
        s.apply(&batch(vec![(bc.clone(), delta(200, 210, i64::MAX))], None))
            .await
            .unwrap();
        assert!(
            table(s)
                .await
                .contains(&row("b", "c", Action::Allow, 10, 210, i64::MAX))
        );
        assert_eq!(s.observed_since().await.unwrap(), Some(10));
    }

    pub async fn cursor_only_and_monotonic(db: &Db) {
        let s = &db.store;
        s.apply(&batch(vec![], Some(1_000))).await.unwrap();
        assert_eq!(s.cursor().await.unwrap(), Some(1_000));
        assert_eq!(all(s).await, vec![]);
        s.apply(&batch(vec![], Some(1_015))).await.unwrap();
        assert_eq!(s.cursor().await.unwrap(), Some(1_015));
        // An older cursor never moves it back (a resume would double-count).
        s.apply(&batch(vec![(key("a", "b", Action::Allow), delta(1, 2, 1))], Some(900)))
            .await
            .unwrap();
        assert_eq!(s.cursor().await.unwrap(), Some(1_015));
        assert_eq!(all(s).await.len(), 1);
        // Edges without a cursor leave it alone.
        s.apply(&batch(vec![(key("a", "b", Action::Allow), delta(1, 2, 1))], None))
            .await
            .unwrap();
        assert_eq!(s.cursor().await.unwrap(), Some(1_015));
        assert_eq!(count(s, "SELECT count(*) FROM edge_stream_cursor").await, 1);
    }

    pub async fn failed_batch_changes_nothing(db: &Db) {
        let s = &db.store;
        let first = batch(vec![(key("a", "b", Action::Allow), delta(100, 115, 2))], Some(115));
        s.apply(&first).await.unwrap();
        let before = table(s).await;
        let second = batch(
            vec![
                (key("a", "b", Action::Allow), delta(115, 130, 3)),
                (key("b", "c", Action::Deny), delta(115, 130, 1)),
            ],
            Some(130),
        );
        let pg = matches!(s, AnyStore::Postgres(_));
        let (fail_cursor, fail_edge, clear) = if pg {
            (
                "CREATE FUNCTION fail_injected() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                 CREATE TRIGGER fail_cursor BEFORE INSERT OR UPDATE ON edge_stream_cursor \
                 FOR EACH ROW EXECUTE FUNCTION fail_injected();",
                "CREATE TRIGGER fail_edge BEFORE INSERT OR UPDATE ON edge \
                 FOR EACH ROW EXECUTE FUNCTION fail_injected();",
                "DROP TRIGGER IF EXISTS fail_cursor ON edge_stream_cursor; DROP TRIGGER IF EXISTS fail_edge ON edge;",
            )
        } else {
            (
                "CREATE TRIGGER fail_cursor_i BEFORE INSERT ON edge_stream_cursor BEGIN SELECT RAISE(ABORT, 'injected failure'); END; \
                 CREATE TRIGGER fail_cursor_u BEFORE UPDATE ON edge_stream_cursor BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                "CREATE TRIGGER fail_edge_i BEFORE INSERT ON edge BEGIN SELECT RAISE(ABORT, 'injected failure'); END; \
                 CREATE TRIGGER fail_edge_u BEFORE UPDATE ON edge BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                "DROP TRIGGER IF EXISTS fail_cursor_i; DROP TRIGGER IF EXISTS fail_cursor_u; \
                 DROP TRIGGER IF EXISTS fail_edge_i; DROP TRIGGER IF EXISTS fail_edge_u;",
            )
        };
        // The cursor write fails after the edges were upserted: the edges roll back too.
        exec(s, fail_cursor).await.unwrap();
        let e = s.apply(&second).await.unwrap_err();
        let text = e.to_string();
        eprintln!("{text}");
        assert!(
            !e.is_unavailable() && text.contains("injected failure") && text.contains("apply"),
            "{text}"
        );
        assert!(
            text.starts_with(if pg { "postgres store" } else { "sqlite store" }),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        assert_eq!(table(s).await, before);
        assert_eq!(s.cursor().await.unwrap(), Some(115));
        // The edge write fails: the cursor does not move.
        exec(s, clear).await.unwrap();
        exec(s, fail_edge).await.unwrap();
        s.apply(&second).await.unwrap_err();
        assert_eq!(table(s).await, before);
        assert_eq!(s.cursor().await.unwrap(), Some(115));
        // Retrying the same batch once the cause is gone applies it exactly once.
        exec(s, clear).await.unwrap();
        s.apply(&second).await.unwrap();
        assert_eq!(
            table(s).await,
            vec![
                row("a", "b", Action::Allow, 100, 130, 5),
                row("b", "c", Action::Deny, 115, 130, 1)
            ]
        );
        assert_eq!(s.cursor().await.unwrap(), Some(130));
    }

    pub async fn upsert_each_matches_apply(db: &Db) {
        let s = &db.store;
        let batches: Vec<FlushBatch> = (0..6i64)
            .map(|i| {
                let edges = fixture()
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| (*j as i64 + i) % 3 != 0)
                    .map(|(_, (k, d))| {
                        (
                            k,
                            delta(d.first_seen + 7 * i - 20, d.last_seen + 11 * i, d.flow_count + i),
                        )
                    })
                    .collect();
                batch(edges, Some(1_000 + i))
            })
            .collect();
        for b in &batches {
            s.apply(b).await.unwrap();
        }
        let via_apply = table(s).await;
        exec(s, "DELETE FROM edge").await.unwrap();
        for b in &batches {
            s.upsert_each(&b.edges).await.unwrap();
        }
        assert_eq!(table(s).await, via_apply);
        assert_eq!(s.cursor().await.unwrap(), Some(1_005));
    }

    pub async fn queries_every_filter_combination(db: &Db) {
        let s = &db.store;
        s.apply(&batch(fixture(), Some(600))).await.unwrap();
        let rows = fixture_rows();
        let mut checked = 0;
        for ns in [None, Some("a"), Some("b"), Some("monitoring"), Some("zzz")] {
            for src in [None, Some("a"), Some("c"), Some("kube-system")] {
                for dst in [None, Some("a"), Some("b")] {
                    for new_since in [None, Some(150), Some(300), Some(301), Some(10_000)] {
                        for action in [None, Some(Action::Allow), Some(Action::Deny), Some(Action::Unspecified)] {
                            for limit in [1, 2, 200] {
                                let q = EdgeQuery {
                                    ns: ns.map(Into::into),
                                    src: src.map(Into::into),
                                    dst: dst.map(Into::into),
                                    new_since,
                                    action,
                                    limit,
                                };
                                assert_eq!(s.edges(&q).await.unwrap(), model_edges(&rows, &q), "{q:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 4 * 3 * 5 * 4 * 3);
        // Spelled out: newest first, ties by src, dst, action (byte order: a-b < ab < b).
        let q = |f: fn(&mut EdgeQuery)| {
            let mut q = EdgeQuery {
                limit: 200,
                ..EdgeQuery::default()
            };
            f(&mut q);
            q
        };
        let got = s.edges(&q(|q| q.new_since = Some(300))).await.unwrap();
        let keys: Vec<_> = got
            .iter()
            .map(|r| format!("{}>{}:{}", r.src_ns, r.dst_ns, r.action))
            .collect();
        assert_eq!(
            keys,
            [
                "monitoring>kube-system:pass",
                "a-b>a:allow",
                "ab>a:allow",
                "b>c:allow",
                "b>c:deny",
                "c>a:deny",
                "x>a:unspecified"
            ]
        );
        // --ns a: either direction.
        let got = s.edges(&q(|q| q.ns = Some("a".into()))).await.unwrap();
        assert_eq!(got.len(), 6);
        assert!(got.iter().all(|r| r.src_ns == "a" || r.dst_ns == "a"));
        // --denied.
        let got = s.edges(&q(|q| q.action = Some(Action::Deny))).await.unwrap();
        assert_eq!(
            got,
            vec![
                row("b", "c", Action::Deny, 300, 300, 1),
                row("c", "a", Action::Deny, 300, 310, 2),
                row("a", "b", Action::Deny, 150, 160, 1)
            ]
        );
        // --src a --dst b --denied --new-since 100 --limit 1.
        let got = s
            .edges(&q(|q| {
                q.src = Some("a".into());
                q.dst = Some("b".into());
                q.action = Some(Action::Deny);
                q.new_since = Some(100);
                q.limit = 1;
            }))
            .await
            .unwrap();
        assert_eq!(got, vec![row("a", "b", Action::Deny, 150, 160, 1)]);
        // limit 0 = the default cap, not "nothing".
        assert_eq!(s.edges(&q(|q| q.limit = 0)).await.unwrap().len(), rows.len());
        // The digest.
        assert_eq!(
            s.new_edges(400, 200).await.unwrap(),
            vec![row("monitoring", "kube-system", Action::Pass, 400, 450, 3)]
        );
        assert_eq!(
            s.new_edges(0, 3).await.unwrap(),
            model_edges(&rows, &q(|q| q.limit = 3))
        );
        assert_eq!(s.observed_since().await.unwrap(), Some(50));
    }

    pub async fn peers_every_filter_combination(db: &Db) {
        let s = &db.store;
        s.apply(&batch(fixture(), None)).await.unwrap();
        let rows = fixture_rows();
        for of in ["a", "b", "c", "kube-system", "monitoring", "zzz"] {
            for new_since in [None, Some(150), Some(300), Some(10_000)] {
                for action in [None, Some(Action::Allow), Some(Action::Deny), Some(Action::Pass)] {
                    for limit in [1, 3, 200] {
                        let q = PeersQuery {
                            of: of.into(),
                            new_since,
                            action,
                            limit,
                        };
                        assert_eq!(s.peers(&q).await.unwrap(), model_peers(&rows, &q), "{q:?}");
                    }
                }
            }
        }
        let q = PeersQuery {
            of: "a".into(),
            new_since: None,
            action: None,
            limit: 200,
        };
        let got: Vec<String> = s
            .peers(&q)
            .await
            .unwrap()
            .iter()
            .map(|p| format!("{}:{}", p.peer, p.action))
            .collect();
        assert_eq!(
            got,
            ["a-b:allow", "ab:allow", "b:allow", "b:deny", "c:deny", "x:unspecified"]
        );
    }

    pub async fn injection_attempts_are_plain_values(db: &Db) {
        let s = &db.store;
        s.apply(&batch(fixture(), Some(600))).await.unwrap();
        let n = fixture().len();
        for bad in HOSTILE {
            let q = EdgeQuery {
                ns: Some(bad.into()),
                limit: 200,
                ..EdgeQuery::default()
            };
            assert_eq!(s.edges(&q).await.unwrap(), vec![], "--ns {bad}");
            for q in [
                EdgeQuery {
                    src: Some(bad.into()),
                    limit: 200,
                    ..EdgeQuery::default()
                },
                EdgeQuery {
                    dst: Some(bad.into()),
                    limit: 200,
                    ..EdgeQuery::default()
                },
                EdgeQuery {
                    ns: Some("a".into()),
                    src: Some(bad.into()),
                    dst: Some(bad.into()),
                    new_since: Some(0),
                    action: Some(Action::Allow),
                    limit: 200,
                },
            ] {
                assert_eq!(s.edges(&q).await.unwrap(), vec![], "{q:?}");
            }
            let p = PeersQuery {
                of: bad.into(),
                new_since: None,
                action: None,
                limit: 200,
            };
            assert_eq!(s.peers(&p).await.unwrap(), vec![], "--peers-of {bad}");
        }
        assert_eq!(all(s).await.len(), n, "the table survived");
        // Hostile strings as stored values (the store does not validate; the CLI does) are
        // written and read back verbatim, and are found by exact match only.
        let hostile: Vec<_> = HOSTILE
            .iter()
            .map(|h| (key(h, "victim", Action::Deny), delta(700, 700, 1)))
            .collect();
        s.apply(&batch(hostile.clone(), None)).await.unwrap();
        s.upsert_each(&batch(hostile, None).edges).await.unwrap();
        assert_eq!(all(s).await.len(), n + HOSTILE.len());
        for bad in HOSTILE {
            let q = EdgeQuery {
                src: Some(bad.into()),
                limit: 200,
                ..EdgeQuery::default()
            };
            assert_eq!(
                s.edges(&q).await.unwrap(),
                vec![row(bad, "victim", Action::Deny, 700, 700, 2)],
                "{bad}"
            );
        }
        assert_eq!(count(s, "SELECT count(*) FROM edge").await, (n + HOSTILE.len()) as i64);
    }

    /// 30 000 edges in one flush: one statement, whatever the backend's bind-parameter limit.
    pub async fn large_batch_in_one_statement(db: &Db) {
        let s = &db.store;
        let edges: Vec<_> = (0..30_000)
            .map(|i| {
                (
                    key(&format!("ns-{}", i / 100), &format!("peer-{}", i % 100), Action::Allow),
                    delta(i, i + 15, 1),
                )
            })
            .collect();
        let flush = batch(edges, Some(30_015));
        s.apply(&flush).await.unwrap();
        s.apply(&flush).await.unwrap();
        assert_eq!(count(s, "SELECT count(*) FROM edge").await, 30_000);
        assert_eq!(
            count(s, "SELECT CAST(sum(flow_count) AS BIGINT) FROM edge").await,
            60_000
        );
        assert_eq!(s.cursor().await.unwrap(), Some(30_015));
        assert_eq!(s.new_edges(29_990, 5).await.unwrap().len(), 5);
    }

    pub async fn concurrent_flushes_from_spawned_tasks(db: &Db) {
        let store = Arc::new(
            connect(&match &db.store {
                AnyStore::Postgres(_) => db.pg.as_ref().unwrap().url(),
                AnyStore::Sqlite(x) => format!("sqlite://{}", x.path().unwrap().display()),
            })
            .await
            .unwrap(),
        );
        let tasks: Vec<_> = (0..4i64)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0..15i64 {
                        let edges = fixture()
                            .into_iter()
                            .map(|(k, _)| (k, delta(1_000 + i, 2_000 + t, 1)))
                            .collect();
                        store.apply(&batch(edges, Some(3_000 + t * 100 + i))).await?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let rows = table(&store).await;
        assert_eq!(rows.len(), fixture().len());
        assert!(
            rows.iter()
                .all(|r| r.flow_count == 60 && r.first_seen == 1_000 && r.last_seen == 2_003),
            "{rows:?}"
        );
        assert_eq!(store.cursor().await.unwrap(), Some(3_314));
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = sqlite_db().await;
                scenarios::$name(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = pg_db(concat!(stringify!($name), "::postgres")).await else { return };
                scenarios::$name(&db).await;
            }
        }
    )*};
}

on_both!(
    empty_store,
    migrate_twice_is_idempotent,
    apply_merges_min_max_sum,
    cursor_only_and_monotonic,
    failed_batch_changes_nothing,
    upsert_each_matches_apply,
    queries_every_filter_combination,
    peers_every_filter_combination,
    injection_attempts_are_plain_values,
    concurrent_flushes_from_spawned_tasks,
    large_batch_in_one_statement,
);

// ---------------------------------------------------------------------------------------
// PostgreSQL only.

/// The original aggregator's table (and rows it wrote: microsecond timestamps), created by
/// plain SQL with no `_sqlx_migrations`: `migrate` adopts it and keeps the rows.
#[tokio::test]
async fn postgres_adopts_an_existing_original_table() {
    if !TempPostgres::available_or_skip("postgres_adopts_an_existing_original_table") {
        return;
    }
    let pg = TempPostgres::start().unwrap();
    for (db, ddl) in [
        (
            "with_constraints",
            "CREATE TABLE edge (src_ns text NOT NULL, dst_ns text NOT NULL, action text NOT NULL, \
             first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, flow_count bigint NOT NULL DEFAULT 0, \
             PRIMARY KEY (src_ns, dst_ns, action))",
        ),
        (
            "as_in_the_runbook",
            "CREATE TABLE edge (src_ns text, dst_ns text, action text, first_seen timestamptz, \
             last_seen timestamptz, flow_count bigint, PRIMARY KEY (src_ns, dst_ns, action))",
        ),
    ] {
        let url = pg.create_database(db).unwrap();
        let raw = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "{ddl}; INSERT INTO edge VALUES \
             ('a', 'b', 'allow', '2026-06-27 08:00:00.250+00', '2026-06-28 08:00:00.999+00', 41), \
             ('c', 'a', 'deny',  '2026-06-28 09:30:00+00',     '2026-06-28 09:45:00+00',     2);"
        )))
        .execute(&raw)
        .await
        .unwrap();
        let store = connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let t0 = 1_782_547_200; // 2026-06-27T08:00:00Z
        assert_eq!(
            table(&store).await,
            vec![
                row("a", "b", Action::Allow, t0, t0 + 86_400, 41),
                row("c", "a", Action::Deny, 1_782_639_000, 1_782_639_900, 2)
            ],
            "{db}"
        );
        // Writes merge into the adopted rows.
        store
            .apply(&batch(
                vec![(key("a", "b", Action::Allow), delta(t0 - 60, t0 + 90_000, 1))],
                Some(t0 + 90_000),
            ))
            .await
            .unwrap();
        assert!(
            table(&store)
                .await
                .contains(&row("a", "b", Action::Allow, t0 - 60, t0 + 90_000, 42)),
            "{db}"
        );
        let indexes: Vec<String> =
            sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE tablename = 'edge' ORDER BY 1")
                .fetch_all(&raw)
                .await
                .unwrap();
        assert_eq!(indexes, ["edge_dst_ns_idx", "edge_first_seen_idx", "edge_pkey"], "{db}");
        let migrations: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(migrations, 2);
        store.close().await;
        raw.close().await;
    }
}

/// The runbook's SQL recipes (the original runbook's SQL recipes for the edge table,
/// verbatim apart from `<ns>`) still run against
/// the table the store writes, and agree with the store's own queries.
#[tokio::test]
async fn postgres_runbook_recipes_still_work() {
    let Some(db) = pg_db("postgres_runbook_recipes_still_work").await else {
        return;
    };
    let s = &db.store;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut edges = fixture();
    // Two edges first seen within the last 24 hours.
    edges.push((key("b", "monitoring", Action::Allow), delta(now - 3_600, now - 60, 9)));
    edges.push((key("monitoring", "b", Action::Deny), delta(now - 7_200, now - 7_000, 1)));
    s.apply(&batch(edges, Some(now))).await.unwrap();
    let AnyStore::Postgres(pgs) = s else { unreachable!() };
    let pool = pgs.pool();
    let texts = |sql: &'static str| async move {
        let rows = sqlx::query(sql)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>()
    };
    // Inbound (most-active first).
    assert_eq!(
        texts("SELECT src_ns, action, flow_count, first_seen, last_seen FROM edge WHERE dst_ns = 'a' ORDER BY flow_count DESC;")
            .await,
        ["a-b", "ab", "c", "x"]
    );
    // Outbound.
    assert_eq!(
        texts("SELECT dst_ns, action, flow_count, first_seen, last_seen FROM edge WHERE src_ns = 'b' ORDER BY last_seen DESC;")
            .await,
        ["monitoring", "c", "c"]
    );
    // New in the last 24h (= the digest) — and the store's digest query agrees.
    let recent = texts(
        "SELECT src_ns, dst_ns, action, flow_count, first_seen FROM edge WHERE first_seen > now() - interval '24 hours' ORDER BY first_seen DESC;",
    )
    .await;
    assert_eq!(recent, ["b", "monitoring"]);
    let digest: Vec<String> = s
        .new_edges(now - 86_400, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.src_ns)
        .collect();
    assert_eq!(digest, recent);
    // Denied.
    assert_eq!(
        texts("SELECT src_ns, dst_ns, flow_count, last_seen FROM edge WHERE action = 'deny' ORDER BY last_seen DESC;")
            .await,
        ["monitoring", "c", "b", "a"]
    );
    // Adjacency list.
    assert_eq!(
        texts("SELECT src_ns, dst_ns, action, flow_count FROM edge ORDER BY src_ns, dst_ns;")
            .await
            .len(),
        12
    );
    // Egress allowlist, one namespace.
    assert_eq!(
        texts("SELECT DISTINCT dst_ns FROM edge WHERE src_ns = 'b' AND action = 'allow' ORDER BY dst_ns;").await,
        ["c", "monitoring"]
    );
    // Egress allowlist matrix.
    let matrix = sqlx::query(
        "SELECT src_ns, array_agg(DISTINCT dst_ns ORDER BY dst_ns) AS allowed_dst_ns FROM edge WHERE action = 'allow' GROUP BY src_ns ORDER BY src_ns;",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let matrix: Vec<(String, Vec<String>)> = matrix
        .iter()
        .map(|r| (r.get("src_ns"), r.get("allowed_dst_ns")))
        .collect();
    assert_eq!(
        matrix,
        vec![
            ("a".into(), vec!["b".into()]),
            ("a-b".into(), vec!["a".into()]),
            ("ab".into(), vec!["a".into()]),
            ("b".into(), vec!["c".into(), "monitoring".into()]),
            ("kube-system".into(), vec!["monitoring".into()]),
        ]
    );
    // Sanity: denied pairs.
    assert_eq!(
        sqlx::query("SELECT DISTINCT src_ns, dst_ns FROM edge WHERE action = 'deny';")
            .fetch_all(pool)
            .await
            .unwrap()
            .len(),
        4
    );
}

/// The database goes away: operations fail fast with "unavailable" (no panic, no hang), and
/// the same store works again once the server is back (the pool reconnects).
#[tokio::test]
async fn postgres_outage_fails_fast_and_recovers() {
    let Some(mut db) = pg_db("postgres_outage_fails_fast_and_recovers").await else {
        return;
    };
    let b = |i: i64| {
        batch(
            vec![(key("a", "b", Action::Allow), delta(100 + i, 200 + i, 1))],
            Some(200 + i),
        )
    };
    db.store.apply(&b(0)).await.unwrap();
    db.pg.as_mut().unwrap().stop().unwrap();

    let started = Instant::now();
    let e = db.store.apply(&b(1)).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("apply during the outage ({took:?}): {e}");
    assert!(e.is_unavailable(), "{e}");
    assert!(took < Duration::from_secs(12), "apply took {took:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("postgres store 127.0.0.1:") && text.contains("apply") && !text.contains('\n'),
        "{text}"
    );
    assert!(db.store.ping().await.unwrap_err().is_unavailable());
    assert!(db.store.edges(&EdgeQuery::default()).await.is_err());

    db.pg.as_mut().unwrap().restart().unwrap();
    db.store.ping().await.unwrap();
    db.store.apply(&b(2)).await.unwrap();
    assert_eq!(table(&db.store).await, vec![row("a", "b", Action::Allow, 100, 202, 2)]);
    assert_eq!(db.store.cursor().await.unwrap(), Some(202));
}

/// A password in the URL appears in no error, `Debug` output or message, whatever fails.
#[tokio::test]
async fn postgres_password_never_in_errors() {
    const PW: &str = "S3cret-Pa55word";
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let urls = [
        format!("postgres://edges:{PW}@127.0.0.1:{closed_port}/goldmane_edges"),
        format!("postgresql://edges:{PW}@127.0.0.1:{closed_port}/goldmane_edges?sslmode=require"),
        format!("postgres://127.0.0.1:{closed_port}/goldmane_edges?user=edges&password={PW}"),
    ];
    for url in &urls {
        let started = Instant::now();
        let e = connect(url).await.unwrap_err();
        eprintln!("{e}");
        assert!(started.elapsed() < Duration::from_secs(12));
        assert!(e.is_unavailable(), "{e}");
        assert_eq!(e.backend(), Some(Backend::Postgres));
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(PW), "{text}");
            assert!(
                text.contains(&format!("127.0.0.1:{closed_port}/goldmane_edges")),
                "{text}"
            );
        }
        let lazy = connect_lazy(url).unwrap();
        assert!(!format!("{lazy:?}").contains(PW));
        if url == &urls[0] {
            let e = lazy.ping().await.unwrap_err();
            assert!(!e.to_string().contains(PW) && !format!("{e:?}").contains(PW), "{e}");
        }
    }
    for bad in [
        format!("postgres://edges:{PW}@127.0.0.1:notaport/goldmane_edges"),
        format!("postgres://edges:{PW}@127.0.0.1/db?sslmode=bogus"),
        format!("postgres://edges:{PW}@[::1/db"),
        format!("mysql://edges:{PW}@127.0.0.1/db"),
    ] {
        let e = connect(&bad).await.unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, StoreError::Url { .. }), "{e}");
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(PW) && text.contains("***"), "{text}");
        }
    }
    // Against a live server too (trust authentication ignores the password).
    if TempPostgres::available_or_skip("postgres_password_never_in_errors (live part)") {
        let pg = TempPostgres::start().unwrap();
        let url = format!("postgres://postgres:{PW}@127.0.0.1:{}/no_such_database", pg.port());
        let e = connect(&url).await.unwrap_err();
        let text = e.to_string();
        assert!(
            !e.is_unavailable() && text.contains("no_such_database") && !text.contains(PW),
            "{text}"
        );
        let good = PgStore::connect(&format!(
            "postgres://postgres:{PW}@127.0.0.1:{}/goldmane_edges",
            pg.port()
        ))
        .await
        .unwrap();
        assert!(!format!("{good:?}").contains(PW));
        good.migrate().await.unwrap();
        // A failing statement.
        let e = good
            .upsert_each(&[(key("a", "b", Action::Allow), delta(i64::MAX, 0, 1))])
            .await
            .unwrap_err();
        assert!(!e.is_unavailable() && !e.to_string().contains(PW), "{e}");
    }
}

/// TLS with rustls: `sslmode=verify-full` + `sslrootcert` accepts the server signed by that
/// CA and refuses one signed by another; `sslmode=require` encrypts without verifying.
#[tokio::test]
async fn postgres_tls_honours_sslmode_and_sslrootcert() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    if !TempPostgres::available_or_skip("postgres_tls_honours_sslmode_and_sslrootcert") {
        return;
    }
    let ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    };
    let (good_ca, other_ca) = (ca("edges test CA"), ca("someone else"));
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &good_ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (good_pem, other_pem) = (dir.path().join("ca.crt"), dir.path().join("other.crt"));
    std::fs::write(&good_pem, good_ca.pem()).unwrap();
    std::fs::write(&other_pem, other_ca.pem()).unwrap();

    let mut pg = TempPostgres::start().unwrap();
    pg.enable_tls(&server.pem(), &server_key.serialize_pem()).unwrap();
    let base = pg.url();
    let ssl_in_use = |store: PgStore| async move {
        let on: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        on
    };

    let verified = PgStore::connect(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        good_pem.display()
    ))
    .await
    .unwrap();
    assert!(ssl_in_use(verified).await);
    let required = PgStore::connect(&format!("{base}?sslmode=require")).await.unwrap();
    assert!(ssl_in_use(required).await);
    let plain = PgStore::connect(&format!("{base}?sslmode=disable")).await.unwrap();
    assert!(!ssl_in_use(plain).await);

    let started = Instant::now();
    let e = PgStore::connect(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other_pem.display()
    ))
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(12));
    let text = e.to_string();
    assert!(
        text.to_lowercase().contains("tls") || text.contains("certificate"),
        "{text}"
    );
}

/// Runs a script with the argv `homelab_k8s::PsqlTarget::command` runs in the CNPG pod
/// (script on stdin, the database being the temporary server's URL), here against the
/// temporary server.
fn run_psql(pg: &TempPostgres, script: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let psql = [pg.bin_dir_in_use().join("psql"), "/usr/bin/psql".into()]
        .into_iter()
        .find(|p| p.exists())
        .expect("psql next to the server binaries");
    let argv = homelab_k8s::PsqlTarget {
        database: pg.url(),
        ..homelab_k8s::PsqlTarget::default()
    }
    .command();
    assert_eq!(argv[0], "psql");
    for arg in &argv {
        for line in script.lines().filter(|l| !l.trim().is_empty()) {
            assert!(!arg.contains(line), "the script reached argv: {arg}");
        }
    }
    let mut child = Command::new(psql)
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "psql failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `homelab edges` through the CNPG pod: the psql scripts give exactly what the store's own
/// queries give, and hostile values stay values.
#[tokio::test]
async fn postgres_psql_scripts_match_the_store() {
    use homelab_flows::store::psql;
    let Some(db) = pg_db("postgres_psql_scripts_match_the_store").await else {
        return;
    };
    let pg = db.pg.as_ref().unwrap();
    let s = &db.store;
    assert_eq!(
        psql::parse_optional_i64(&run_psql(pg, psql::OBSERVED_SINCE_SCRIPT)).unwrap(),
        None
    );
    let empty = EdgeQuery {
        limit: 10,
        ..EdgeQuery::default()
    };
    assert_eq!(
        psql::parse_edges(&run_psql(pg, &psql::edges_script(&empty))).unwrap(),
        vec![]
    );

    let mut edges = fixture();
    // Values that would break a naive `|`-separated or line-based parser.
    edges.push((key("pipe|ns", "new\nline", Action::Deny), delta(350, 360, 1)));
    s.apply(&batch(edges, Some(600))).await.unwrap();
    assert_eq!(
        psql::parse_optional_i64(&run_psql(pg, psql::OBSERVED_SINCE_SCRIPT)).unwrap(),
        Some(50)
    );

    for ns in [None, Some("a"), Some("zzz")] {
        for src in [None, Some("a")] {
            for dst in [None, Some("b")] {
                for new_since in [None, Some(300)] {
                    for action in [None, Some(Action::Deny)] {
                        for limit in [2, 200] {
                            let q = EdgeQuery {
                                ns: ns.map(Into::into),
                                src: src.map(Into::into),
                                dst: dst.map(Into::into),
                                new_since,
                                action,
                                limit,
                            };
                            let via_psql = psql::parse_edges(&run_psql(pg, &psql::edges_script(&q))).unwrap();
                            assert_eq!(via_psql, s.edges(&q).await.unwrap(), "{q:?}");
                        }
                    }
                }
            }
        }
    }
    for of in ["a", "b", "pipe|ns", "zzz"] {
        for new_since in [None, Some(300)] {
            for action in [None, Some(Action::Allow)] {
                for limit in [1, 200] {
                    let q = PeersQuery {
                        of: of.into(),
                        new_since,
                        action,
                        limit,
                    };
                    let via_psql = psql::parse_peers(&run_psql(pg, &psql::peers_script(&q))).unwrap();
                    assert_eq!(via_psql, s.peers(&q).await.unwrap(), "{q:?}");
                }
            }
        }
    }
    let q = EdgeQuery {
        src: Some("pipe|ns".into()),
        limit: 10,
        ..EdgeQuery::default()
    };
    assert_eq!(
        psql::parse_edges(&run_psql(pg, &psql::edges_script(&q))).unwrap(),
        vec![row("pipe|ns", "new\nline", Action::Deny, 350, 360, 1)]
    );
    for bad in HOSTILE
        .iter()
        .chain(&["a\\", "\\'; SELECT 1; --", ":'ns'", "\\! echo pwned"])
    {
        for q in [
            EdgeQuery {
                ns: Some((*bad).into()),
                limit: 10,
                ..EdgeQuery::default()
            },
            EdgeQuery {
                src: Some((*bad).into()),
                dst: Some((*bad).into()),
                limit: 10,
                ..EdgeQuery::default()
            },
        ] {
            assert_eq!(
                psql::parse_edges(&run_psql(pg, &psql::edges_script(&q))).unwrap(),
                vec![],
                "{bad}"
            );
        }
        let p = PeersQuery {
            of: (*bad).into(),
            new_since: None,
            action: None,
            limit: 10,
        };
        assert_eq!(
            psql::parse_peers(&run_psql(pg, &psql::peers_script(&p))).unwrap(),
            vec![],
            "{bad}"
        );
    }
    assert_eq!(count(s, "SELECT count(*) FROM edge").await, 11, "the table survived");
}
