//! [`SqliteStore`]: the `edge` table in an SQLite file (the embedded default) or in memory.

use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use homelab_core::flows::query::{EdgeQuery, PeerRow, PeersQuery};
use homelab_core::flows::{EdgeDelta, EdgeKey, EdgeRow, FlushBatch};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, SqlSafeStr, Sqlite};

use super::error::ErrorContext;
use super::query::{self, Dialect};
use super::{
    ACQUIRE_TIMEOUT, Backend, EdgeStore, MAX_CONNECTIONS, RawEdge, StoreError, coalesce, edge_row, parse_action,
    redact_url,
};

/// The embedded migrations (`crates/flows/migrations/sqlite`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "edge".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_edge.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "edge stream cursor".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_edge_stream_cursor.sql").into_sql_str(),
            false,
        ),
    ]);
    m.set_ignore_missing(true);
    m
});

/// `flow_count` saturates at `i64::MAX` (SQLite would otherwise turn an overflowing sum into
/// a float).
macro_rules! merge_clause {
    () => {
        " ON CONFLICT (src_ns, dst_ns, action) DO UPDATE SET \
           first_seen = min(edge.first_seen, excluded.first_seen), \
           last_seen = max(edge.last_seen, excluded.last_seen), \
           flow_count = CASE WHEN excluded.flow_count > 0 \
                              AND edge.flow_count > 9223372036854775807 - excluded.flow_count \
                             THEN 9223372036854775807 \
                             ELSE edge.flow_count + excluded.flow_count END"
    };
}

/// All the edges of a flush in one statement, from one JSON array of
/// `[src_ns, dst_ns, action, first_seen, last_seen, flow_count]` rows (one bound parameter
/// whatever the batch size). `WHERE true` resolves the `ON CONFLICT` parsing ambiguity of
/// `INSERT … SELECT`.
const APPLY: &str = concat!(
    "INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
     FROM json_each(?1) WHERE true",
    merge_clause!()
);

const UPSERT_ONE: &str = concat!(
    "INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    merge_clause!()
);

/// The cursor only moves forward.
const SET_CURSOR: &str = "INSERT INTO edge_stream_cursor (id, bucket_end) VALUES (1, ?1) \
     ON CONFLICT (id) DO UPDATE SET bucket_end = max(edge_stream_cursor.bucket_end, excluded.bucket_end)";

const CURSOR: &str = "SELECT bucket_end FROM edge_stream_cursor WHERE id = 1";

/// The `edge` table in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    ctx: ErrorContext,
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("target", &self.ctx.target())
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database of a `sqlite:` URL and checks one
    /// connection. See [`super::connect`].
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let (options, pool_options, ctx, path) = prepare(url)?;
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| ctx.sqlx("open", &e))?;
        Ok(SqliteStore { pool, ctx, path })
    }

    /// Like [`SqliteStore::connect`], but the first operation opens the database (the file
    /// and its directories are still created here).
    pub fn connect_lazy(url: &str) -> Result<SqliteStore, StoreError> {
        let (options, pool_options, ctx, path) = prepare(url)?;
        Ok(SqliteStore {
            pool: pool_options.connect_lazy_with(options),
            ctx,
            path,
        })
    }

    /// Opens (creating when missing) a database file.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::connect(&super::sqlite_url(path)).await
    }

    /// A private in-memory database.
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::connect("sqlite::memory:").await
    }

    /// The database file (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The pool, for ad-hoc SQL (tests, diagnostics).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file, or `:memory:`.
    pub fn target(&self) -> &str {
        self.ctx.target()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |e| self.ctx.sqlx(op, &e)
    }

    /// The naive baseline the benchmarks compare [`EdgeStore::apply`] with: one
    /// autocommitted `INSERT … ON CONFLICT` statement per edge (same merge rules, no cursor,
    /// not atomic). Not part of [`EdgeStore`]: production code never wants it.
    pub async fn upsert_each(&self, edges: &[(EdgeKey, EdgeDelta)]) -> Result<(), StoreError> {
        if edges.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await.map_err(self.err("upsert"))?;
        for (k, d) in edges {
            sqlx::query(UPSERT_ONE)
                .bind(k.src_ns.as_str())
                .bind(k.dst_ns.as_str())
                .bind(k.action.as_str())
                .bind(d.first_seen)
                .bind(d.last_seen)
                .bind(d.flow_count)
                .execute(&mut *conn)
                .await
                .map_err(self.err("upsert"))?;
        }
        Ok(())
    }

    async fn select_edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, StoreError> {
        let rows: Vec<RawEdge> = edges_sql(q)
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("query edges"))?;
        Ok(rows.into_iter().map(edge_row).collect())
    }
}

