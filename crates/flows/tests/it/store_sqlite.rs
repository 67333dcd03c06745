//! SQLite specifics: the embedded file (created with its directories, private modes, WAL,
//! busy timeout, persisted across reopen, shared by two processes' pools), in-memory
//! databases, URL errors, and the property that how deltas are grouped into flushes does
//! not change the table.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use homelab_core::flows::query::EdgeQuery;
use homelab_core::flows::{Action, EdgeDelta, EdgeKey, EdgeRow, FlushBatch};
use homelab_flows::store::{
    AnyStore, Backend, EdgeStore, SqliteStore, StoreError, connect, default_sqlite_url, sqlite_url,
};
use proptest::prelude::*;

use crate::support::{delta, key};

async fn all<S: EdgeStore>(s: &S) -> Vec<EdgeRow> {
    let mut rows = s
        .edges(&EdgeQuery {
            limit: 100_000,
            ..EdgeQuery::default()
        })
        .await
        .unwrap();
    rows.sort_by(|a, b| (&a.src_ns, &a.dst_ns, a.action).cmp(&(&b.src_ns, &b.dst_ns, b.action)));
    rows
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn file_is_created_with_missing_parents_and_private_modes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state/homelab/deeper/goldmane-edges.db");
    let url = format!("sqlite://{}", db.display());
    assert!(url.starts_with("sqlite:///"), "absolute path URL: {url}");
    let store = connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.target(), db.display().to_string());
    store.migrate().await.unwrap();
    assert!(db.is_file());
    assert_eq!(mode(&db), 0o600);
    for created in ["state", "state/homelab", "state/homelab/deeper"] {
        assert_eq!(mode(&dir.path().join(created)), 0o700, "{created}");
    }
    let AnyStore::Sqlite(s) = &store else { unreachable!() };
    assert_eq!(s.path(), Some(db.as_path()));
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(busy, 5_000);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "edge",
            "edge_dst_ns_idx",
            "edge_first_seen_idx",
            "edge_stream_cursor"
        ]
    );

    // Persisted across close and reopen (also through `SqliteStore::open` and its URL).
    let batch = FlushBatch {
        edges: vec![(key("a", "b", Action::Allow), delta(10, 20, 3))],
        cursor: Some(20),
    };
    store.apply(&batch).await.unwrap();
    store.close().await;
    let again = SqliteStore::open(&db).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(all(&again).await.len(), 1);
    assert_eq!(again.cursor().await.unwrap(), Some(20));
    // An existing file keeps its mode.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    again.close().await;
    SqliteStore::open(&db).await.unwrap().close().await;
    assert_eq!(mode(&db), 0o640);
}

#[tokio::test]
async fn awkward_paths_round_trip_through_urls() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("with space/odd?name#%.db");
    let store = connect(&sqlite_url(&db)).await.unwrap();
    store.migrate().await.unwrap();
    assert!(db.is_file(), "{}", sqlite_url(&db));
    assert!(default_sqlite_url().starts_with("sqlite://") && default_sqlite_url().ends_with("/goldmane-edges.db"));
}

#[tokio::test]
async fn in_memory_databases_are_private_and_usable() {
    let a = connect("sqlite::memory:").await.unwrap();
    let b = SqliteStore::in_memory().await.unwrap();
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    a.apply(&FlushBatch {
        edges: vec![(key("a", "b", Action::Deny), delta(1, 2, 1))],
        cursor: Some(2),
    })
    .await
    .unwrap();
    assert_eq!(all(&a).await.len(), 1);
    assert_eq!(all(&b).await.len(), 0);
    assert_eq!(a.target(), ":memory:");
}

#[tokio::test]
async fn two_pools_on_one_file_share_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/edges.db", dir.path().display());
    let (one, two) = (connect(&url).await.unwrap(), connect(&url).await.unwrap());
    one.migrate().await.unwrap();
    two.migrate().await.unwrap();
    let flush = |i: i64| FlushBatch {
        edges: (0..50)
            .map(|n| (key(&format!("ns-{n}"), "db", Action::Allow), delta(i, i + 1, 1)))
            .collect(),
        cursor: Some(i + 1),
    };
    let (r1, r2) = tokio::join!(
        async {
            for i in 0..20 {
                one.apply(&flush(i)).await?;
            }
            Ok::<_, StoreError>(())
        },
        async {
            for i in 20..40 {
                two.apply(&flush(i)).await?;
            }
            Ok::<_, StoreError>(())
        }
    );
    r1.unwrap();
    r2.unwrap();
    let rows = all(&one).await;
    assert_eq!(rows.len(), 50);
    assert!(
        rows.iter()
            .all(|r| r.flow_count == 40 && r.first_seen == 0 && r.last_seen == 40)
    );
    assert_eq!(two.cursor().await.unwrap(), Some(40));
}

