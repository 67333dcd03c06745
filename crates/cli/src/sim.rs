//! `homelab sim`: a Goldmane-compatible `Flows` server to try the aggregator (or any
//! Goldmane client) against, with mTLS and throwaway certificates. Prints the
//! environment for `goldmane-edge-aggregator`, then serves until Ctrl-C.

use std::time::Duration;

use anyhow::{Context, anyhow};
use homelab_cli::ctx::Ctx;
use homelab_cli::exit;
use homelab_cli::fail::Failure;
use homelab_flows::sim::pki::ThrowawayPki;
use homelab_flows::sim::{SimConfig, SimMode, SimServer, Topology};

use crate::args::SimArgs;

pub fn run(ctx: &Ctx, a: SimArgs) -> Result<u8, Failure> {
    let fail = |e: anyhow::Error| Failure::new(exit::ERROR, e);
    let topology = match &a.topology {
        Some(p) => Topology::from_path(p).map_err(|e| fail(anyhow!("{}: {e}", p.display())))?,
        None => Topology::from_yaml_str(homelab_flows::demo::BUNDLED_TOPOLOGY)
            .map_err(|e| fail(anyhow!("bundled topology: {e}")))?,
    };
    std::fs::create_dir_all(&a.certs)
        .with_context(|| format!("cannot create {}", a.certs.display()))
        .map_err(fail)?;
    let pki =
        ThrowawayPki::generate(&a.certs).map_err(|e| fail(anyhow!("certificates in {}: {e}", a.certs.display())))?;
    ctx.block_on(exit::ERROR, async {
        let mut config = SimConfig::new(topology).with_tls(pki.sim_tls()).with_mode(SimMode::Live {
            prefill_buckets: a.prefill,
        });
        config.bind = a.listen;
        let sim = SimServer::start(config).await.map_err(|e| anyhow!("cannot start the simulator on {}: {e}", a.listen))?;
        println!("Goldmane simulator listening on {} (mTLS; CA and client certificate in {}).", sim.addr(), a.certs.display());
        println!("Buckets of {} s; {} pre-filled. Point the aggregator at it:\n", sim.bucket_seconds(), a.prefill);
        for (k, v) in pki.goldmane_env(&sim) {
            println!("export {k}={v}");
        }
        println!("export DATABASE_URL=sqlite://{}/edges.db", a.certs.display());
        println!("goldmane-edge-aggregator aggregate\n\nCtrl-C stops the simulator.");
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = ticker.tick() => tracing::info!(flows_sent = sim.flows_sent(), streams = sim.open_streams(), "simulator"),
            }
        }
        sim.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?
    .map_err(fail)?;
    Ok(0)
}