/// The `homelab edges` statement for `q`, every value bound.
fn edges_sql(q: &EdgeQuery) -> QueryBuilder<Sqlite> {
    query::builder(&query::edges(Dialect::Sqlite, q))
}

/// Parses a `sqlite:` URL, creates a missing file (mode 0600) and its missing parent
/// directories (mode 0700), and sets WAL, the busy timeout and the pool size.
fn prepare(url: &str) -> Result<(SqliteConnectOptions, SqlitePoolOptions, ErrorContext, Option<PathBuf>), StoreError> {
    let bad_url = |reason: String| StoreError::Url {
        url: redact_url(url),
        reason,
    };
    let rest = url.get(7..).filter(|_| url[..7].eq_ignore_ascii_case("sqlite:"));
    let Some(rest) = rest else {
        return Err(bad_url("expected sqlite:".to_owned()));
    };
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let database = database.strip_prefix("//").unwrap_or(database);
    let memory = database == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    if database.is_empty() && !memory {
        return Err(bad_url(
            "no database file (use sqlite:///absolute/path.db or sqlite::memory:)".to_owned(),
        ));
    }
    let options =
        SqliteConnectOptions::from_str(&format!("sqlite:{rest}")).map_err(|e| bad_url(one_line(&e.to_string())))?;
    let busy = options.clone().busy_timeout(ACQUIRE_TIMEOUT);
    if memory {
        // One connection that lives as long as the pool: the database lives in it.
        let ctx = ErrorContext::new(Backend::Sqlite, ":memory:".to_owned(), Vec::new());
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        return Ok((busy, pool, ctx, None));
    }
    let path = options.get_filename().to_path_buf();
    let ctx = ErrorContext::new(Backend::Sqlite, path.display().to_string(), Vec::new());
    let read_only = params.split('&').any(|p| p == "mode=ro");
    if !read_only {
        create_file(&path).map_err(|e| ctx.failed("create", &e.to_string()))?;
    }
    let options = busy
        .create_if_missing(!read_only)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    Ok((options, pool, ctx, Some(path)))
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).collect::<Vec<_>>().join(" / ")
}

/// Creates the file (0600) and its missing parents (0700); an existing file is left as it is.
fn create_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    }
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl EdgeStore for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| self.ctx.migrate(&e))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(self.err("ping"))?;
        Ok(())
    }

    async fn apply(&self, batch: &FlushBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let edges = coalesce(&batch.edges);
        let json = if edges.is_empty() {
            None
        } else {
            let rows: Vec<_> = edges
                .iter()
                .map(|(k, d)| {
                    (
                        &k.src_ns,
                        &k.dst_ns,
                        k.action.as_str(),
                        d.first_seen,
                        d.last_seen,
                        d.flow_count,
                    )
                })
                .collect();
            Some(serde_json::to_string(&rows).map_err(|e| self.ctx.failed("apply", &e.to_string()))?)
        };
        // IMMEDIATE: take the write lock up front (waiting up to the busy timeout) rather than
        // failing on a lock upgrade.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.err("apply"))?;
        if let Some(json) = json {
            sqlx::query(APPLY)
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(self.err("apply"))?;
        }
        if let Some(cursor) = batch.cursor {
            sqlx::query(SET_CURSOR)
                .bind(cursor)
                .execute(&mut *tx)
                .await
                .map_err(self.err("apply"))?;
        }
        tx.commit().await.map_err(self.err("apply"))
    }

    async fn cursor(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(CURSOR)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("read cursor"))
    }

    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, StoreError> {
        self.select_edges(q).await
    }

    async fn peers(&self, q: &PeersQuery) -> Result<Vec<PeerRow>, StoreError> {
        let rows: Vec<(String, String)> = query::builder::<Sqlite>(&query::peers(Dialect::Sqlite, q))
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("query peers"))?;
        Ok(rows
            .into_iter()
            .map(|(peer, action)| PeerRow {
                peer,
                action: parse_action(&action),
            })
            .collect())
    }

    async fn new_edges(&self, since: i64, limit: u32) -> Result<Vec<EdgeRow>, StoreError> {
        self.select_edges(&EdgeQuery {
            new_since: Some(since),
            limit,
            ..EdgeQuery::default()
        })
        .await
    }

    async fn observed_since(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(query::observed_since(Dialect::Sqlite))
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("query observed-since"))
    }
}

