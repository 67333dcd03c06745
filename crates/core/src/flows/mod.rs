//! The flow trail's edge model: Goldmane flows in, durable namespace edges out.
//!
//! - [`FlowRecord`]: one Goldmane flow (a flow key in one 15 s bucket), decoupled from
//!   the protobuf types so this crate stays pure;
//! - [`edge_of`] / [`Exclusion`]: which flows make an edge `(src_ns, dst_ns, action)`;
//! - [`assembler::BucketAssembler`]: groups a stream's flows per bucket, counts a
//!   connection once whatever the number of reporters (allowed at the source but denied
//!   at the destination = deny), closes buckets, coalesces them into [`EdgeDelta`]s and
//!   keeps the resume cursor (`start_time_gte`) so a reconnect neither loses nor
//!   double-counts;
//! - [`query`]: the `homelab edges` filters, validated; [`render`]: table, JSON, CSV,
//!   DOT, Mermaid; [`netpol`]: an egress NetworkPolicy from observed edges; [`digest`]:
//!   the daily Slack message of new edges.
//!
//! Timestamps are Unix seconds (UTC) throughout ([`crate::time`] converts); adapters
//! convert at the boundary.

pub mod assembler;
pub mod digest;
pub mod netpol;
pub mod query;
pub mod render;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A flow's verdict, as Goldmane's `Action` (only allow/deny occur in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
    Pass,
    Unspecified,
}

impl Action {
    /// The lowercase word stored in the `edge.action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Pass => "pass",
            Action::Unspecified => "unspecified",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "allow" => Some(Action::Allow),
            "deny" => Some(Action::Deny),
            "pass" => Some(Action::Pass),
            "unspecified" => Some(Action::Unspecified),
            _ => None,
        }
    }

    /// Combining the reports of one connection: any deny wins, then allow, then pass.
    pub fn combine(self, other: Action) -> Action {
        fn rank(a: Action) -> u8 {
            match a {
                Action::Deny => 3,
                Action::Allow => 2,
                Action::Pass => 1,
                Action::Unspecified => 0,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which Felix reported the flow (Goldmane's `Reporter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reporter {
    Src,
    Dst,
    Unspecified,
}

/// Goldmane's `EndpointType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    Unspecified,
    WorkloadEndpoint,
    HostEndpoint,
    NetworkSet,
    Network,
}

/// One Goldmane flow: a flow key observed in one aggregation bucket
/// (`start_time`..`end_time`, Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FlowRecord {
    pub source_namespace: String,
    pub source_name: String,
    pub source_type: EndpointType,
    pub dest_namespace: String,
    pub dest_name: String,
    pub dest_type: EndpointType,
    pub dest_port: i64,
    pub proto: String,
    pub reporter: Reporter,
    pub action: Action,
    pub start_time: i64,
    pub end_time: i64,
    pub num_connections_started: i64,
}

/// The durable edge identity: the `edge` table's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EdgeKey {
    pub src_ns: String,
    pub dst_ns: String,
    pub action: Action,
}

/// What a batch adds to one edge: merged into the table as
/// `first_seen = min`, `last_seen = max`, `flow_count = sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EdgeDelta {
    pub first_seen: i64,
    pub last_seen: i64,
    pub flow_count: i64,
}

impl EdgeDelta {
    /// Merging is commutative and associative, so deltas can be retried and re-merged.
    pub fn merge(&mut self, other: &EdgeDelta) {
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.flow_count = self.flow_count.saturating_add(other.flow_count);
    }
}

/// One flush: every edge delta since the last successful flush, and the resume cursor
/// to store with them (the end of the newest bucket whose flows are all in `edges`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushBatch {
    /// Sorted by key (deterministic statements, stable lock order in the database).
    pub edges: Vec<(EdgeKey, EdgeDelta)>,
    /// `None` when no bucket closed since the last flush.
    pub cursor: Option<i64>,
}

impl FlushBatch {
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty() && self.cursor.is_none()
    }
}

/// A row of the `edge` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EdgeRow {
    pub src_ns: String,
    pub dst_ns: String,
    pub action: Action,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
    pub flow_count: i64,
}

/// Why a flow makes no edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// Source and destination are the same namespace.
    SelfEdge,
    /// A namespace is empty or `-` (host endpoint, public or private network).
    NoNamespace,
    /// An endpoint is a host endpoint, a network or a NetworkSet: a namespaced NetworkSet
    /// carries a namespace but stands for external addresses.
    NotAWorkload,
}

/// Namespaces Goldmane uses for "no namespace".
pub fn is_no_namespace(ns: &str) -> bool {
    ns.is_empty() || ns == "-"
}

/// The edge a flow contributes to, or why it contributes none.
pub fn edge_of(f: &FlowRecord) -> Result<EdgeKey, Exclusion> {
    if is_no_namespace(&f.source_namespace) || is_no_namespace(&f.dest_namespace) {
        return Err(Exclusion::NoNamespace);
    }
    let not_workload = |t: EndpointType| !matches!(t, EndpointType::WorkloadEndpoint | EndpointType::Unspecified);
    if not_workload(f.source_type) || not_workload(f.dest_type) {
        return Err(Exclusion::NotAWorkload);
    }
    if f.source_namespace == f.dest_namespace {
        return Err(Exclusion::SelfEdge);
    }
    Ok(EdgeKey {
        src_ns: f.source_namespace.clone(),
        dst_ns: f.dest_namespace.clone(),
        action: f.action,
    })
}

/// A Kubernetes namespace name (RFC 1123 label): 1–63 of `[a-z0-9-]`, alphanumeric at
/// both ends. Everything a user passes as a namespace is checked with this.
pub fn is_valid_namespace(s: &str) -> bool {
    crate::names::is_dns_label(s)
}
