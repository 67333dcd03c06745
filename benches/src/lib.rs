//! Shared generators for the criterion benchmarks in `benches/benches/`.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p homelab-benches`); record figures in
//! BENCHMARKS.md.

use homelab_core::upgrade::{ClusterSnapshot, DeprecatedApiRequest, NodeFacts, WorkloadFacts, WorkloadKind};
use serde_json::json;

/// A matrix of `n` addons, each with four rows; every third addon is pinned.
pub fn matrix_json(n: usize) -> String {
    let addons: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "name": format!("addon{i}"),
                "namespace": format!("ns{i}"),
                "kind": (["deployment", "daemonset", "statefulset"][i % 3]),
                "resource": format!("addon{i}"),
                "image_re": format!("addon{i}:v?([0-9]+\\.[0-9]+)"),
                "max_k8s": { "1.0": "1.33", "1.2": "1.34", "1.4": "1.35", "1.6": "1.36" },
                "pinned": i % 3 == 0,
                "pin_reason": "benchmark",
            })
        })
        .collect();
    json!({ "addons": addons, "containerd_min": { "1.36": "2.0" } }).to_string()
}

/// A snapshot with `nodes` nodes, one workload per addon (two images each: a sidecar and
/// the addon at a version that varies by addon) and `samples` deprecated-API series.
pub fn snapshot(addons: usize, nodes: usize, samples: usize) -> ClusterSnapshot {
    ClusterSnapshot {
        nodes: (0..nodes)
            .map(|i| NodeFacts {
                name: format!("node{i:04}"),
                kubelet_version: format!("v1.35.{}", i % 7),
                container_runtime_version: format!("containerd://{}.0.{}", 1 + i % 2, i % 5),
                control_plane: i < 3,
            })
            .collect(),
        workloads: (0..addons)
            .map(|i| WorkloadFacts {
                namespace: format!("ns{i}"),
                kind: [
                    WorkloadKind::Deployment,
                    WorkloadKind::DaemonSet,
                    WorkloadKind::StatefulSet,
                ][i % 3],
                name: format!("addon{i}"),
                images: vec![
                    "registry.example/sidecar:v9.9.9".into(),
                    format!("registry.example/addon{i}:v1.{}.3", i % 8),
                ],
            })
            .collect(),
        deprecated_api_requests: Some(
            (0..samples)
                .map(|i| DeprecatedApiRequest {
                    group: format!("group{}.example.io", i % 50),
                    version: "v1beta1".into(),
                    resource: format!("things{i}"),
                    removed_release: format!("1.{}", 30 + i % 10),
                })
                .collect(),
        ),
        deprecated_api_error: None,
    }
}
