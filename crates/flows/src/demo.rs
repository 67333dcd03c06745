//! The flow-trail run of `homelab demo`: product code (what a demo needs at run time
//! ships with the product), not test support.
//!
//! On loopback, no cluster needed: a Goldmane simulator (mTLS with throwaway
//! certificates) streams [`BUCKETS`] buckets of the bundled homelab topology, the real
//! aggregator writes the edges into an embedded SQLite file, and the run then reads them
//! back the way `homelab edges` would and derives the staged policy of [`NAMESPACE`].
//! [`run_flow_trail`] returns the data; printing it is the caller's business.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use homelab_core::flows::netpol::{DerivedPolicy, PolicyRequest, derive};
use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
use homelab_core::flows::{Action, EdgeRow};
use thiserror::Error;

use crate::aggregator::{self, AggregatorConfig, Metrics, unix_now};
use crate::goldmane::{GoldmaneClient, GoldmaneError};
use crate::sim::pki::{PkiError, ThrowawayPki};
use crate::sim::{SimConfig, SimError, SimMode, SimServer, Topology, TopologyError};
use crate::store::{self, EdgeStore, StoreError};

/// The homelab topology bundled with the product (`homelab demo`, and `homelab sim`
/// without `--topology`).
pub const BUNDLED_TOPOLOGY: &str = include_str!("../testdata/topologies/homelab.yaml");

/// How many 15 s buckets the simulator streams (a burst ending about 25 minutes ago).
pub const BUCKETS: usize = 20;

/// The namespace the demo queries and derives a policy for.
pub const NAMESPACE: &str = "nextcloud";

/// How long the aggregator may take to reach the last bucket.
pub const CONVERGENCE_LIMIT: Duration = Duration::from_secs(60);

/// Rows read for the per-namespace view (what `homelab edges --ns` reads by default).
const NS_LIMIT: u32 = 200;

/// What the flow-trail run saw, for the caller to print.
#[derive(Debug, Clone)]
pub struct FlowTrailDemo {
    /// The simulator's loopback address (gone once the run returns).
    pub sim_addr: SocketAddr,
    /// Buckets streamed ([`BUCKETS`]).
    pub buckets: usize,
    /// The SQLite file the aggregator wrote (inside the caller's directory).
    pub db_path: PathBuf,
    /// Flows the aggregator received.
    pub flows_received: u64,
    /// Every edge in the store.
    pub edges: Vec<EdgeRow>,
    /// The edges of [`NAMESPACE`] (`homelab edges --ns nextcloud`).
    pub namespace_edges: Vec<EdgeRow>,
    /// The denied edges, in store order (`homelab edges --denied`).
    pub denied: Vec<EdgeRow>,
    /// The staged policy derived for [`NAMESPACE`].
    pub policy: DerivedPolicy,
    /// When the trail began (Unix seconds).
    pub observed_since: Option<i64>,
}

