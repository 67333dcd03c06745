#![no_main]
//! The matrix parser must never panic; a matrix it accepts must evaluate without error
//! against an empty-ish cluster.
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, NodeFacts, evaluate};
use homelab_core::version::KubeVersion;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(m) = CompatMatrix::from_json(text) else { return };
    let snap = ClusterSnapshot {
        nodes: vec![NodeFacts {
            name: "n".into(),
            kubelet_version: "v1.35.1".into(),
            container_runtime_version: "containerd://2.0.0".into(),
            control_plane: true,
        }],
        ..ClusterSnapshot::default()
    };
    let t = KubeVersion::parse_target("1.36").unwrap();
    evaluate(t, &m, &snap).expect("a valid matrix always evaluates");
});
