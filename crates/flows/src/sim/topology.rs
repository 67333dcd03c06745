//! The simulator's topology: which namespaces talk, and the flows and ground truth it
//! implies per bucket. Everything here is a pure function of the topology and the bucket
//! start time.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use homelab_core::flows::Action;
use serde::{Deserialize, Serialize};

use crate::goldmane::{flow_record, proto};

/// A simulated cluster: aggregation window, ring size and the edges that carry traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Free text (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Goldmane's aggregation window (15 s in production; 1 s makes live tests fast).
    #[serde(default = "default_bucket_seconds")]
    pub bucket_seconds: u32,
    /// Ring size: how many closed buckets remain available for backfill (242 ≈ 1 h).
    #[serde(default = "default_history_buckets")]
    pub history_buckets: usize,
    pub edges: Vec<EdgeSpec>,
}

fn default_bucket_seconds() -> u32 {
    15
}

fn default_history_buckets() -> usize {
    242
}

/// One communicating pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// `namespace/name`; namespace `-` means "not namespaced" (type `network` by default).
    pub src: String,
    pub dst: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default = "default_proto")]
    pub proto: String,
    #[serde(default)]
    pub verdict: Verdict,
    /// Distinct flow keys per bucket (source name varies).
    #[serde(default = "one")]
    pub connections: u32,
    /// Active in buckets whose index (`start / bucket_seconds`) is a multiple of this.
    #[serde(default = "one")]
    pub every: u32,
    /// Overrides the endpoint type derived from the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_type: Option<EndpointKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_type: Option<EndpointKind>,
}

fn default_proto() -> String {
    "tcp".to_owned()
}

fn one() -> u32 {
    1
}

/// What policy does to the edge's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Allowed on egress and ingress: the source reports Allow, the destination Allow.
    #[default]
    Allow,
    /// Allowed on egress, denied on ingress: source Allow, destination Deny.
    DenyAtDst,
    /// Denied on egress: only the source reports (Deny); the packet never arrives.
    DenyAtSrc,
}

/// Endpoint type (Goldmane's `EndpointType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointKind {
    Workload,
    Host,
    NetworkSet,
    Network,
}

impl EndpointKind {
    /// A Felix runs there and reports the flow.
    fn in_cluster(self) -> bool {
        matches!(self, EndpointKind::Workload | EndpointKind::Host)
    }

    fn to_proto(self) -> proto::EndpointType {
        match self {
            EndpointKind::Workload => proto::EndpointType::WorkloadEndpoint,
            EndpointKind::Host => proto::EndpointType::HostEndpoint,
            EndpointKind::NetworkSet => proto::EndpointType::NetworkSet,
            EndpointKind::Network => proto::EndpointType::Network,
        }
    }
}

/// What the flows of `[from, to)` must add up to, per `(src_ns, dst_ns, action)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpectedEdge {
    /// Connections (flow keys per bucket), each counted once whatever the reporters.
    pub flow_count: i64,
    /// Start of the first bucket the edge appears in.
    pub first_seen: i64,
    /// End of the last bucket the edge appears in.
    pub last_seen: i64,
}

/// Ground truth keyed by `(src_ns, dst_ns, action)`.
pub type ExpectedEdges = BTreeMap<(String, String, Action), ExpectedEdge>;

/// An invalid topology file.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("topology {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("topology: {0}")]
    Parse(String),
    #[error("topology: {0}")]
    Invalid(String),
}

/// A parsed `namespace/name` endpoint.
#[derive(Debug, Clone)]
struct Endpoint {
    namespace: String,
    name: String,
    kind: EndpointKind,
}

impl Endpoint {
    fn parse(s: &str, kind: Option<EndpointKind>) -> Result<Endpoint, String> {
        let (namespace, name) = s
            .split_once('/')
            .ok_or_else(|| format!("endpoint {s:?}: expected namespace/name"))?;
        if namespace.is_empty() || name.is_empty() {
            return Err(format!(
                "endpoint {s:?}: empty namespace or name (use \"-\" for no namespace)"
            ));
        }
        let kind = kind.unwrap_or(if namespace == "-" {
            EndpointKind::Network
        } else {
            EndpointKind::Workload
        });
        Ok(Endpoint {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind,
        })
    }