/// Why the run failed. The text is the underlying error's, one line.
#[derive(Debug, Error)]
pub enum DemoError {
    #[error("{0}")]
    Topology(#[from] TopologyError),
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    Sim(#[from] SimError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Goldmane(#[from] GoldmaneError),
    #[error("the aggregator did not catch up within {} s", .0.as_secs())]
    NotCaughtUp(Duration),
}

/// Runs the flow trail end to end in `dir` (certificates and `edges.db` go there; the
/// caller owns and removes it). Needs a tokio runtime with I/O and time enabled, and a
/// rustls crypto provider installed for the process (the binaries install one at start).
pub async fn run_flow_trail(dir: &Path) -> Result<FlowTrailDemo, DemoError> {
    let topology = Topology::from_yaml_str(BUNDLED_TOPOLOGY)?;
    let pki = ThrowawayPki::generate(dir)?;
    let t0 = (unix_now() - 1800) / 15 * 15;
    let sim = SimServer::start(
        SimConfig::new(topology)
            .with_tls(pki.sim_tls())
            .with_mode(SimMode::Burst { t0, buckets: BUCKETS }),
    )
    .await?;
    let sim_addr = sim.addr();
    let result = aggregate_and_read(dir, &pki, sim_addr, t0).await;
    sim.shutdown().await;
    let mut demo = result?;
    demo.sim_addr = sim_addr;
    Ok(demo)
}

async fn aggregate_and_read(
    dir: &Path,
    pki: &ThrowawayPki,
    sim_addr: SocketAddr,
    t0: i64,
) -> Result<FlowTrailDemo, DemoError> {
    let db_path = dir.join("edges.db");
    let store = Arc::new(store::connect(&format!("sqlite://{}", db_path.display())).await?);
    let client = GoldmaneClient::new(pki.goldmane_config_for(sim_addr))?;
    let metrics = Arc::new(Metrics::new(unix_now()));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let config = AggregatorConfig {
        flush_interval: Duration::from_millis(200),
        quiet_close: Duration::from_secs(1),
        ..AggregatorConfig::default()
    };
    let task = tokio::spawn(aggregator::run(
        client,
        Arc::clone(&store),
        config,
        Arc::clone(&metrics),
        stop_rx,
    ));
    let caught_up = wait_for_cursor(store.as_ref(), t0 + BUCKETS as i64 * 15, CONVERGENCE_LIMIT).await;
    let _ = stop.send(true);
    let _ = task.await;
    caught_up?;

    let edges = store
        .edges(&EdgeQuery {
            limit: MAX_LIMIT,
            ..EdgeQuery::default()
        })
        .await?;
    let namespace_edges = store
        .edges(&EdgeQuery {
            ns: Some(NAMESPACE.into()),
            limit: NS_LIMIT,
            ..EdgeQuery::default()
        })
        .await?;
    let denied = denied_edges(&edges);
    let observed_since = store.observed_since().await?;
    let policy = derive(
        &PolicyRequest {
            namespace: NAMESPACE.into(),
            staged: true,
            dns_cidrs: vec![],
            observed_since,
            now: unix_now(),
        },
        &edges,
    );
    Ok(FlowTrailDemo {
        sim_addr,
        buckets: BUCKETS,
        db_path,
        flows_received: metrics.flows_received(),
        edges,
        namespace_edges,
        denied,
        policy,
        observed_since,
    })
}

/// Polls the store's cursor every 100 ms until it reaches `end`, for at most `limit`.
async fn wait_for_cursor<St: EdgeStore>(store: &St, end: i64, limit: Duration) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + limit;
    while store.cursor().await.ok().flatten() != Some(end) {
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError::NotCaughtUp(limit));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn denied_edges(edges: &[EdgeRow]) -> Vec<EdgeRow> {
    edges.iter().filter(|e| e.action == Action::Deny).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_topology_parses_and_has_the_demo_namespace() {
        let t = Topology::from_yaml_str(BUNDLED_TOPOLOGY).unwrap();
        assert!(format!("{t:?}").contains(NAMESPACE));
    }

    #[test]
    fn the_convergence_error_names_the_limit() {
        assert_eq!(
            DemoError::NotCaughtUp(CONVERGENCE_LIMIT).to_string(),
            "the aggregator did not catch up within 60 s"
        );
    }

    #[tokio::test]
    async fn waiting_on_an_empty_store_times_out() {
        let store = store::connect("sqlite::memory:").await.unwrap();
        let e = wait_for_cursor(&store, 15, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, DemoError::NotCaughtUp(_)), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_flow_trail_runs_end_to_end() {
        homelab_k8s::ensure_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let demo = run_flow_trail(dir.path()).await.unwrap();
        assert_eq!(demo.buckets, BUCKETS);
        assert!(demo.flows_received > 0);
        assert!(!demo.edges.is_empty());
        assert_eq!(demo.denied, denied_edges(&demo.edges));
        assert!(!demo.denied.is_empty());
        assert!(!demo.namespace_edges.is_empty());
        assert!(
            demo.namespace_edges
                .iter()
                .all(|e| e.src_ns == NAMESPACE || e.dst_ns == NAMESPACE)
        );
        assert!(demo.observed_since.is_some());
        assert_eq!(demo.db_path, dir.path().join("edges.db"));
        assert!(demo.db_path.exists());
    }
}
