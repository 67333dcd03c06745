//! [`StoreError`] and the redaction of database URLs: no error, `Debug` output or log line
//! of this module carries the password of a URL.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store failure: one line naming the backend, the database (`host:port/db` or the
/// SQLite file, never the user or password), the operation and the cause.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The database URL cannot be used (shown with its password replaced by `***`).
    #[error("database URL {url}: {reason}")]
    Url { url: String, reason: String },
    /// The database could not be reached in time (down, unreachable, refusing or dropping
    /// connections, busy): worth retrying later. The store's pool reconnects by itself.
    #[error("{backend} store {target}: {op}: database unavailable: {cause}")]
    Unavailable {
        backend: Backend,
        target: String,
        op: &'static str,
        cause: String,
    },
    /// The database refused the operation (SQL error, constraint, permissions, bad data…).
    #[error("{backend} store {target}: {op} failed: {cause}")]
    Failed {
        backend: Backend,
        target: String,
        op: &'static str,
        cause: String,
    },
}

impl StoreError {
    /// True when the database was unreachable or busy rather than refusing the operation:
    /// retry later (readiness probes report not-ready).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// The backend the error comes from (`None` for a URL no backend accepted).
    pub fn backend(&self) -> Option<Backend> {
        match self {
            StoreError::Url { .. } => None,
            StoreError::Unavailable { backend, .. } | StoreError::Failed { backend, .. } => Some(*backend),
        }
    }
}

/// What a store needs to turn driver errors into [`StoreError`]s: its backend, the
/// password-free name of its database and the secrets to scrub from any driver message.
#[derive(Clone)]
pub(crate) struct ErrorContext {
    backend: Backend,
    target: Arc<str>,
    secrets: Arc<[String]>,
}

impl fmt::Debug for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorContext")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl ErrorContext {
    pub(crate) fn new(backend: Backend, target: String, secrets: Vec<String>) -> ErrorContext {
        ErrorContext {
            backend,
            target: target.into(),
            secrets: {
                let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
                // Longest first, so a secret containing another is replaced whole.
                secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
                secrets.into()
            },
        }
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// One line, secrets replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut line = one_line(text);
        // sqlx nests some configuration errors in themselves.
        const NESTED: &str = "error with configuration: error with configuration: ";
        while let Some(i) = line.find(NESTED) {
            line.replace_range(i..i + NESTED.len() / 2, "");
        }
        for secret in self.secrets.iter() {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "***");
            }
        }
        line
    }

    pub(crate) fn failed(&self, op: &'static str, cause: &str) -> StoreError {
        StoreError::Failed {
            backend: self.backend,
            target: self.target.to_string(),
            op,
            cause: self.scrub(cause),
        }
    }

    pub(crate) fn unavailable(&self, op: &'static str, cause: &str) -> StoreError {
        StoreError::Unavailable {
            backend: self.backend,
            target: self.target.to_string(),
            op,
            cause: self.scrub(cause),
        }
    }

    /// Classifies a driver error.
    pub(crate) fn sqlx(&self, op: &'static str, e: &sqlx::Error) -> StoreError {
        let cause = describe(e);
        if is_unavailable(self.backend, e) {
            self.unavailable(op, &cause)
        } else {
            self.failed(op, &cause)
        }
    }

    pub(crate) fn migrate(&self, e: &sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        match e {
            MigrateError::Execute(inner) => self.sqlx("migrate", inner),
            MigrateError::ExecuteMigration(inner, version) => {
                let mut err = self.sqlx("migrate", inner);
                if let StoreError::Failed { cause, .. } | StoreError::Unavailable { cause, .. } = &mut err {
                    *cause = format!("migration {version}: {cause}");
                }
                err
            }
            other => self.failed("migrate", &other.to_string()),
        }
    }
}

/// The driver's message, with the SQLSTATE / SQLite code when the database sent one.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_owned(),
        },
        sqlx::Error::PoolTimedOut => {
            "no connection within the acquire timeout (server down or unreachable?)".to_owned()
        }
        other => other.to_string(),
    }
}

