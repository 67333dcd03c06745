//! The built-in, versioned table of removed Kubernetes REST APIs
//! (`crates/core/data/removed-apis.json`, sourced per row), and lookups over it.
//!
//! The gate uses it to date `apiserver_requested_deprecated_apis` series that carry no
//! `removed_release`; `homelab upgrade apis` uses it to find removed `apiVersion`/`kind`
//! pairs in manifests without a cluster or Prometheus.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::version::Minor;

const TABLE_JSON: &str = include_str!("../../data/removed-apis.json");

/// One removed `group/version` + kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedApi {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Lowercase plural, as in the REST path and Prometheus labels.
    pub resource: String,
    /// The release that stops serving it, `major.minor`.
    pub removed_in: String,
    pub replacement: String,
    pub replacement_since: Option<String>,
    pub source: String,
    /// `high` (official guide or upstream PR) or `medium` (single secondary source).
    pub confidence: String,
}

impl RemovedApi {
    pub fn removed_minor(&self) -> Minor {
        // Validated when the table loads (see `table()` and its test).
        Minor::parse(&self.removed_in).unwrap_or(Minor::new(1, u32::MAX))
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The table and its provenance.
#[derive(Debug, Clone, Deserialize)]
pub struct RemovedApiTable {
    pub table_version: String,
    pub covers_through: String,
    pub removals: Vec<RemovedApi>,
}

static TABLE: LazyLock<RemovedApiTable> = LazyLock::new(|| {
    // The file is compiled in and checked by a unit test; a broken edit fails CI, so a
    // parse failure here is a build defect, never user input.
    serde_json::from_str(TABLE_JSON).expect("crates/core/data/removed-apis.json is valid")
});

/// The built-in table.
pub fn table() -> &'static RemovedApiTable {
    &TABLE
}

/// Looks up by `apiVersion` (`batch/v1beta1`, or `v1` for core) and kind.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static RemovedApi> {
    let (group, version) = split_api_version(api_version);
    table()
        .removals
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Looks up by group, version and resource (the Prometheus label set).
pub fn by_resource(group: &str, version: &str, resource: &str) -> Option<&'static RemovedApi> {
    table()
        .removals
        .iter()
        .find(|r| r.group == group && r.version == version && r.resource == resource)
}

/// `batch/v1beta1` → (`batch`, `v1beta1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        let t = table();
        assert!(t.removals.len() >= 50);
        Minor::parse(&t.covers_through).unwrap();
        let mut seen = std::collections::HashSet::new();
        for r in &t.removals {
            Minor::parse(&r.removed_in).unwrap();
            if let Some(s) = &r.replacement_since {
                Minor::parse(s).unwrap();
            }
            assert!(!r.source.is_empty() && !r.version.is_empty() && !r.kind.is_empty());
            assert_eq!(r.resource, r.resource.to_ascii_lowercase());
            assert!(matches!(r.confidence.as_str(), "high" | "medium"));
            assert!(
                seen.insert((r.group.clone(), r.version.clone(), r.kind.clone())),
                "duplicate {r:?}"
            );
        }
    }

    #[test]
    fn guide_rows_are_present() {
        // Spot checks against the Kubernetes Deprecated API Migration Guide.
        let cj = by_kind("batch/v1beta1", "CronJob").unwrap();
        assert_eq!(cj.removed_in, "1.25");
        assert_eq!(cj.replacement, "batch/v1");
        assert_eq!(by_kind("extensions/v1beta1", "Ingress").unwrap().removed_in, "1.22");
        assert_eq!(
            by_kind("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema")
                .unwrap()
                .removed_in,
            "1.32"
        );
        assert_eq!(
            by_resource("autoscaling", "v2beta2", "horizontalpodautoscalers")
                .unwrap()
                .removed_in,
            "1.26"
        );
        assert!(by_kind("apps/v1", "Deployment").is_none());
        assert!(by_kind("batch/v1", "CronJob").is_none());
    }
}
