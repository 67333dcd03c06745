//! [`PgStore`]: the `edge` table in PostgreSQL (production: the CNPG database
//! `goldmane_edges`).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use homelab_core::flows::query::{EdgeQuery, PeerRow, PeersQuery};
use homelab_core::flows::{EdgeDelta, EdgeKey, EdgeRow, FlushBatch};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, SqlSafeStr};

use super::error::{ErrorContext, url_secrets};
use super::query::{self, Dialect};
use super::{
    ACQUIRE_TIMEOUT, Backend, EdgeStore, MAX_CONNECTIONS, RawEdge, StoreError, coalesce, edge_row, parse_action,
    redact_url,
};

/// The embedded migrations (`crates/flows/migrations/postgres`), recorded in
/// `_sqlx_migrations` with the version, description and checksum `sqlx::migrate!` would give
/// them. Migrations applied by a newer release are ignored, so rolling back works.
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "edge".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_edge.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "edge stream cursor".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_edge_stream_cursor.sql").into_sql_str(),
            false,
        ),
    ]);
    m.set_ignore_missing(true);
    m
});

/// The merge of an incoming row into an existing one (also the per-edge baseline's).
/// `flow_count` saturates at the `bigint` bounds instead of failing the whole flush.
macro_rules! merge_clause {
    () => {
        " ON CONFLICT (src_ns, dst_ns, action) DO UPDATE SET \
           first_seen = LEAST(edge.first_seen, EXCLUDED.first_seen), \
           last_seen = GREATEST(edge.last_seen, EXCLUDED.last_seen), \
           flow_count = LEAST(GREATEST(edge.flow_count::numeric + EXCLUDED.flow_count, \
                                       -9223372036854775808), 9223372036854775807)::bigint"
    };
}

/// One statement per flush: the edges from six parallel arrays and, in a data-modifying
/// CTE of the same statement (hence the same transaction), the cursor, which only moves
/// forward.
const APPLY: &str = concat!(
    "WITH cursor_update AS ( \
       INSERT INTO edge_stream_cursor (id, bucket_end) \
       SELECT 1, to_timestamp($7::int8) WHERE $7::int8 IS NOT NULL \
       ON CONFLICT (id) DO UPDATE SET bucket_end = GREATEST(edge_stream_cursor.bucket_end, EXCLUDED.bucket_end) \
     ) \
     INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count) \
     SELECT s, d, a, to_timestamp(f), to_timestamp(l), c \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[]) AS t(s, d, a, f, l, c)",
    merge_clause!()
);

const UPSERT_ONE: &str = concat!(
    "INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count) \
     VALUES ($1, $2, $3, to_timestamp($4::int8), to_timestamp($5::int8), $6)",
    merge_clause!()
);

const CURSOR: &str = "SELECT floor(extract(epoch FROM bucket_end))::int8 FROM edge_stream_cursor WHERE id = 1";

/// The `edge` table in PostgreSQL, through a small pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    ctx: ErrorContext,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.ctx.target())
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens a pool and checks one connection (within [`ACQUIRE_TIMEOUT`]). See
    /// [`super::connect`] for the URL.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let (options, ctx) = parse(url)?;
        let pool = pool_options()
            .connect_with(options)
            .await
            .map_err(|e| ctx.sqlx("connect", &e))?;
        Ok(PgStore { pool, ctx })
    }

    /// A pool that connects on first use.
    pub fn connect_lazy(url: &str) -> Result<PgStore, StoreError> {
        let (options, ctx) = parse(url)?;
        Ok(PgStore {
            pool: pool_options().connect_lazy_with(options),
            ctx,
        })
    }

    /// Wraps an existing pool (its settings are the caller's).
    pub fn from_pool(pool: PgPool) -> PgStore {
        let o = pool.connect_options();
        let ctx = ErrorContext::new(Backend::Postgres, target_of(&o), Vec::new());
        PgStore { pool, ctx }
    }

    /// The pool, for ad-hoc SQL (tests, diagnostics).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `host:port/database` (or the socket path), without credentials.
    pub fn target(&self) -> &str {
        self.ctx.target()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |e| self.ctx.sqlx(op, &e)
    }

    async fn select_edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, StoreError> {
        let rows: Vec<RawEdge> = query::builder::<Postgres>(&query::edges(Dialect::Postgres, q))
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("query edges"))?;
        Ok(rows.into_iter().map(edge_row).collect())
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
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Some(std::time::Duration::from_secs(300)))
        .test_before_acquire(true)
}

fn parse(url: &str) -> Result<(PgConnectOptions, ErrorContext), StoreError> {
    // sqlx also takes the password from PGPASSWORD when the URL has none.
    let mut secrets = url_secrets(url);
    secrets.extend(std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()));
    let mut options = PgConnectOptions::from_str(url).map_err(|e| {
        let ctx = ErrorContext::new(Backend::Postgres, String::new(), secrets.clone());
        StoreError::Url {
            url: redact_url(url),
            reason: ctx.scrub(&e.to_string()),
        }
    })?;
    if options.get_application_name().is_none() {
        options = options.application_name("homelab-flows");
    }
    let ctx = ErrorContext::new(Backend::Postgres, target_of(&options), secrets);
    Ok((options, ctx))
}

fn target_of(o: &PgConnectOptions) -> String {
    let db = o.get_database().unwrap_or_else(|| o.get_username());
    match o.get_socket() {
        Some(socket) => format!("{}/{db}", socket.display()),
        None => format!("{}:{}/{db}", o.get_host(), o.get_port()),
    }
}

impl EdgeStore for PgStore {
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
        let n = edges.len();
        let (mut src, mut dst, mut action) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut first, mut last, mut count) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for (k, d) in edges.iter() {
            src.push(k.src_ns.as_str());
            dst.push(k.dst_ns.as_str());
            action.push(k.action.as_str());
            first.push(d.first_seen);
            last.push(d.last_seen);
            count.push(d.flow_count);
        }
        sqlx::query(APPLY)
            .bind(src)
            .bind(dst)
            .bind(action)
            .bind(first)
            .bind(last)
            .bind(count)
            .bind(batch.cursor)
            .execute(&self.pool)
            .await
            .map_err(self.err("apply"))?;
        Ok(())
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
        let rows: Vec<(String, String)> = query::builder::<Postgres>(&query::peers(Dialect::Postgres, q))
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
        sqlx::query_scalar(query::observed_since(Dialect::Postgres))
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("query observed-since"))
    }
}