    /// Goldmane aggregates workload names to their generate-name prefix + `*`.
    fn flow_name(&self, variant: u32) -> String {
        match (self.kind, variant) {
            (EndpointKind::Workload, 0) => format!("{}-*", self.name),
            (EndpointKind::Workload, v) => format!("{}-{v}-*", self.name),
            (_, 0) => self.name.clone(),
            (_, v) => format!("{}-{v}", self.name),
        }
    }

    fn labels(&self) -> Vec<String> {
        match self.kind {
            EndpointKind::Workload => vec![format!("app={}", self.name)],
            _ => Vec::new(),
        }
    }

    /// The edge model's notion of a countable endpoint.
    fn countable(&self) -> bool {
        self.kind == EndpointKind::Workload && !self.namespace.is_empty() && self.namespace != "-"
    }
}

/// A validated edge, ready to generate flows.
#[derive(Debug, Clone)]
struct CompiledEdge {
    src: Endpoint,
    dst: Endpoint,
    port: i64,
    proto: String,
    verdict: Verdict,
    connections: u32,
    every: i64,
    /// `(reporter, action)` messages per connection.
    reports: Vec<(proto::Reporter, proto::Action)>,
}

impl CompiledEdge {
    fn compile(index: usize, e: &EdgeSpec) -> Result<CompiledEdge, String> {
        let at = |m: String| format!("edges[{index}] ({} -> {}): {m}", e.src, e.dst);
        let src = Endpoint::parse(&e.src, e.src_type).map_err(at)?;
        let dst = Endpoint::parse(&e.dst, e.dst_type).map_err(at)?;
        if e.connections == 0 {
            return Err(at("connections must be at least 1".to_owned()));
        }
        if e.every == 0 {
            return Err(at("every must be at least 1".to_owned()));
        }
        if e.proto.is_empty() {
            return Err(at("proto must not be empty".to_owned()));
        }
        use proto::{Action as A, Reporter as R};
        let mut reports = Vec::new();
        match e.verdict {
            Verdict::Allow => {
                if src.kind.in_cluster() {
                    reports.push((R::Src, A::Allow));
                }
                if dst.kind.in_cluster() {
                    reports.push((R::Dst, A::Allow));
                }
                if reports.is_empty() {
                    return Err(at(
                        "neither endpoint is in the cluster: nobody would report it".to_owned()
                    ));
                }
            }
            Verdict::DenyAtDst => {
                if !dst.kind.in_cluster() {
                    return Err(at(
                        "deny-at-dst needs an in-cluster destination (workload or host)".to_owned()
                    ));
                }
                if src.kind.in_cluster() {
                    reports.push((R::Src, A::Allow));
                }
                reports.push((R::Dst, A::Deny));
            }
            Verdict::DenyAtSrc => {
                if !src.kind.in_cluster() {
                    return Err(at(
                        "deny-at-src needs an in-cluster source (workload or host)".to_owned()
                    ));
                }
                reports.push((R::Src, A::Deny));
            }
        }
        Ok(CompiledEdge {
            src,
            dst,
            port: i64::from(e.port),
            proto: e.proto.clone(),
            verdict: e.verdict,
            connections: e.connections,
            every: i64::from(e.every),
            reports,
        })
    }

    fn active(&self, bucket_index: i64) -> bool {
        bucket_index.rem_euclid(self.every) == 0
    }

    /// The edge it makes in the edge model, if any (the edge model's rules, computed from the
    /// topology rather than from flows).
    fn expected_key(&self) -> Option<(String, String, Action)> {
        if !self.src.countable() || !self.dst.countable() || self.src.namespace == self.dst.namespace {
            return None;
        }
        let action = match self.verdict {
            Verdict::Allow => Action::Allow,
            Verdict::DenyAtDst | Verdict::DenyAtSrc => Action::Deny,
        };
        Some((self.src.namespace.clone(), self.dst.namespace.clone(), action))
    }
}

