//! The durable edge set: the `edge` table behind [`EdgeStore`], in PostgreSQL
//! ([`PgStore`], production: the original CNPG database `goldmane_edges`) or SQLite
//! ([`SqliteStore`], the embedded default when `DATABASE_URL` is unset).
//!
//! # Schema
//!
//! Created by embedded sqlx migrations ([`EdgeStore::migrate`], run at startup; the
//! `_sqlx_migrations` table records them):
//!
//! ```sql
//! -- PostgreSQL: exactly the original table, so an existing one is adopted with its rows and
//! -- the runbook's SQL recipes keep working.
//! CREATE TABLE IF NOT EXISTS edge (
//!     src_ns text NOT NULL, dst_ns text NOT NULL, action text NOT NULL,
//!     first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
//!     flow_count bigint NOT NULL DEFAULT 0,
//!     PRIMARY KEY (src_ns, dst_ns, action));
//! CREATE INDEX IF NOT EXISTS edge_first_seen_idx ON edge (first_seen);
//! CREATE INDEX IF NOT EXISTS edge_dst_ns_idx ON edge (dst_ns);
//! CREATE TABLE IF NOT EXISTS edge_stream_cursor (
//!     id smallint PRIMARY KEY CHECK (id = 1), bucket_end timestamptz NOT NULL);
//! ```
//!
//! SQLite has the same tables, key and indexes with `INTEGER` Unix seconds for the
//! timestamps, in WAL mode with a busy timeout.
//!
//! # Writes
//!
//! [`EdgeStore::apply`] writes a whole [`FlushBatch`] atomically with ONE upsert statement
//! (PostgreSQL: `INSERT … SELECT FROM UNNEST($1::text[], …) ON CONFLICT … DO UPDATE`, the
//! cursor in a data-modifying CTE of the same statement; SQLite: `INSERT … SELECT FROM
//! json_each(?)` and the cursor in one `BEGIN IMMEDIATE` transaction): `first_seen` = the
//! least, `last_seen` = the greatest, `flow_count` = the (saturating) sum, and the cursor only
//! moves forward. A failed batch changes nothing, so the caller retries the same batch.
//!
//! # Reads
//!
//! The read queries (`homelab edges`, `--peers-of`, the digest, observed-since) are described
//! once and rendered per dialect: bound `$n` parameters for PostgreSQL, `?` for SQLite, psql
//! variables for the scripts of [`psql`]. [`EdgeReader`] is the read side: every
//! [`EdgeStore`] is one, and so is [`PodReader`] (the psql scripts run in the CNPG primary
//! pod); [`open_reader`] picks one from `homelab edges`' source options.
//!
//! Every value reaches the database as a bound parameter; SQL text is never built from data.

mod error;
mod postgres;
pub mod psql;
mod query;
mod reader;
mod sqlite;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use homelab_core::flows::query::{DEFAULT_LIMIT, EdgeQuery, PeerRow, PeersQuery};
use homelab_core::flows::{Action, EdgeDelta, EdgeKey, EdgeRow, FlushBatch};

pub use error::{Backend, StoreError, redact_url};
pub use postgres::PgStore;
pub use reader::{AnyReader, EdgeReader, OpenError, PodReader, ReadError, ReaderOptions, open_reader};
pub use sqlite::SqliteStore;

/// How long an operation waits for a pooled connection (including connecting) before it
/// fails with [`StoreError::Unavailable`]: a down database fails fast instead of hanging.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per store pool.
pub const MAX_CONNECTIONS: u32 = 4;

/// The file name of the embedded SQLite store.
pub const SQLITE_FILE_NAME: &str = "goldmane-edges.db";

/// The durable edge set. Every future is `Send`, so a store can be shared (`Arc`) and used
/// from `tokio::spawn`ed tasks.
pub trait EdgeStore: Send + Sync {
    /// Creates or adopts the schema (idempotent; safe to run at every startup and from
    /// several processes at once).
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Readiness: one round trip to the database.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Merges a flush into the table and stores its cursor, atomically, with one upsert
    /// statement for all edges. An empty batch does nothing; a batch with only a cursor
    /// stores just the cursor. Duplicate keys in `edges` are merged first.
    fn apply(&self, batch: &FlushBatch) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The stored resume cursor (end of the newest fully flushed bucket, Unix seconds).
    fn cursor(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// `homelab edges`: the AND of the set filters (`ns` matches either end), ordered by
    /// `first_seen` descending then `src_ns`, `dst_ns`, `action`, at most `q.limit` rows
    /// (0 = [`DEFAULT_LIMIT`]).
    fn edges(&self, q: &EdgeQuery) -> impl Future<Output = Result<Vec<EdgeRow>, StoreError>> + Send;

    /// `homelab edges --peers-of`: the distinct `(peer, action)` pairs of the edges touching
    /// `q.of` (the peer is the other end), ordered by peer then action.
    fn peers(&self, q: &PeersQuery) -> impl Future<Output = Result<Vec<PeerRow>, StoreError>> + Send;

    /// The digest: edges with `first_seen >= since`, newest first, at most `limit`.
    fn new_edges(&self, since: i64, limit: u32) -> impl Future<Output = Result<Vec<EdgeRow>, StoreError>> + Send;

    /// Since when edges have been observed: the least `first_seen` (`None` when empty).
    fn observed_since(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
}

/// A store chosen at runtime from a URL (see [`connect`]).
#[derive(Debug)]
pub enum AnyStore {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Postgres($s) => $call,
            AnyStore::Sqlite($s) => $call,
        }
    };
}

