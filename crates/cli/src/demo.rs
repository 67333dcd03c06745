//! `homelab demo`: the main job on a fresh machine, no cluster needed.
//!
//! 1. The compat gate on the bundled example snapshot and matrix (the platform's real
//!    1.36 situation), explained; then a removed-API scan of bundled manifests.
//! 2. The flow trail for real, on loopback (`homelab_flows::demo::run_flow_trail`: a
//!    Goldmane simulator streams a homelab topology's flows, the aggregator writes the
//!    edges into an embedded SQLite file, the run queries them and derives a policy);
//!    this module prints what it returns.

use homelab_core::manifest::parse_documents;
use homelab_core::upgrade::apis::scan;
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, evaluate};
use homelab_core::version::KubeVersion;

use homelab_cli::ctx::Ctx;
use homelab_cli::exit;
use homelab_cli::fail::Failure;

const MATRIX: &str = include_str!("../../../examples/addon-compat.json");
const SNAPSHOT: &str = include_str!("../../../examples/cluster-snapshot.json");
const MANIFESTS: &str = include_str!("../../../examples/manifests/legacy.yaml");
const TARGET: &str = "1.36.2";

pub fn run(ctx: &Ctx) -> Result<u8, Failure> {
    // The bundled files are compiled in and covered by tests; failing here is a build
    // defect, reported as an error rather than a panic all the same.
    let bad = |e: String| Failure::new(exit::ERROR, anyhow::anyhow!("bundled example is invalid: {e}"));
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
    flow_trail(ctx)?;

    println!("Next: `homelab upgrade snapshot -o snap.json` on a machine with a kubeconfig, then");
    println!("`homelab upgrade gate --target <version> --matrix <your addon-compat.json> --snapshot snap.json`,");
    println!("or drop --snapshot to read the live cluster (and --prometheus URL or PROM for deprecated-API usage).");
    Ok(0)
}

fn flow_trail(ctx: &Ctx) -> Result<(), Failure> {
    use homelab_core::flows::render::{self, Format};
    use homelab_core::time::format_rfc3339;
    use homelab_flows::demo::{NAMESPACE, run_flow_trail};

    let fail = |e: String| Failure::new(exit::ERROR, anyhow::anyhow!("demo flow trail: {e}"));
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let d = ctx
        .block_on(exit::ERROR, run_flow_trail(dir.path()))?
        .map_err(|e| fail(e.to_string()))?;
    let policy_yaml = serde_saphyr::to_string(&d.policy.object).map_err(|e| fail(e.to_string()))?;
    println!("== Flow trail: who talks to whom ==");
    println!(
        "Goldmane simulator on {} (mTLS, throwaway CA) streams {} buckets of a homelab topology;",
        d.sim_addr, d.buckets
    );
    println!(
        "the aggregator coalesces them into namespace edges in SQLite ({}).",
        d.db_path.display()
    );
    println!(
        "{} flows received → {} namespace edges ({} denied); self-edges, external and host traffic dropped; each connection counted once across both reporters.",
        d.flows_received,
        d.edges.len(),
        d.denied.len()
    );
    println!();
    println!("$ homelab edges --ns {NAMESPACE}");
    print!("{}", render::edges(&d.namespace_edges, Format::Table));
    println!();
    println!("$ homelab edges --denied --format mermaid");
    print!("{}", render::edges(&d.denied, Format::Mermaid));
    println!();
    println!("$ homelab edges policy --ns {NAMESPACE} --staged");
    for w in &d.policy.warnings {
        println!("warning: {w}");
    }
    print!("{policy_yaml}");
    println!(
        "(observed since {}: a real trail needs 7 days before the allowlist is trusted)",
        d.observed_since.map(format_rfc3339).unwrap_or_default()
    );
    println!();
    Ok(())
}