fn is_unavailable(backend: Backend, e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            match backend {
                // Class 08 connection exception; admin/crash shutdown, cannot connect now;
                // too many connections.
                Backend::Postgres => code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300"),
                // SQLITE_BUSY / SQLITE_LOCKED (and their extended codes) after busy_timeout.
                Backend::Sqlite => code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
            }
        }
        sqlx::Error::Migrate(m) => match &**m {
            sqlx::migrate::MigrateError::Execute(inner) | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) => {
                is_unavailable(backend, inner)
            }
            _ => false,
        },
        _ => false,
    }
}

fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        if i > 0 {
            out.push_str(" / ");
        }
        out.push_str(line);
    }
    out
}

/// Byte ranges of the password parts of a URL: the userinfo password
/// (`scheme://user:PASSWORD@host`, up to the LAST `@` so an unencoded `@` or `/` in the
/// password is still covered) and the value of every query parameter whose name contains
/// `password`.
fn password_spans(url: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    if let Some(i) = url.find("://") {
        let start = i + 3;
        let rest = &url[start..];
        if let Some(at) = rest.rfind('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                spans.push((start + colon + 1, start + at));
            }
        }
    }
    if let Some(q) = url.find('?') {
        let query_end = url[q..].find('#').map_or(url.len(), |h| q + h);
        let mut pos = q + 1;
        for pair in url[q + 1..query_end].split('&') {
            if let Some((key, _)) = pair.split_once('=')
                && key.to_ascii_lowercase().contains("password")
            {
                spans.push((pos + key.len() + 1, pos + pair.len()));
            }
            pos += pair.len() + 1;
        }
    }
    spans.retain(|(a, b)| a < b);
    spans.sort_unstable();
    spans
}

/// The URL with every password replaced by `***` (`postgres://app:***@db:5432/edges`).
/// A string that is not a URL but mentions a password or an `@` is not shown at all.
pub fn redact_url(url: &str) -> String {
    if !url.contains("://") && (url.contains('@') || url.to_ascii_lowercase().contains("password")) {
        return "<not shown>".to_owned();
    }
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for (a, b) in password_spans(url) {
        if a < last {
            continue;
        }
        out.push_str(&url[last..a]);
        out.push_str("***");
        last = b;
    }
    out.push_str(&url[last..]);
    out
}

/// The passwords in a URL, as written and percent-decoded, to scrub from driver messages.
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    for (a, b) in password_spans(url) {
        let raw = &url[a..b];
        secrets.push(raw.to_owned());
        let decoded = percent_decode(raw);
        if decoded != raw {
            secrets.push(decoded.clone());
        }
        let plus = percent_decode(&raw.replace('+', " "));
        if plus != decoded {
            secrets.push(plus);
        }
    }
    secrets
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db:5432/edges?sslmode=require"),
            "postgres://app:***@db:5432/edges?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app:p/a@ss@db/edges"),
            "postgres://app:***@db/edges"
        );
        assert_eq!(
            redact_url("postgresql://db/edges?user=app&password=hunter22&sslmode=disable"),
            "postgresql://db/edges?user=app&password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://app@db/edges"), "postgres://app@db/edges");
        assert_eq!(redact_url("sqlite:///var/lib/edges.db"), "sqlite:///var/lib/edges.db");
        assert_eq!(redact_url("host=db password=x"), "<not shown>");
    }

    #[test]
    fn secrets_cover_encoded_forms() {
        let s = url_secrets("postgres://app:s3cr%40t@db/edges?password=a+b%21");
        for want in ["s3cr%40t", "s3cr@t", "a+b%21", "a+b!", "a b!"] {
            assert!(s.iter().any(|x| x == want), "{want} missing from {s:?}");
        }
        let ctx = ErrorContext::new(Backend::Postgres, "db:5432/edges".into(), s);
        assert_eq!(ctx.scrub("bad s3cr@t\nand s3cr%40t"), "bad *** / and ***");
        assert_eq!(
            ctx.scrub("error with configuration: error with configuration: unknown value"),
            "error with configuration: unknown value"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }
}
