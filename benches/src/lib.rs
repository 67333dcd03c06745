//! Shared generators for the criterion benchmarks in `benches/benches/`.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p homelab-benches`); record figures in
//! BENCHMARKS.md.

pub mod policy_corpus;

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

/// The `i`-th of `n` namespaces of [`edge_table`]: `ns-0000`, `ns-0001`, … (zero-padded, so
/// name order is number order).
pub fn edge_table_namespace(i: usize) -> String {
    format!("ns-{i:04}")
}

/// A large `edge` table, sorted by key: `namespaces` namespaces, each the source of edges to
/// the `peers` namespaces after it (wrapping around), every pair once as `allow` and once as
/// `deny`: `namespaces × peers × 2` rows, and every namespace is at one end of
/// `4 × peers` of them. `first_seen` is spread pseudo-randomly (deterministic) over the
/// `days` days before `now`, `last_seen` between it and `now`, `flow_count` in 1..=10,000.
pub fn edge_table(
    namespaces: usize,
    peers: usize,
    now: i64,
    days: i64,
) -> Vec<(homelab_core::flows::EdgeKey, homelab_core::flows::EdgeDelta)> {
    use homelab_core::flows::{Action, EdgeDelta, EdgeKey};
    assert!(peers < namespaces, "a namespace has at most namespaces - 1 peers");
    // splitmix64: a cheap, well-mixed deterministic sequence.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let names: Vec<String> = (0..namespaces).map(edge_table_namespace).collect();
    let span = (days * 86_400).max(1) as u64;
    let mut rows = Vec::with_capacity(namespaces * peers * 2);
    for s in 0..namespaces {
        for k in 1..=peers {
            let d = (s + k) % namespaces;
            for action in [Action::Allow, Action::Deny] {
                let h = mix(rows.len() as u64);
                let age = (h % span) as i64;
                let first_seen = now - age;
                let last_seen = first_seen + ((h >> 20) % (age as u64 + 1)) as i64;
                rows.push((
                    EdgeKey {
                        src_ns: names[s].clone(),
                        dst_ns: names[d].clone(),
                        action,
                    },
                    EdgeDelta {
                        first_seen,
                        last_seen,
                        flow_count: 1 + ((h >> 40) % 10_000) as i64,
                    },
                ));
            }
        }
    }
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows
}
