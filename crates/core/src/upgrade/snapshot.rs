//! The cluster snapshot: the facts the gate needs, as `homelab upgrade snapshot` writes
//! them and `homelab upgrade gate --snapshot` reads them.
//!
//! ```json
//! { "nodes": [ { "name": "k8s-master", "kubelet_version": "v1.35.6",
//!                "container_runtime_version": "containerd://2.0.4", "control_plane": true } ],
//!   "workloads": [ { "namespace": "calico-system", "kind": "daemonset", "name": "calico-node",
//!                    "images": ["quay.io/calico/node:v3.30.7"] } ],
//!   "deprecated_api_requests": [ { "group": "", "version": "v1beta1", "resource": "cronjobs",
//!                                  "removed_release": "1.25" } ] }
//! ```
//! `deprecated_api_requests: null` (or absent) means Prometheus could not be queried,
//! which the gate treats as a fail-safe block on a minor upgrade.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::matrix::strip_position;
use thiserror::Error;

/// Everything the gate knows about a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    #[serde(default)]
    pub nodes: Vec<NodeFacts>,
    #[serde(default)]
    pub workloads: Vec<WorkloadFacts>,
    /// `None`: Prometheus could not be queried (unknown, not "none in use").
    #[serde(default)]
    pub deprecated_api_requests: Option<Vec<DeprecatedApiRequest>>,
    /// Why `deprecated_api_requests` is null, when the collector knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated_api_error: Option<String>,
}

impl ClusterSnapshot {
    /// Parses a snapshot file; JSON errors carry line and column.
    pub fn from_json(text: &str) -> Result<Self, SnapshotError> {
        serde_json::from_str(text).map_err(|e| SnapshotError {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })
    }

    /// Pretty JSON, the format `homelab upgrade snapshot` writes.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain strings, bools and vectors cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// The workload with this identity, if the snapshot has it.
    pub fn workload(&self, namespace: &str, kind: WorkloadKind, name: &str) -> Option<&WorkloadFacts> {
        self.workloads
            .iter()
            .find(|w| w.kind == kind && w.namespace == namespace && w.name == name)
    }
}

/// A snapshot file that is not valid JSON of the expected shape.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("line {line}, column {column}: {message}")]
pub struct SnapshotError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One node's versions (from `status.nodeInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFacts {
    pub name: String,
    pub kubelet_version: String,
    #[serde(default)]
    pub container_runtime_version: String,
    #[serde(default)]
    pub control_plane: bool,
}

/// The container images of one workload's pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadFacts {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub name: String,
    #[serde(default)]
    pub images: Vec<String>,
}

/// One series of `apiserver_requested_deprecated_apis`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeprecatedApiRequest {
    #[serde(default)]
    pub group: String,
    pub version: String,
    pub resource: String,
    #[serde(default)]
    pub removed_release: String,
}

impl DeprecatedApiRequest {
    /// `group/version` (just `version` for the core group).
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The workload kinds the matrix can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    DaemonSet,
    StatefulSet,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 3] = [Self::Deployment, Self::DaemonSet, Self::StatefulSet];

    /// Case-insensitive: `daemonset`, `DaemonSet`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "deployment" | "deploy" => Some(Self::Deployment),
            "daemonset" | "ds" => Some(Self::DaemonSet),
            "statefulset" | "sts" => Some(Self::StatefulSet),
            _ => None,
        }
    }

    /// The lowercase form the matrix and snapshot use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "deployment",
            Self::DaemonSet => "daemonset",
            Self::StatefulSet => "statefulset",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WorkloadKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WorkloadKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WorkloadKind::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown workload kind {:?} (expected deployment, daemonset or statefulset)",
                s.chars().take(40).collect::<String>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_null_means_unknown() {
        let text = r#"{ "nodes": [ { "name": "m", "kubelet_version": "v1.35.6",
            "container_runtime_version": "containerd://2.0.4", "control_plane": true } ],
            "workloads": [ { "namespace": "a", "kind": "DaemonSet", "name": "b", "images": ["x:1"] } ],
            "deprecated_api_requests": null }"#;
        let s = ClusterSnapshot::from_json(text).unwrap();
        assert_eq!(s.deprecated_api_requests, None);
        assert_eq!(s.workloads[0].kind, WorkloadKind::DaemonSet);
        let again = ClusterSnapshot::from_json(&s.to_json_pretty()).unwrap();
        assert_eq!(s, again);
        assert!(s.to_json_pretty().contains("\"deprecated_api_requests\": null"));
        let empty = ClusterSnapshot::from_json(r#"{"deprecated_api_requests": []}"#).unwrap();
        assert_eq!(empty.deprecated_api_requests, Some(vec![]));
    }

    #[test]
    fn errors_carry_position() {
        let e = ClusterSnapshot::from_json("{\n \"nodes\": [ {\"name\": 3} ]\n}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(!e.message.contains(" at line "));
        let e = ClusterSnapshot::from_json(r#"{"workloads":[{"namespace":"a","kind":"job","name":"b"}]}"#).unwrap_err();
        assert!(e.message.contains("unknown workload kind"), "{e}");
    }
}