impl AnyStore {
    pub fn backend(&self) -> Backend {
        match self {
            AnyStore::Postgres(_) => Backend::Postgres,
            AnyStore::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The database, without credentials: `host:port/db` or the SQLite file.
    pub fn target(&self) -> &str {
        dispatch!(self, s => s.target())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }

    /// The benchmarks' naive baseline (see [`PgStore::upsert_each`]); not part of
    /// [`EdgeStore`].
    pub async fn upsert_each(&self, edges: &[(EdgeKey, EdgeDelta)]) -> Result<(), StoreError> {
        dispatch!(self, s => s.upsert_each(edges).await)
    }
}

impl EdgeStore for AnyStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.migrate().await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    async fn apply(&self, batch: &FlushBatch) -> Result<(), StoreError> {
        dispatch!(self, s => s.apply(batch).await)
    }

    async fn cursor(&self) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => s.cursor().await)
    }

    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, StoreError> {
        dispatch!(self, s => EdgeStore::edges(s, q).await)
    }

    async fn peers(&self, q: &PeersQuery) -> Result<Vec<PeerRow>, StoreError> {
        dispatch!(self, s => EdgeStore::peers(s, q).await)
    }

    async fn new_edges(&self, since: i64, limit: u32) -> Result<Vec<EdgeRow>, StoreError> {
        dispatch!(self, s => EdgeStore::new_edges(s, since, limit).await)
    }

    async fn observed_since(&self) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => EdgeStore::observed_since(s).await)
    }
}

/// The backend a database URL names: `postgres://` or `postgresql://` → PostgreSQL,
/// `sqlite:` → SQLite.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let lower = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if lower.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StoreError::Url {
            url: redact_url(url),
            reason: "unsupported scheme (expected postgres://, postgresql:// or sqlite:)".to_owned(),
        })
    }
}

/// Opens the store a URL names and checks that it answers (at most [`ACQUIRE_TIMEOUT`]):
///
/// - `postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=/ca.crt`
///   (or `postgresql://`): a pool of [`MAX_CONNECTIONS`]; TLS with rustls as `sslmode`
///   says (`disable`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`),
///   `sslrootcert`/`sslcert`/`sslkey` honoured; `PG*` environment variables and `~/.pgpass`
///   fill what the URL leaves out, as with libpq;
/// - `sqlite:///abs/path.db` (or a relative `sqlite://path.db`): creates the parent
///   directories (mode 0700) and the file (mode 0600) when missing; WAL journal, 5 s busy
///   timeout;
/// - `sqlite::memory:`: a private in-memory database (one connection; gone when closed).
///
/// Does not migrate: call [`EdgeStore::migrate`].
pub async fn connect(url: &str) -> Result<AnyStore, StoreError> {
    match backend_of(url)? {
        Backend::Postgres => PgStore::connect(url).await.map(AnyStore::Postgres),
        Backend::Sqlite => SqliteStore::connect(url).await.map(AnyStore::Sqlite),
    }
}

/// Like [`connect`] but without connecting: the first operation connects (and reports an
/// unreachable database). For a long-running process that must start while its database
/// is down. SQLite files and directories are still created here.
pub fn connect_lazy(url: &str) -> Result<AnyStore, StoreError> {
    match backend_of(url)? {
        Backend::Postgres => PgStore::connect_lazy(url).map(AnyStore::Postgres),
        Backend::Sqlite => SqliteStore::connect_lazy(url).map(AnyStore::Sqlite),
    }
}

