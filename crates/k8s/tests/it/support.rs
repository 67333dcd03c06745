//! Shared fixtures for the integration tests.

use std::future::Future;
use std::time::Duration;

use homelab_core::upgrade::{
    ClusterSnapshot, CompatMatrix, DeprecatedApiRequest, NodeFacts, WorkloadFacts, WorkloadKind,
};

/// Every test is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<F: Future>(f: F) -> F::Output {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(out) => out,
        Err(_) => panic!("test step did not finish within {LIMIT:?}"),
    }
}

pub fn node(name: &str, kubelet: &str, runtime: &str, control_plane: bool) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        kubelet_version: kubelet.into(),
        container_runtime_version: runtime.into(),
        control_plane,
    }
}

pub fn workload(namespace: &str, kind: WorkloadKind, name: &str, images: &[&str]) -> WorkloadFacts {
    WorkloadFacts {
        namespace: namespace.into(),
        kind,
        name: name.into(),
        images: images.iter().map(|s| (*s).to_owned()).collect(),
    }
}

pub fn deprecated(group: &str, version: &str, resource: &str, removed: &str) -> DeprecatedApiRequest {
    DeprecatedApiRequest {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        removed_release: removed.into(),
    }
}

/// A small homelab: a control plane and two workers (listed out of order), Calico,
/// cert-manager and a Postgres statefulset.
pub fn homelab_snapshot() -> ClusterSnapshot {
    ClusterSnapshot {
        nodes: vec![
            node("worker-b", "v1.35.6", "containerd://2.0.4", false),
            node("k8s-master", "v1.35.6", "containerd://2.0.4", true),
            node("worker-a", "v1.34.3", "containerd://1.7.27", false),
        ],
        workloads: vec![
            workload(
                "calico-system",
                WorkloadKind::DaemonSet,
                "calico-node",
                &["quay.io/calico/node:v3.30.7"],
            ),
            workload(
                "cert-manager",
                WorkloadKind::Deployment,
                "cert-manager",
                &["quay.io/jetstack/cert-manager-controller:v1.17.2"],
            ),
            workload(
                "databases",
                WorkloadKind::StatefulSet,
                "postgres",
                &[
                    "docker.io/library/postgres:17.5",
                    "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
                ],
            ),
        ],
        deprecated_api_requests: None,
        deprecated_api_error: None,
    }
}

/// A matrix row for each `(namespace, kind, name)`.
pub fn matrix_for(workloads: &[(&str, WorkloadKind, &str)]) -> CompatMatrix {
    let addons: Vec<String> = workloads
        .iter()
        .enumerate()
        .map(|(i, (ns, kind, name))| {
            format!(
                r#"{{"name":"addon-{i}","namespace":"{ns}","kind":"{kind}","resource":"{name}","image_re":":v?([0-9]+\\.[0-9]+)","max_k8s":{{"0.1":"1.36"}}}}"#
            )
        })
        .collect();
    let text = format!(r#"{{"addons":[{}]}}"#, addons.join(","));
    match CompatMatrix::from_json(&text) {
        Ok(m) => m,
        Err(e) => panic!("test matrix invalid: {e}"),
    }
}

/// The matrix naming exactly the workloads of `snapshot`.
pub fn matrix_of(snapshot: &ClusterSnapshot) -> CompatMatrix {
    let w: Vec<(&str, WorkloadKind, &str)> = snapshot
        .workloads
        .iter()
        .map(|w| (w.namespace.as_str(), w.kind, w.name.as_str()))
        .collect();
    matrix_for(&w)
}

/// A loopback address nothing listens on (bound, then released).
pub async fn dead_address() -> String {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => l,
        Err(e) => panic!("cannot bind: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("no local address: {e}"),
    };
    drop(listener);
    format!("http://{addr}")
}
