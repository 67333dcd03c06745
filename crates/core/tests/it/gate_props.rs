//! Property tests for the gate's decision logic.

use homelab_core::upgrade::{
    ClusterSnapshot, CompatMatrix, DeprecatedApiRequest, NodeFacts, ReasonKind, Tag, Verdict, WorkloadFacts,
    WorkloadKind, evaluate,
};
use homelab_core::version::KubeVersion;
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct AddonSpec {
    rows: Vec<(u32, u32)>, // (addon minor floor as 1.X, k8s minor 1.Y)
    pinned: bool,
    running: Option<Option<u32>>, // None: workload absent; Some(None): unreadable; Some(Some(x)): 1.x.3
}

fn addon_spec() -> impl Strategy<Value = AddonSpec> {
    (
        prop::collection::btree_map(0u32..12, 30u32..39, 1..5),
        any::<bool>(),
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(None)),
            6 => (0u32..14).prop_map(|v| Some(Some(v))),
        ],
    )
        .prop_map(|(rows, pinned, running)| AddonSpec {
            rows: rows.into_iter().collect(),
            pinned,
            running,
        })
}

fn node_versions() -> impl Strategy<Value = Vec<(u32, u32, bool)>> {
    // (k8s minor, containerd major, control plane)
    prop::collection::vec((32u32..37, 1u32..3, any::<bool>()), 1..6)
}

fn deprecated() -> impl Strategy<Value = Option<Vec<(usize, u32)>>> {
    prop_oneof![
        1 => Just(None),
        4 => prop::collection::vec((0usize..3, 20u32..40), 0..4).prop_map(Some),
    ]
}

fn build(
    addons: &[AddonSpec],
    nodes: &[(u32, u32, bool)],
    dep: &Option<Vec<(usize, u32)>>,
) -> (CompatMatrix, ClusterSnapshot) {
    let matrix_json = json!({
        "addons": addons.iter().enumerate().map(|(i, a)| json!({
            "name": format!("addon{i}"),
            "namespace": format!("ns{i}"),
            "kind": "deployment",
            "resource": format!("addon{i}"),
            "image_re": format!("addon{i}:v?([0-9]+\\.[0-9]+)"),
            "max_k8s": a.rows.iter().map(|(f, m)| (format!("1.{f}"), json!(format!("1.{m}")))).collect::<serde_json::Map<_, _>>(),
            "pinned": a.pinned,
            "pin_reason": "held by property test",
        })).collect::<Vec<_>>(),
        "containerd_min": { "1.36": "2.0" },
    });
    let matrix = CompatMatrix::from_json(&matrix_json.to_string()).expect("generated matrix is valid");
    let snapshot = ClusterSnapshot {
        nodes: nodes
            .iter()
            .enumerate()
            .map(|(i, (m, c, cp))| NodeFacts {
                name: format!("node{i}"),
                kubelet_version: format!("v1.{m}.4"),
                container_runtime_version: format!("containerd://{c}.0.1"),
                control_plane: *cp,
            })
            .collect(),
        workloads: addons
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let running = a.running?;
                let image = match running {
                    Some(v) => format!("registry/addon{i}:v1.{v}.3"),
                    None => format!("registry/addon{i}:latest"),
                };
                Some(WorkloadFacts {
                    namespace: format!("ns{i}"),
                    kind: WorkloadKind::Deployment,
                    name: format!("addon{i}"),
                    images: vec!["registry/sidecar:v9.9".into(), image],
                })
            })
            .collect(),
        deprecated_api_requests: dep.as_ref().map(|v| {
            v.iter()
                .map(|(r, rel)| DeprecatedApiRequest {
                    group: "example.io".into(),
                    version: "v1beta1".into(),
                    resource: format!("things{r}"),
                    removed_release: format!("1.{rel}"),
                })
                .collect()
        }),
        deprecated_api_error: None,
    };
    (matrix, snapshot)
}

