//! `homelab demo`: the main job on a fresh machine, no cluster needed.
//!
//! 1. The compat gate on the bundled example snapshot and matrix (the platform's real
//!    1.36 situation), explained; then a removed-API scan of bundled manifests.
//! 2. The flow trail for real, on loopback: a Goldmane simulator (mTLS with throwaway
//!    certificates) streams a homelab topology's flows, the aggregator writes the edges
//!    into an embedded SQLite file, then the demo queries them and derives a policy.

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

const TOPOLOGY: &str = include_str!("../../flows/testdata/topologies/homelab.yaml");
const BUCKETS: usize = 20;

fn flow_trail(ctx: &Ctx) -> Result<(), Failure> {
    use std::sync::Arc;
    use std::time::Duration;

    use homelab_core::flows::Action;
    use homelab_core::flows::netpol::{PolicyRequest, derive};
    use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
    use homelab_core::flows::render::{self, Format};
    use homelab_core::time::format_rfc3339;
    use homelab_flows::aggregator::{self, AggregatorConfig, Metrics, unix_now};
    use homelab_flows::goldmane::GoldmaneClient;
    use homelab_flows::sim::pki::ThrowawayPki;
    use homelab_flows::sim::{SimConfig, SimMode, SimServer, Topology};
    use homelab_flows::store::{self, EdgeStore};

    let fail = |e: String| Failure::new(exit::ERROR, anyhow::anyhow!("demo flow trail: {e}"));
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    ctx.block_on(exit::ERROR, async {
        let topology = Topology::from_yaml_str(TOPOLOGY).map_err(|e| fail(e.to_string()))?;
        let pki = ThrowawayPki::generate(dir.path()).map_err(|e| fail(e.to_string()))?;
        let t0 = (unix_now() - 1800) / 15 * 15;
        let sim = SimServer::start(
            SimConfig::new(topology).with_tls(pki.sim_tls()).with_mode(SimMode::Burst { t0, buckets: BUCKETS }),
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
        let db = dir.path().join("edges.db");
        let store = Arc::new(store::connect(&format!("sqlite://{}", db.display())).await.map_err(|e| fail(e.to_string()))?);
        let client = GoldmaneClient::new(pki.goldmane_config(&sim)).map_err(|e| fail(e.to_string()))?;
        let metrics = Arc::new(Metrics::new(unix_now()));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let config = AggregatorConfig {
            flush_interval: Duration::from_millis(200),
            quiet_close: Duration::from_secs(1),
            ..AggregatorConfig::default()
        };
        let task = tokio::spawn(aggregator::run(client, Arc::clone(&store), config, Arc::clone(&metrics), stop_rx));
        println!("== Flow trail: who talks to whom ==");
        println!(
            "Goldmane simulator on {} (mTLS, throwaway CA) streams {} buckets of a homelab topology;",
            sim.addr(),
            BUCKETS
        );
        println!("the aggregator coalesces them into namespace edges in SQLite ({}).", db.display());
        let end = t0 + BUCKETS as i64 * 15;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while store.cursor().await.ok().flatten() != Some(end) {
            if tokio::time::Instant::now() > deadline {
                return Err(fail("the aggregator did not catch up within 60 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop.send(true);
        let _ = task.await;
        let all = store
            .edges(&EdgeQuery { limit: MAX_LIMIT, ..EdgeQuery::default() })
            .await
            .map_err(|e| fail(e.to_string()))?;
        let denied = all.iter().filter(|e| e.action == Action::Deny).count();
        println!(
            "{} flows received → {} namespace edges ({} denied); self-edges, external and host traffic dropped; each connection counted once across both reporters.",
            metrics.flows_received(),
            all.len(),
            denied
        );
        println!();
        println!("$ homelab edges --ns nextcloud");
        let ns = store
            .edges(&EdgeQuery { ns: Some("nextcloud".into()), limit: 200, ..EdgeQuery::default() })
            .await
            .map_err(|e| fail(e.to_string()))?;
        print!("{}", render::edges(&ns, Format::Table));
        println!();
        println!("$ homelab edges --denied --format mermaid");
        let deny_rows: Vec<_> = all.iter().filter(|e| e.action == Action::Deny).cloned().collect();
        print!("{}", render::edges(&deny_rows, Format::Mermaid));
        println!();
        let observed_since = store.observed_since().await.map_err(|e| fail(e.to_string()))?;
        let p = derive(
            &PolicyRequest {
                namespace: "nextcloud".into(),
                staged: true,
                dns_cidrs: vec![],
                observed_since,
                now: unix_now(),
            },
            &all,
        );
        println!("$ homelab edges policy --ns nextcloud --staged");
        for w in &p.warnings {
            println!("warning: {w}");
        }
        print!("{}", serde_saphyr::to_string(&p.object).map_err(|e| fail(e.to_string()))?);
        println!(
            "(observed since {}: a real trail needs 7 days before the allowlist is trusted)",
            observed_since.map(format_rfc3339).unwrap_or_default()
        );
        println!();
        sim.shutdown().await;
        Ok(())
    })?
}