/// The embedded store's file when `DATABASE_URL` is unset:
/// `$XDG_DATA_HOME/homelab/goldmane-edges.db` if `XDG_DATA_HOME` is set to an absolute path,
/// else `$HOME/.local/share/homelab/goldmane-edges.db` if `HOME` is set to an absolute path,
/// else `./goldmane-edges.db` (the working directory).
pub fn default_sqlite_path() -> PathBuf {
    default_sqlite_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

fn default_sqlite_path_from(xdg_data_home: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> PathBuf {
    let absolute = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(data) = absolute(xdg_data_home) {
        data.join("homelab").join(SQLITE_FILE_NAME)
    } else if let Some(home) = absolute(home) {
        home.join(".local/share/homelab").join(SQLITE_FILE_NAME)
    } else {
        Path::new(".").join(SQLITE_FILE_NAME)
    }
}

/// [`default_sqlite_path`] as a URL for [`connect`]: the store used when `DATABASE_URL` is
/// unset.
pub fn default_sqlite_url() -> String {
    sqlite_url(&default_sqlite_path())
}

/// The `sqlite://` URL of a file (`sqlite:///abs/path.db` for an absolute path); `%`, `?` and
/// `#` in the path are percent-encoded.
pub fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
}

/// The edges of a batch with duplicate keys merged (one upsert statement may not touch a
/// row twice in PostgreSQL), in key order. Borrows when the keys are already strictly
/// increasing, as the aggregator's batches are.
pub(crate) fn coalesce(edges: &[(EdgeKey, EdgeDelta)]) -> Cow<'_, [(EdgeKey, EdgeDelta)]> {
    if edges.windows(2).all(|w| w[0].0 < w[1].0) {
        return Cow::Borrowed(edges);
    }
    let mut merged: BTreeMap<&EdgeKey, EdgeDelta> = BTreeMap::new();
    for (key, delta) in edges {
        merged.entry(key).and_modify(|d| d.merge(delta)).or_insert(*delta);
    }
    Cow::Owned(merged.into_iter().map(|(k, d)| (k.clone(), d)).collect())
}

/// The row cap of a query (0 = the default).
pub(crate) fn row_limit(limit: u32) -> i64 {
    i64::from(if limit == 0 { DEFAULT_LIMIT } else { limit })
}

/// An `action` column value; anything but the four normalised words reads as
/// `unspecified` (with a warning) rather than failing the whole query.
pub(crate) fn parse_action(s: &str) -> Action {
    Action::parse(s).unwrap_or_else(|| {
        tracing::warn!(action = %s.chars().take(40).collect::<String>(), "edge row with an unknown action; reading it as unspecified");
        Action::Unspecified
    })
}

/// `(src_ns, dst_ns, action, first_seen, last_seen, flow_count)` as both backends select it.
pub(crate) type RawEdge = (String, String, String, i64, i64, i64);

pub(crate) fn edge_row((src_ns, dst_ns, action, first_seen, last_seen, flow_count): RawEdge) -> EdgeRow {
    EdgeRow {
        src_ns,
        dst_ns,
        action: parse_action(&action),
        first_seen,
        last_seen,
        flow_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, d: &str, a: Action) -> EdgeKey {
        EdgeKey {
            src_ns: s.into(),
            dst_ns: d.into(),
            action: a,
        }
    }

    fn delta(f: i64, l: i64, c: i64) -> EdgeDelta {
        EdgeDelta {
            first_seen: f,
            last_seen: l,
            flow_count: c,
        }
    }

    #[test]
    fn default_path_follows_xdg() {
        let p = |x: Option<&str>, h: Option<&str>| default_sqlite_path_from(x.map(Into::into), h.map(Into::into));
        assert_eq!(p(Some("/d"), Some("/h")), PathBuf::from("/d/homelab/goldmane-edges.db"));
        assert_eq!(
            p(Some("rel"), Some("/h")),
            PathBuf::from("/h/.local/share/homelab/goldmane-edges.db")
        );
        assert_eq!(
            p(None, Some("/h")),
            PathBuf::from("/h/.local/share/homelab/goldmane-edges.db")
        );
        assert_eq!(p(Some(""), Some("")), PathBuf::from("./goldmane-edges.db"));
        assert_eq!(p(None, None), PathBuf::from("./goldmane-edges.db"));
        assert_eq!(sqlite_url(Path::new("/a b/x?%#.db")), "sqlite:///a b/x%3F%25%23.db");
        assert!(default_sqlite_url().starts_with("sqlite://"));
    }

    #[test]
    fn schemes() {
        assert_eq!(backend_of("postgres://h/db"), Ok(Backend::Postgres));
        assert_eq!(backend_of("PostgreSQL://h/db"), Ok(Backend::Postgres));
        assert_eq!(backend_of("sqlite::memory:"), Ok(Backend::Sqlite));
        let err = backend_of("mysql://u:pw-123@h/db").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme") && !err.contains("pw-123"), "{err}");
    }

    #[test]
    fn coalesce_merges_duplicates_only_when_needed() {
        let sorted = vec![
            (key("a", "b", Action::Allow), delta(1, 2, 3)),
            (key("a", "c", Action::Allow), delta(1, 2, 3)),
        ];
        assert!(matches!(coalesce(&sorted), Cow::Borrowed(_)));
        let dup = vec![
            (key("b", "c", Action::Deny), delta(5, 6, 1)),
            (key("a", "b", Action::Allow), delta(3, 9, 2)),
            (key("b", "c", Action::Deny), delta(2, 4, 10)),
        ];
        assert_eq!(
            coalesce(&dup).into_owned(),
            vec![
                (key("a", "b", Action::Allow), delta(3, 9, 2)),
                (key("b", "c", Action::Deny), delta(2, 6, 11))
            ]
        );
        assert_eq!(row_limit(0), i64::from(DEFAULT_LIMIT));
        assert_eq!(parse_action("bogus"), Action::Unspecified);
    }
}
