//! The aggregator's settings, read from the environment (`FLUSH_INTERVAL`,
//! `BUCKET_QUIET_CLOSE`, `METRICS_ADDR`, `DATABASE_URL`) through a lookup function, so
//! they are testable without touching the process environment. The digest's live in
//! [`crate::digest::Settings`] and share [`SettingsError`].

use std::net::SocketAddr;
use std::time::Duration;

use homelab_core::time::parse_duration;
use thiserror::Error;

use super::AggregatorConfig;
use crate::store::{self, AnyStore, StoreError};

/// A lookup of one environment variable (`|k| std::env::var(k).ok()` in the binary).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A setting that does not parse. The text names the variable; a cause (if any) is the
/// error's source.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("{name}={raw:?} is not a duration (e.g. 15s, 1m, 24h)")]
    Duration { name: &'static str, raw: String },
    #[error("METRICS_ADDR must be host:port")]
    MetricsAddr(#[source] std::net::AddrParseError),
    #[error("DATABASE_URL")]
    DatabaseUrl(#[source] StoreError),
}

/// What `goldmane-edge-aggregator aggregate` runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `FLUSH_INTERVAL`, default 15 s.
    pub flush_interval: Duration,
    /// `BUCKET_QUIET_CLOSE`, default 30 s.
    pub quiet_close: Duration,
    /// `METRICS_ADDR`, default `0.0.0.0:9090`.
    pub metrics_addr: SocketAddr,
    /// `DATABASE_URL`; unset = the local SQLite file ([`store::default_sqlite_url`]).
    pub database_url: String,
}

impl Settings {
    /// Reads and validates every setting (empty values count as unset), in this order:
    /// `FLUSH_INTERVAL`, `BUCKET_QUIET_CLOSE`, `METRICS_ADDR`.
    pub fn from_env(lookup: Lookup<'_>) -> Result<Settings, SettingsError> {
        Ok(Settings {
            flush_interval: duration(lookup, "FLUSH_INTERVAL", "15s")?,
            quiet_close: duration(lookup, "BUCKET_QUIET_CLOSE", "30s")?,
            metrics_addr: get(lookup, "METRICS_ADDR")
                .unwrap_or_else(|| "0.0.0.0:9090".into())
                .parse()
                .map_err(SettingsError::MetricsAddr)?,
            database_url: database_url(lookup),
        })
    }

    /// The store, connected lazily: a database that is down at startup is retried (not
    /// ready meanwhile), not a crash loop. The URL itself is checked now.
    pub fn open_store_lazy(&self) -> Result<AnyStore, SettingsError> {
        store::connect_lazy(&self.database_url).map_err(SettingsError::DatabaseUrl)
    }

    /// The aggregator tuning these settings give.
    pub fn aggregator_config(&self) -> AggregatorConfig {
        AggregatorConfig {
            flush_interval: self.flush_interval,
            quiet_close: self.quiet_close,
            ..AggregatorConfig::default()
        }
    }
}

/// `name` through `lookup`, `None` when unset or blank.
pub(crate) fn get(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// `DATABASE_URL`, or the local SQLite file when unset.
pub(crate) fn database_url(lookup: Lookup<'_>) -> String {
    get(lookup, "DATABASE_URL").unwrap_or_else(store::default_sqlite_url)
}

/// A duration setting: plain positive seconds (`90`) or `15s`, `1m`, `24h`.
pub(crate) fn duration(lookup: Lookup<'_>, name: &'static str, default: &str) -> Result<Duration, SettingsError> {
    let raw = get(lookup, name).unwrap_or_else(|| default.to_owned());
    let secs = raw
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .or_else(|| parse_duration(raw.trim()))
        .ok_or(SettingsError::Duration { name, raw: raw.clone() })?;
    Ok(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map = env(pairs);
        Settings::from_env(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset_or_blank() {
        let s = read(&[("FLUSH_INTERVAL", "  "), ("METRICS_ADDR", "")]).unwrap();
        assert_eq!(s.flush_interval, Duration::from_secs(15));
        assert_eq!(s.quiet_close, Duration::from_secs(30));
        assert_eq!(s.metrics_addr, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(s.database_url, store::default_sqlite_url());
        assert_eq!(s.aggregator_config().flush_interval, Duration::from_secs(15));
    }

    #[test]
    fn values_are_read_and_seconds_or_units_both_work() {
        let s = read(&[
            ("FLUSH_INTERVAL", "90"),
            ("BUCKET_QUIET_CLOSE", " 1m "),
            ("METRICS_ADDR", "127.0.0.1:9191"),
            ("DATABASE_URL", "sqlite:///tmp/x.db"),
        ])
        .unwrap();
        assert_eq!(s.flush_interval, Duration::from_secs(90));
        assert_eq!(s.quiet_close, Duration::from_secs(60));
        assert_eq!(s.metrics_addr.port(), 9191);
        assert_eq!(s.database_url, "sqlite:///tmp/x.db");
        let c = s.aggregator_config();
        assert_eq!((c.flush_interval, c.quiet_close), (s.flush_interval, s.quiet_close));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = read(&[("FLUSH_INTERVAL", "soon")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"FLUSH_INTERVAL="soon" is not a duration (e.g. 15s, 1m, 24h)"#
        );
        let e = read(&[("BUCKET_QUIET_CLOSE", "0")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"BUCKET_QUIET_CLOSE="0" is not a duration (e.g. 15s, 1m, 24h)"#
        );
        let e = read(&[("METRICS_ADDR", "nowhere")]).unwrap_err();
        assert_eq!(e.to_string(), "METRICS_ADDR must be host:port");
        assert!(std::error::Error::source(&e).is_some());
        // The first bad setting wins.
        let e = read(&[("FLUSH_INTERVAL", "x"), ("METRICS_ADDR", "nowhere")]).unwrap_err();
        assert!(
            matches!(
                e,
                SettingsError::Duration {
                    name: "FLUSH_INTERVAL",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn the_database_url_is_checked_when_the_store_is_opened() {
        let s = read(&[("DATABASE_URL", "mysql://x/y")]).unwrap();
        let e = s.open_store_lazy().unwrap_err();
        assert_eq!(e.to_string(), "DATABASE_URL");
        assert!(std::error::Error::source(&e).is_some());
    }
}
