//! `homelab demo`: the main job on a fresh machine, no cluster needed. Runs the compat
//! gate on the bundled example snapshot and matrix (the platform's real 1.36 situation)
//! and explains the verdict, then scans the bundled manifests for removed APIs.
//! Later capabilities (the flow trail) add their part here.

use homelab_core::manifest::parse_documents;
use homelab_core::upgrade::apis::scan;
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, evaluate};
use homelab_core::version::KubeVersion;

use crate::fail::Failure;

const MATRIX: &str = include_str!("../../../examples/addon-compat.json");
const SNAPSHOT: &str = include_str!("../../../examples/cluster-snapshot.json");
const MANIFESTS: &str = include_str!("../../../examples/manifests/legacy.yaml");
const TARGET: &str = "1.36.2";

pub fn run() -> Result<u8, Failure> {
    // The bundled files are compiled in and covered by tests; failing here is a build
    // defect, reported as an error rather than a panic all the same.
    let bad = |e: String| Failure::new(2, anyhow::anyhow!("bundled example is invalid: {e}"));
    let matrix = CompatMatrix::from_json(MATRIX).map_err(|e| bad(e.to_string()))?;
    let snapshot = ClusterSnapshot::from_json(SNAPSHOT).map_err(|e| bad(e.to_string()))?;
    let target = KubeVersion::parse_target(TARGET).map_err(|e| bad(e.to_string()))?;
    let decision = evaluate(target, &matrix, &snapshot).map_err(|e| bad(e.to_string()))?;

    println!("homelab demo: may this cluster auto-upgrade Kubernetes to {TARGET}?");
    println!();
    println!(
        "Cluster (bundled snapshot): {} nodes; addons: {}.",
        snapshot.nodes.len(),
        snapshot
            .workloads
            .iter()
            .map(|w| format!("{} {}", w.name, w.images.first().map(String::as_str).unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!(
        "$ homelab upgrade gate --target {TARGET} --matrix examples/addon-compat.json --snapshot examples/cluster-snapshot.json"
    );
    print!("{}", decision.report());
    println!("(exit code {})", decision.exit_code());
    println!();
    print!("{}", decision.explain());
    println!();

    let docs = parse_documents(MANIFESTS).map_err(|e| bad(e.to_string()))?;
    let findings = scan("examples/manifests/legacy.yaml", &docs, target.minor());
    println!("$ homelab upgrade apis --target {TARGET} examples/manifests");
    for f in &findings {
        println!("{}", f.line_text());
    }
    println!("(exit code {})", if findings.is_empty() { 0 } else { 1 });
    println!();
    println!("Next: `homelab upgrade snapshot -o snap.json` on a machine with a kubeconfig, then");
    println!("`homelab upgrade gate --target <version> --matrix <your addon-compat.json> --snapshot snap.json`,");
    println!("or drop --snapshot to read the live cluster (and --prometheus URL or PROM for deprecated-API usage).");
    Ok(0)
}
