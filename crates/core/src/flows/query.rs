//! `homelab edges` filters, validated before any adapter turns them into SQL
//! parameters. Namespace values must be Kubernetes names, so nothing else reaches a
//! query even before parameter binding.

use thiserror::Error;

use super::{Action, is_valid_namespace};
use crate::time;

/// Default and maximum row caps.
pub const DEFAULT_LIMIT: u32 = 200;
pub const MAX_LIMIT: u32 = 100_000;

/// Which edges to list. All set filters are AND-ed. Rows come newest `first_seen` first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeQuery {
    /// Edges touching this namespace in either direction.
    pub ns: Option<String>,
    /// Edges from this namespace (its egress peers).
    pub src: Option<String>,
    /// Edges to this namespace (its ingress peers).
    pub dst: Option<String>,
    /// Only edges whose `first_seen` ≥ this (Unix seconds).
    pub new_since: Option<i64>,
    /// Only edges with this action (`--denied` = deny).
    pub action: Option<Action>,
    pub limit: u32,
}

/// `--peers-of N`: the distinct `(peer, action)` pairs of a namespace, either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeersQuery {
    pub of: String,
    pub new_since: Option<i64>,
    pub action: Option<Action>,
    pub limit: u32,
}

/// One `--peers-of` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PeerRow {
    pub peer: String,
    pub action: Action,
}

/// A flag value the query refuses.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("{flag}: {value:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63)")]
    Namespace { flag: &'static str, value: String },
    #[error("--new-since: {0:?} is neither a duration (90s, 30m, 24h, 7d, 2w) nor a date (YYYY-MM-DD or RFC 3339)")]
    NewSince(String),
    #[error("--limit must be between 1 and {MAX_LIMIT}")]
    Limit,
}

/// Checks a namespace flag value.
pub fn namespace(flag: &'static str, value: &str) -> Result<String, QueryError> {
    if is_valid_namespace(value) {
        Ok(value.to_owned())
    } else {
        Err(QueryError::Namespace {
            flag,
            value: value.chars().take(80).collect(),
        })
    }
}

/// `--new-since`: a duration back from `now` (`24h`), a date (`2026-06-28`, midnight
/// UTC) or an RFC 3339 time.
pub fn new_since(value: &str, now: i64) -> Result<i64, QueryError> {
    let v = value.trim();
    if let Some(d) = time::parse_duration(v) {
        return Ok(now.saturating_sub(d));
    }
    time::parse_date(v)
        .or_else(|| time::parse_rfc3339(v))
        .ok_or_else(|| QueryError::NewSince(v.chars().take(80).collect()))
}

/// `--limit`.
pub fn limit(n: u32) -> Result<u32, QueryError> {
    if (1..=MAX_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(QueryError::Limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_validated() {
        assert!(namespace("--ns", "kube-system").is_ok());
        for bad in [
            "",
            "Kube",
            "a_b",
            "-a",
            "a-",
            "x'; DROP TABLE edge; --",
            "a b",
            &"a".repeat(64),
            "é",
        ] {
            assert!(namespace("--ns", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn new_since_forms() {
        let now = 1_782_633_600;
        assert_eq!(new_since("24h", now), Ok(now - 86_400));
        assert_eq!(new_since("2026-06-28", now), Ok(1_782_604_800));
        assert_eq!(new_since("2026-06-28T08:00:00Z", now), Ok(now));
        assert!(new_since("yesterday", now).is_err());
        assert!(limit(0).is_err() && limit(MAX_LIMIT + 1).is_err() && limit(200).is_ok());
    }
}