fn target() -> impl Strategy<Value = KubeVersion> {
    (30u32..40, prop::option::of(0u32..10)).prop_map(|(m, p)| KubeVersion {
        major: 1,
        minor: m,
        patch: p,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Exit code follows the tags: any held reason → 4, else any reason → 2, else 0.
    #[test]
    fn held_wins_on_any_mix(addons in prop::collection::vec(addon_spec(), 0..6), nodes in node_versions(), dep in deprecated(), t in target()) {
        let (m, s) = build(&addons, &nodes, &dep);
        let d = evaluate(t, &m, &s).unwrap();
        let any_held = d.reasons.iter().any(|r| r.tag.is_held());
        let expected = if any_held { 4 } else if d.reasons.is_empty() { 0 } else { 2 };
        prop_assert_eq!(d.exit_code(), expected);
        prop_assert_eq!(d.verdict == Verdict::Held, any_held);
        // Only addons can be held; everything else is actionable.
        for r in &d.reasons {
            if r.kind != ReasonKind::Addon {
                prop_assert_eq!(r.tag, Tag::Actionable);
            }
        }
    }

    /// A target at or below the running (oldest) minor is never addon-blocked.
    #[test]
    fn patch_target_never_addon_blocked(addons in prop::collection::vec(addon_spec(), 0..6), nodes in node_versions(), dep in deprecated(), patch in prop::option::of(0u32..20), back in 0u32..2) {
        let (m, s) = build(&addons, &nodes, &dep);
        let oldest = nodes.iter().map(|n| n.0).min().unwrap();
        let t = KubeVersion { major: 1, minor: oldest - back, patch };
        let d = evaluate(t, &m, &s).unwrap();
        prop_assert!(!d.minor_jump);
        prop_assert!(d.reasons.iter().all(|r| r.kind != ReasonKind::Addon && r.kind != ReasonKind::Containerd && r.kind != ReasonKind::Prometheus), "{:?}", d.reasons);
    }

    /// The decision does not depend on the order of nodes, addons, workloads, images or samples.
    #[test]
    fn order_independent(addons in prop::collection::vec(addon_spec(), 0..6), nodes in node_versions(), dep in deprecated(), t in target(), seed in any::<u64>()) {
        let (m, s) = build(&addons, &nodes, &dep);
        let d1 = evaluate(t, &m, &s).unwrap();
        let mut m2 = m.clone();
        let mut s2 = s.clone();
        let rot = |n: usize| if n == 0 { 0 } else { (seed as usize) % n };
        let k = rot(m2.addons.len()); m2.addons.rotate_left(k);
        m2.addons.reverse();
        let k = rot(s2.nodes.len()); s2.nodes.rotate_left(k);
        s2.workloads.reverse();
        for w in &mut s2.workloads { w.images.reverse(); }
        if let Some(v) = &mut s2.deprecated_api_requests { v.reverse(); }
        let d2 = evaluate(t, &m2, &s2).unwrap();
        prop_assert_eq!(d1.verdict, d2.verdict);
        prop_assert_eq!(&d1.reasons, &d2.reasons);
        prop_assert_eq!(d1.report(), d2.report());
    }

    /// Following an ACTIONABLE "upgrade X to >= V" hint clears that addon's blocker.
    #[test]
    fn actionable_hint_is_sufficient(addons in prop::collection::vec(addon_spec(), 1..5), t in target()) {
        let nodes = vec![(t.minor.saturating_sub(1).max(32), 2, true)];
        let (m, s) = build(&addons, &nodes, &Some(vec![]));
        let d = evaluate(t, &m, &s).unwrap();
        for r in d.reasons.iter().filter(|r| r.kind == ReasonKind::Addon && r.tag == Tag::Actionable) {
            // Only the "a newer version supports the target" hint; the below-matrix
            // fail-safe hint ("…, or add a matrix row") promises nothing about the target.
            let Some(v) = r.hint.strip_prefix(&format!("upgrade {} to >= ", r.subject)) else { continue };
            if v.contains(' ') { continue }
            let i: usize = r.subject.trim_start_matches("addon").parse().unwrap();
            let mut s2 = s.clone();
            let w = s2.workloads.iter_mut().find(|w| w.name == r.subject).unwrap();
            w.images = vec![format!("registry/addon{i}:v{v}.0")];
            let d2 = evaluate(t, &m, &s2).unwrap();
            prop_assert!(d2.reasons.iter().all(|r2| r2.subject != r.subject), "{} still blocks after {v}: {:?}", r.subject, d2.reasons);
        }
    }

    /// Parsers never panic, whatever the input.
    #[test]
    fn parsers_never_panic(s in ".{0,200}") {
        let _ = CompatMatrix::from_json(&s);
        let _ = ClusterSnapshot::from_json(&s);
        let _ = KubeVersion::parse_target(&s);
        let _ = KubeVersion::parse_kubelet(&s);
        let _ = homelab_core::manifest::parse_documents(&s);
    }
}