#[tokio::test]
async fn unusable_urls_and_paths_are_errors() {
    for url in ["sqlite://", "sqlite:", "sqlite://?cache=shared"] {
        let e = connect(url).await.unwrap_err();
        assert!(matches!(e, StoreError::Url { .. }), "{url}: {e}");
    }
    let e = connect("sqlite:///tmp/x.db?bogus=1").await.unwrap_err();
    assert!(
        matches!(e, StoreError::Url { .. }) && e.to_string().contains("bogus"),
        "{e}"
    );
    // A directory where the file should be; a parent that cannot be created.
    let dir = tempfile::tempdir().unwrap();
    let e = connect(&format!("sqlite://{}", dir.path().display()))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("sqlite store ") && !text.contains('\n'), "{text}");
    let e = connect("sqlite:///proc/homelab-cannot-exist/edges.db")
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("sqlite store /proc/homelab-cannot-exist/edges.db: create failed"),
        "{e}"
    );
}

/// The table after applying deltas in the given groups, one flush per group.
fn table_after(groups: &[Vec<(EdgeKey, EdgeDelta)>], each: bool) -> Vec<EdgeRow> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::in_memory().await.unwrap();
        store.migrate().await.unwrap();
        for (i, group) in groups.iter().enumerate() {
            if each {
                store.upsert_each(group).await.unwrap();
            } else {
                let mut edges = group.clone();
                edges.sort_by(|a, b| a.0.cmp(&b.0));
                store
                    .apply(&FlushBatch {
                        edges,
                        cursor: Some(i as i64),
                    })
                    .await
                    .unwrap();
            }
        }
        all(&store).await
    })
}

fn arb_delta() -> impl Strategy<Value = (EdgeKey, EdgeDelta)> {
    let ns = prop::sample::select(vec!["a", "b", "kube-system", "monitoring", "dbaas"]);
    let action = prop::sample::select(vec![Action::Allow, Action::Deny, Action::Pass, Action::Unspecified]);
    (ns.clone(), ns, action, 0i64..10_000, 0i64..3_600, 0i64..1_000)
        .prop_map(|(s, d, a, first, span, count)| (key(s, d, a), delta(first, first + span, count)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Applying the same deltas in any grouping into flushes (duplicates within a flush
    /// included), or one statement per delta, gives the same table: the in-memory merge of
    /// all deltas.
    #[test]
    fn grouping_into_batches_does_not_matter(
        deltas in prop::collection::vec(arb_delta(), 0..60),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut expected: BTreeMap<EdgeKey, EdgeDelta> = BTreeMap::new();
        for (k, d) in &deltas {
            expected.entry(k.clone()).and_modify(|e| e.merge(d)).or_insert(*d);
        }
        let expected: Vec<EdgeRow> = expected
            .into_iter()
            .map(|(k, d)| EdgeRow {
                src_ns: k.src_ns,
                dst_ns: k.dst_ns,
                action: k.action,
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                flow_count: d.flow_count,
            })
            .collect();

        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(deltas.len() + 1)).collect();
        points.extend([0, deltas.len()]);
        points.sort_unstable();
        points.dedup();
        let groups: Vec<Vec<_>> = points.windows(2).map(|w| deltas[w[0]..w[1]].to_vec()).collect();
        let singles: Vec<Vec<_>> = deltas.iter().map(|d| vec![d.clone()]).collect();
        let whole = vec![deltas.clone()];

        prop_assert_eq!(&table_after(&groups, false), &expected);
        prop_assert_eq!(&table_after(&singles, false), &expected);
        prop_assert_eq!(&table_after(&whole, false), &expected);
        prop_assert_eq!(&table_after(&groups, true), &expected);
    }
}
