//! A Goldmane-compatible `goldmane.Flows` server streaming synthetic flows from a
//! topology, for the demo, the tests and the benchmarks; [`pki`] makes the throwaway
//! certificates `homelab sim` and `homelab demo` serve it with.
//!
//! # Topology file
//!
//! YAML (or JSON, which is YAML) read with [`Topology::from_path`]:
//!
//! ```yaml
//! description: demo            # free text (optional)
//! bucket_seconds: 15          # Goldmane's aggregation window (default 15)
//! history_buckets: 242        # ring size for backfill (default 242 ≈ 1 h)
//! edges:
//!   - {src: frontend/web, dst: backend/api, port: 8080, proto: tcp, verdict: allow, connections: 3}
//!   - {src: frontend/web, dst: dbaas/pg, port: 5432, verdict: deny-at-dst}   # src Allow, dst Deny
//!   - {src: frontend/web, dst: kube-system/kube-dns, port: 53, proto: udp, verdict: deny-at-src}
//!   - {src: "-/pub", dst: frontend/web, port: 443, verdict: allow}          # external source
//!   - {src: backend/api, dst: backend/worker, verdict: allow}             # self-edge
//!   - {src: backup/restic, dst: dbaas/pg, port: 5432, every: 240}         # once an hour
//!   - {src: "-/node", dst: monitoring/prometheus, src_type: host}         # host endpoint
//! ```
//!
//! Edge fields:
//!
//! | field | default | meaning |
//! |---|---|---|
//! | `src`, `dst` | required | `namespace/name`; namespace `-` = not namespaced |
//! | `port` | `0` | destination port |
//! | `proto` | `tcp` | protocol string as Goldmane sends it |
//! | `verdict` | `allow` | `allow`, `deny-at-dst`, `deny-at-src` |
//! | `connections` | `1` | distinct flow keys per bucket (source names `web-*`, `web-1-*`, …) |
//! | `every` | `1` | active only in buckets whose index (`start / bucket_seconds`) is a multiple |
//! | `src_type`, `dst_type` | derived | `workload`, `host`, `network-set`, `network`; derived: `network` for namespace `-`, else `workload` |
//!
//! Reporters follow what the Felixes would report: `allow` → source Allow + destination
//! Allow; `deny-at-dst` → source Allow + destination Deny; `deny-at-src` → source Deny
//! only. Only in-cluster endpoints (`workload`, `host`) report, so an external side
//! produces a single message. Unknown fields, unparsable endpoints, edges nobody would
//! report and edges whose flow keys collide are rejected.
//!
//! # Clock and `start_time_gte`
//!
//! - [`SimMode::Live`]: wall-clock buckets `[k·b, (k+1)·b)`, each closed and streamed
//!   right after it ends, kept in a ring of `history_buckets`. `start_time_gte` works as
//!   in Goldmane: `0` = only buckets closing from now on, `< 0` = relative seconds, `> 0`
//!   = absolute; a non-zero value first backfills the ring's buckets with
//!   `start >= start_time_gte`, then continues live — gap-free and duplicate-free within
//!   a connection. `prefill_buckets` pretends Goldmane had been running already.
//! - [`SimMode::Burst`]: a virtual clock for benchmarks and fast tests: `buckets`
//!   consecutive buckets from `t0`, streamed as fast as the client reads (or paced by
//!   `rate_limit` flows/s per stream). `start_time_gte > 0` resumes from the buckets with
//!   `start >= start_time_gte`; `<= 0` streams the whole burst. After the last bucket the
//!   stream stays open and silent, like an idle cluster. [`SimHandle::total_flows`] gives
//!   the message count of the whole burst in advance.
//!
//! All flows of a bucket share `start_time`/`end_time`; `Filter` and
//! `aggregation_interval` are ignored; `List` and `FilterHints` answer `Unimplemented`;
//! at most `max_streams` (100) streams, then `ResourceExhausted` as Goldmane does.
//!
//! # Ground truth
//!
//! [`SimHandle::expected_edges`] derives the namespace edges from the topology (not from
//! the flows, and not with the core edge model) over the generated buckets whose start
//! lies in `[from, to)`: skip self-edges, `-`/empty namespaces and non-workload endpoints,
//! count each connection once whatever its reporters, allowed at the source but denied
//! at the destination = deny, `first_seen`/`last_seen` = bucket start/end.

pub mod pki;
mod server;
mod topology;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

pub use server::{SimHandle, SimServer};
pub use topology::{
    CompiledTopology, EdgeSpec, EndpointKind, ExpectedEdge, ExpectedEdges, Topology, TopologyError, Verdict,
};

/// How the simulator's clock runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimMode {
    /// Wall-clock buckets, with `prefill_buckets` already-closed buckets in the ring at
    /// start (capped to `history_buckets`).
    Live { prefill_buckets: usize },
    /// `buckets` virtual buckets from `t0`, as fast as the client reads.
    Burst { t0: i64, buckets: usize },
}

/// Server certificate (PEM) and, for mTLS, the CA that client certificates must chain to.
#[derive(Clone)]
pub struct SimTls {
    pub cert_pem: String,
    pub key_pem: String,
    /// `Some` = client certificates required and verified against this CA.
    pub client_ca_pem: Option<String>,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("key_pem", &"<redacted>")
            .field("mtls", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl SimTls {
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<SimTls, SimError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| SimError::Tls(format!("{}: {e}", p.display())));
        Ok(SimTls {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            client_ca_pem: client_ca.map(read).transpose()?,
        })
    }
}

/// Everything [`SimServer::start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub topology: Topology,
    /// Default `127.0.0.1:0` (an ephemeral port, see [`SimHandle::addr`]).
    pub bind: SocketAddr,
    /// `None` = plaintext (grpcurl demos only: the Goldmane client always uses TLS).
    pub tls: Option<SimTls>,
    pub mode: SimMode,
    /// Flows per second per stream; `None` = as fast as the client reads.
    pub rate_limit: Option<u64>,
    /// Concurrent streams before `ResourceExhausted` (Goldmane: 100).
    pub max_streams: usize,
}

impl SimConfig {
    /// Live mode without prefill, plaintext, on `127.0.0.1:0`.
    pub fn new(topology: Topology) -> SimConfig {
        SimConfig {
            topology,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            mode: SimMode::Live { prefill_buckets: 0 },
            rate_limit: None,
            max_streams: 100,
        }
    }

    pub fn with_tls(mut self, tls: SimTls) -> SimConfig {
        self.tls = Some(tls);
        self
    }

    pub fn with_mode(mut self, mode: SimMode) -> SimConfig {
        self.mode = mode;
        self
    }

    pub fn with_rate_limit(mut self, flows_per_sec: u64) -> SimConfig {
        self.rate_limit = Some(flows_per_sec);
        self
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("simulator: cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("simulator TLS: {0}")]
    Tls(String),
}