#[cfg(test)]
mod tests {
    use homelab_core::flows::Action;

    use super::*;

    /// Many edges, few distinct `first_seen` values (ties broken by key), every action.
    fn fixture() -> Vec<(EdgeKey, EdgeDelta)> {
        let actions = [Action::Allow, Action::Deny, Action::Pass, Action::Unspecified];
        let mut edges: Vec<_> = (0..3000i64)
            .map(|i| {
                let key = EdgeKey {
                    src_ns: format!("ns-{}", i % 37),
                    dst_ns: format!("ns-{}", 100 + i % 41),
                    action: actions[(i % 4) as usize],
                };
                let first_seen = 1_000 + (i * 7919) % 50;
                let delta = EdgeDelta {
                    first_seen,
                    last_seen: first_seen + 15,
                    flow_count: 1,
                };
                (key, delta)
            })
            .collect();
        edges.sort_by(|a, b| a.0.cmp(&b.0));
        edges.dedup_by(|a, b| a.0 == b.0);
        edges
    }

    #[tokio::test]
    async fn listing_without_a_namespace_walks_the_first_seen_index_with_the_same_rows() {
        let store = SqliteStore::in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let edges = fixture();
        store
            .apply(&FlushBatch {
                edges: edges.clone(),
                cursor: None,
            })
            .await
            .unwrap();

        // The index is used, and only ties are sorted (not the whole table).
        let unfiltered = EdgeQuery {
            limit: 200,
            ..EdgeQuery::default()
        };
        let sql = edges_sql(&unfiltered).sql();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", sql.as_str())))
                .bind(200i64)
                .fetch_all(store.pool())
                .await
                .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
        assert!(
            plan.iter().any(|s| s.contains("USING INDEX edge_first_seen_idx")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|s| s == "USE TEMP B-TREE FOR ORDER BY"), "{plan:?}");

        // Same rows, same order as the plain definition of the listing.
        let mut reference: Vec<EdgeRow> = edges
            .iter()
            .map(|(k, d)| EdgeRow {
                src_ns: k.src_ns.clone(),
                dst_ns: k.dst_ns.clone(),
                action: k.action,
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                flow_count: d.flow_count,
            })
            .collect();
        reference.sort_by(|a, b| {
            b.first_seen
                .cmp(&a.first_seen)
                .then_with(|| (&a.src_ns, &a.dst_ns, a.action).cmp(&(&b.src_ns, &b.dst_ns, b.action)))
        });
        let queries = [
            unfiltered.clone(),
            EdgeQuery {
                action: Some(Action::Deny),
                limit: 150,
                ..EdgeQuery::default()
            },
            EdgeQuery {
                new_since: Some(1_040),
                limit: 100_000,
                ..EdgeQuery::default()
            },
            EdgeQuery {
                ns: Some("ns-5".into()),
                limit: 30,
                ..EdgeQuery::default()
            },
        ];
        for q in queries {
            let want: Vec<EdgeRow> = reference
                .iter()
                .filter(|r| q.ns.as_ref().is_none_or(|n| &r.src_ns == n || &r.dst_ns == n))
                .filter(|r| q.action.is_none_or(|a| r.action == a))
                .filter(|r| q.new_since.is_none_or(|t| r.first_seen >= t))
                .take(q.limit as usize)
                .cloned()
                .collect();
            assert!(!want.is_empty());
            assert_eq!(store.edges(&q).await.unwrap(), want, "{q:?}");
        }
        store.close().await;
    }
}