/// A validated topology with its edges compiled.
#[derive(Debug, Clone)]
pub struct CompiledTopology {
    spec: Topology,
    edges: Vec<CompiledEdge>,
}

impl Topology {
    /// Parses YAML (or JSON, a YAML subset) and validates.
    pub fn from_yaml_str(s: &str) -> Result<Topology, TopologyError> {
        let t: Topology = serde_saphyr::from_str(s).map_err(|e| TopologyError::Parse(e.to_string()))?;
        t.compile()?;
        Ok(t)
    }

    pub fn from_path(path: &Path) -> Result<Topology, TopologyError> {
        let s = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml_str(&s).map_err(|e| match e {
            TopologyError::Parse(m) => TopologyError::Parse(format!("{}: {m}", path.display())),
            TopologyError::Invalid(m) => TopologyError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Validates: positive sizes, parsable endpoints, a reporter for every edge, and
    /// flow keys unique within a bucket (Goldmane sends one message per key per bucket).
    pub fn compile(&self) -> Result<CompiledTopology, TopologyError> {
        if self.bucket_seconds == 0 {
            return Err(TopologyError::Invalid("bucket_seconds must be at least 1".to_owned()));
        }
        if self.history_buckets == 0 {
            return Err(TopologyError::Invalid("history_buckets must be at least 1".to_owned()));
        }
        let edges = self
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| CompiledEdge::compile(i, e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(TopologyError::Invalid)?;
        let compiled = CompiledTopology {
            spec: self.clone(),
            edges,
        };
        let mut seen = HashSet::new();
        for (i, e) in compiled.edges.iter().enumerate() {
            for c in 0..e.connections {
                for (reporter, action) in &e.reports {
                    let f = flow_record(compiled.flow(e, c, *reporter, *action, 0, 0));
                    if !seen.insert(f.map_err(|err| TopologyError::Invalid(err.to_string()))?) {
                        return Err(TopologyError::Invalid(format!(
                            "edges[{i}] ({} -> {}): produces the same flow key as an earlier edge",
                            self.edges[i].src, self.edges[i].dst
                        )));
                    }
                }
            }
        }
        Ok(compiled)
    }
}

impl CompiledTopology {
    pub fn spec(&self) -> &Topology {
        &self.spec
    }

    pub fn bucket_seconds(&self) -> i64 {
        i64::from(self.spec.bucket_seconds)
    }

    fn bucket_index(&self, start: i64) -> i64 {
        start.div_euclid(self.bucket_seconds())
    }

    /// Number of flow messages in the bucket starting at `start`.
    pub fn flows_in_bucket(&self, start: i64) -> u64 {
        let idx = self.bucket_index(start);
        self.edges
            .iter()
            .filter(|e| e.active(idx))
            .map(|e| u64::from(e.connections) * e.reports.len() as u64)
            .sum()
    }

    /// The bucket's messages, as Goldmane would stream them: all sharing
    /// `start_time = start`, `end_time = start + bucket_seconds`; ids are stable per key.
    pub fn bucket_results(&self, start: i64) -> Vec<proto::FlowResult> {
        let idx = self.bucket_index(start);
        let end = start + self.bucket_seconds();
        let mut out = Vec::with_capacity(usize::try_from(self.flows_in_bucket(start)).unwrap_or(0));
        for (ei, e) in self.edges.iter().enumerate() {
            if !e.active(idx) {
                continue;
            }
            for c in 0..e.connections {
                for (ri, (reporter, action)) in e.reports.iter().enumerate() {
                    let mut flow = self.flow(e, c, *reporter, *action, start, end);
                    let started = 1 + (idx + i64::from(c)).rem_euclid(3);
                    flow.num_connections_started = started;
                    flow.num_connections_completed = started;
                    flow.packets_out = 10 * started;
                    flow.packets_in = if *action == proto::Action::Deny { 0 } else { 8 * started };
                    flow.bytes_out = 1200 * started;
                    flow.bytes_in = 100 * flow.packets_in;
                    let id = ((ei as i64) << 32) | (i64::from(c) << 2) | ri as i64;
                    out.push(proto::FlowResult { id, flow: Some(flow) });
                }
            }
        }
        out
    }

    fn flow(
        &self,
        e: &CompiledEdge,
        variant: u32,
        reporter: proto::Reporter,
        action: proto::Action,
        start: i64,
        end: i64,
    ) -> proto::Flow {
        proto::Flow {
            key: Some(proto::FlowKey {
                source_name: e.src.flow_name(variant),
                source_namespace: e.src.namespace.clone(),
                source_type: e.src.kind.to_proto() as i32,
                dest_name: e.dst.flow_name(0),
                dest_namespace: e.dst.namespace.clone(),
                dest_type: e.dst.kind.to_proto() as i32,
                dest_port: e.port,
                proto: e.proto.clone(),
                reporter: reporter as i32,
                action: action as i32,
                ..Default::default()
            }),
            start_time: start,
            end_time: end,
            source_labels: e.src.labels(),
            dest_labels: e.dst.labels(),
            ..Default::default()
        }
    }

    /// Ground truth over the given bucket starts, from the topology (not from the flows):
    /// self-edges, `-`/empty namespaces and non-workload endpoints are skipped; each
    /// connection counts once whatever the number of reporters; allowed at the source
    /// but denied at the destination counts as deny.
    pub fn expected_edges(&self, bucket_starts: impl IntoIterator<Item = i64>) -> ExpectedEdges {
        let b = self.bucket_seconds();
        let keyed: Vec<_> = self
            .edges
            .iter()
            .filter_map(|e| e.expected_key().map(|k| (e, k)))
            .collect();
        let mut out = ExpectedEdges::new();
        for start in bucket_starts {
            let idx = self.bucket_index(start);
            for (e, key) in &keyed {
                if !e.active(idx) {
                    continue;
                }
                let entry = out.entry(key.clone()).or_insert(ExpectedEdge {
                    flow_count: 0,
                    first_seen: start,
                    last_seen: start + b,
                });
                entry.flow_count += i64::from(e.connections);
                entry.first_seen = entry.first_seen.min(start);
                entry.last_seen = entry.last_seen.max(start + b);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goldmane::flow_result_record;
    use homelab_core::flows::{EndpointType, Reporter};

    const EXAMPLE: &str = r#"
bucket_seconds: 15
history_buckets: 242
edges:
  - {src: frontend/web, dst: backend/api, port: 8080, proto: tcp, verdict: allow, connections: 3}
  - {src: frontend/web, dst: dbaas/pg, port: 5432, verdict: deny-at-dst}
  - {src: frontend/web, dst: kube-system/kube-dns, port: 53, proto: udp, verdict: deny-at-src}
  - {src: "-/pub", dst: frontend/web, port: 443, verdict: allow}
  - {src: backend/api, dst: backend/worker, verdict: allow}
  - {src: backend/cron, dst: dbaas/pg, port: 5432, every: 4}
"#;

    fn example() -> CompiledTopology {
        Topology::from_yaml_str(EXAMPLE).unwrap().compile().unwrap()
    }

    #[test]
    fn reporters_follow_the_verdicts() {
        let t = example();
        let flows: Vec<_> = t
            .bucket_results(1_500)
            .into_iter()
            .map(|r| flow_result_record(r).unwrap())
            .collect();
        // 3×2 + 2 + 1 + 1 + 2 (+ cron: bucket 100 is a multiple of 4 → 2)
        assert_eq!(flows.len(), 14);
        assert_eq!(t.flows_in_bucket(1_500), 14);
        assert_eq!(t.flows_in_bucket(1_515), 12);
        assert!(flows.iter().all(|f| f.start_time == 1_500 && f.end_time == 1_515));

        let of = |dst: &str| flows.iter().filter(|f| f.dest_namespace == dst).collect::<Vec<_>>();
        let pg: Vec<_> = of("dbaas")
            .into_iter()
            .filter(|f| f.source_namespace == "frontend")
            .collect();
        assert_eq!(
            pg.iter().map(|f| (f.reporter, f.action)).collect::<Vec<_>>(),
            [(Reporter::Src, Action::Allow), (Reporter::Dst, Action::Deny)]
        );
        let dns = of("kube-system");
        assert_eq!(
            dns.iter().map(|f| (f.reporter, f.action)).collect::<Vec<_>>(),
            [(Reporter::Src, Action::Deny)]
        );
        assert_eq!(dns[0].proto, "udp");
        let ext: Vec<_> = flows.iter().filter(|f| f.source_namespace == "-").collect();
        assert_eq!(ext.len(), 1);
        assert_eq!(
            (ext[0].reporter, ext[0].source_type),
            (Reporter::Dst, EndpointType::Network)
        );
        assert_eq!(ext[0].source_name, "pub");

        let api: Vec<_> = of("backend")
            .into_iter()
            .filter(|f| f.source_namespace == "frontend")
            .collect();
        let names: HashSet<_> = api.iter().map(|f| f.source_name.as_str()).collect();
        assert_eq!(names, HashSet::from(["web-*", "web-1-*", "web-2-*"]));
    }

    #[test]
    fn expected_edges_skip_excluded_and_count_connections_once() {
        let t = example();
        let got = t.expected_edges([1_500, 1_515, 1_530, 1_545, 1_560]);
        let key = |s: &str, d: &str, a| (s.to_owned(), d.to_owned(), a);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            got[&key("frontend", "backend", Action::Allow)],
            ExpectedEdge {
                flow_count: 15,
                first_seen: 1_500,
                last_seen: 1_575
            }
        );
        assert_eq!(got[&key("frontend", "dbaas", Action::Deny)].flow_count, 5);
        assert_eq!(got[&key("frontend", "kube-system", Action::Deny)].flow_count, 5);
        // every: 4 → buckets 100 and 104 only.
        assert_eq!(
            got[&key("backend", "dbaas", Action::Allow)],
            ExpectedEdge {
                flow_count: 2,
                first_seen: 1_500,
                last_seen: 1_575
            }
        );
    }

    #[test]
    fn invalid_topologies_are_rejected_with_the_edge_named() {
        let bad = |yaml: &str| Topology::from_yaml_str(yaml).unwrap_err().to_string();
        assert!(bad("edges: [{src: web, dst: a/b}]").contains("namespace/name"));
        assert!(bad("edges: [{src: a/b, dst: c/d, verdict: maybe}]").contains("maybe"));
        assert!(bad("edges: [{src: a/b, dst: c/d, colour: red}]").contains("colour"));
        assert!(bad("edges: [{src: a/b, dst: -/pub, verdict: deny-at-dst}]").contains("edges[0]"));
        assert!(bad("edges: [{src: -/pub, dst: -/pvt}]").contains("nobody"));
        assert!(bad("edges: [{src: a/b, dst: c/d}, {src: a/b, dst: c/d}]").contains("edges[1]"));
        assert!(bad("bucket_seconds: 0\nedges: []").contains("bucket_seconds"));
        assert!(bad("edges: [{src: a/b, dst: c/d, connections: 0}]").contains("connections"));
    }

    #[test]
    fn json_is_accepted_and_defaults_apply() {
        let t = Topology::from_yaml_str(r#"{"edges": [{"src": "a/x", "dst": "b/y", "port": 80}]}"#).unwrap();
        assert_eq!(t.bucket_seconds, 15);
        assert_eq!(t.history_buckets, 242);
        assert_eq!(t.edges[0].proto, "tcp");
        assert_eq!(t.edges[0].verdict, Verdict::Allow);
        assert_eq!(t.edges[0].connections, 1);
    }

    #[test]
    fn shipped_topologies_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/topologies");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            Topology::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
        assert!(n >= 2);
    }
}
