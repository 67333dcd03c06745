//! From observed edges to a reviewable egress policy for one namespace
//! (`homelab edges policy --ns N [--staged]`).
//!
//! The policy allows what was observed and what every pod needs even though the edge
//! table cannot show it: the namespace's observed `allow` egress peers (namespace
//! granularity, port-less: edges aggregate ports away), DNS to kube-dns, and traffic
//! inside the namespace (self-edges are not stored). Denied and unobserved destinations
//! stay blocked once the policy is enforced — which is why `--staged` (a Calico
//! `StagedNetworkPolicy`, evaluated but not enforced) is the recommended first step.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Action, EdgeRow, is_valid_namespace};
use crate::time::format_rfc3339;

/// An edge set observed for less than this is probably incomplete (weekly jobs, 7-day
/// credential rotations).
pub const MIN_OBSERVATION_SECONDS: i64 = 7 * 86_400;

/// A DNS destination for [`PolicyRequest::dns_cidrs`]: an IPv4/IPv6 address (made a
/// /32 or /128) or a CIDR with a valid prefix length; `None` when it is neither.
pub fn dns_cidr(s: &str) -> Option<String> {
    let (ip, bits) = s.split_once('/').map_or((s, None), |(i, b)| (i, Some(b)));
    let addr: std::net::IpAddr = ip.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match bits {
        None => Some(format!("{addr}/{max}")),
        Some(b) => b
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .map(|b| format!("{addr}/{b}")),
    }
}

/// What to derive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRequest {
    pub namespace: String,
    /// Emit a Calico `StagedNetworkPolicy` instead of a Kubernetes `NetworkPolicy`.
    pub staged: bool,
    /// Extra DNS destinations (e.g. the kube-dns ClusterIP `10.96.0.10/32`): some Calico
    /// setups drop DNS to a ClusterIP under a pod-selector-only rule.
    pub dns_cidrs: Vec<String>,
    /// When the edge table started observing (min first_seen), Unix seconds.
    pub observed_since: Option<i64>,
    pub now: i64,
}

/// The derived policy and what the operator should know before applying it.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedPolicy {
    pub object: Value,
    pub peers: Vec<String>,
    pub warnings: Vec<String>,
}

/// Derives the egress policy from `edges` (any rows; only `src_ns == namespace` and
/// `allow` are used).
pub fn derive(req: &PolicyRequest, edges: &[EdgeRow]) -> DerivedPolicy {
    let ns = &req.namespace;
    let peers: Vec<String> = edges
        .iter()
        .filter(|e| &e.src_ns == ns && e.action == Action::Allow && e.dst_ns != *ns && is_valid_namespace(&e.dst_ns))
        .map(|e| e.dst_ns.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let denied: BTreeSet<&str> = edges
        .iter()
        .filter(|e| &e.src_ns == ns && e.action == Action::Deny)
        .map(|e| e.dst_ns.as_str())
        .collect();

    let mut warnings = Vec::new();
    match req.observed_since {
        Some(since) if req.now - since < MIN_OBSERVATION_SECONDS => warnings.push(format!(
            "only {:.1} days observed (since {}); collect at least 7 days before trusting this allowlist",
            (req.now - since) as f64 / 86_400.0,
            format_rfc3339(since)
        )),
        None => warnings.push("no edges observed yet; the policy allows only DNS and same-namespace traffic".into()),
        _ => {}
    }
    if peers.is_empty() && req.observed_since.is_some() {
        warnings.push(format!("no allowed egress from {ns} to other namespaces was observed"));
    }
    let both: Vec<&str> = peers
        .iter()
        .map(String::as_str)
        .filter(|p| denied.contains(p))
        .collect();
    if !both.is_empty() {
        warnings.push(format!(
            "{} also had denied traffic from {ns}; review before enforcing",
            both.join(", ")
        ));
    }
    if !req.staged {
        warnings.push("apply it staged first (--staged) and watch for pending denies before enforcing".into());
    }

    let annotations = json!({
        "homelab/generated-by": "homelab edges policy",
        "homelab/observed-since": req.observed_since.map(format_rfc3339).unwrap_or_else(|| "never".into()),
        "homelab/generated-at": format_rfc3339(req.now),
    });
    let name = format!("{ns}-egress-observed");
    let object = if req.staged {
        staged(ns, &name, annotations, &peers, &req.dns_cidrs)
    } else {
        kubernetes(ns, &name, annotations, &peers, &req.dns_cidrs)
    };
    DerivedPolicy {
        object,
        peers,
        warnings,
    }
}

fn kubernetes(ns: &str, name: &str, annotations: Value, peers: &[String], dns_cidrs: &[String]) -> Value {
    let dns_ports = json!([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]);
    let mut dns_to = vec![json!({
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    })];
    dns_to.extend(dns_cidrs.iter().map(|c| json!({"ipBlock": {"cidr": c}})));
    let mut egress = vec![
        json!({"to": [{"podSelector": {}}]}),
        json!({"to": dns_to, "ports": dns_ports}),
    ];
    if !peers.is_empty() {
        egress.push(json!({"to": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": peers}
        ]}}]}));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
    })
}

fn staged(ns: &str, name: &str, annotations: Value, peers: &[String], dns_cidrs: &[String]) -> Value {
    let quoted = |xs: &[String]| xs.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ");
    let dns_dest = json!({
        "namespaceSelector": "kubernetes.io/metadata.name == 'kube-system'",
        "selector": "k8s-app == 'kube-dns'",
        "ports": [53],
    });
    let mut egress = vec![json!({"action": "Allow", "destination": {"selector": "all()"}})];
    for proto in ["UDP", "TCP"] {
        egress.push(json!({"action": "Allow", "protocol": proto, "destination": dns_dest}));
        if !dns_cidrs.is_empty() {
            egress
                .push(json!({"action": "Allow", "protocol": proto, "destination": {"nets": dns_cidrs, "ports": [53]}}));
        }
    }
    if !peers.is_empty() {
        egress.push(json!({"action": "Allow", "destination": {
            "namespaceSelector": format!("kubernetes.io/metadata.name in {{{}}}", quoted(peers))
        }}));
    }
    json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "StagedNetworkPolicy",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"stagedAction": "Set", "tier": "default", "selector": "all()", "types": ["Egress"], "egress": egress},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(src: &str, dst: &str, action: Action) -> EdgeRow {
        EdgeRow {
            src_ns: src.into(),
            dst_ns: dst.into(),
            action,
            first_seen: 0,
            last_seen: 0,
            flow_count: 1,
        }
    }

    fn req(staged: bool, since: Option<i64>) -> PolicyRequest {
        PolicyRequest {
            namespace: "web".into(),
            staged,
            dns_cidrs: vec![],
            observed_since: since,
            now: 30 * 86_400,
        }
    }

    #[test]
    fn allows_observed_allow_peers_dns_and_same_namespace() {
        let edges = [
            e("web", "api", Action::Allow),
            e("web", "db", Action::Deny),
            e("other", "x", Action::Allow),
            e("web", "cache", Action::Allow),
            e("web", "api", Action::Allow),
        ];
        let p = derive(&req(false, Some(0)), &edges);
        assert_eq!(p.peers, vec!["api", "cache"]);
        let o = &p.object;
        assert_eq!(o["kind"], "NetworkPolicy");
        assert_eq!(o["metadata"]["namespace"], "web");
        let egress = o["spec"]["egress"].as_array().unwrap();
        assert_eq!(egress[0]["to"][0]["podSelector"], json!({}));
        assert_eq!(egress[1]["ports"][0]["port"], 53);
        assert_eq!(
            egress[2]["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["api", "cache"])
        );
        assert!(!p.warnings.iter().any(|w| w.contains("days observed")));
    }

    #[test]
    fn dns_cidrs() {
        assert_eq!(dns_cidr("10.96.0.10").as_deref(), Some("10.96.0.10/32"));
        assert_eq!(dns_cidr("10.96.0.0/12").as_deref(), Some("10.96.0.0/12"));
        assert_eq!(dns_cidr("fd00::a").as_deref(), Some("fd00::a/128"));
        for bad in [
            "",
            "10.96.0.10/33",
            "fd00::/129",
            "not-an-ip",
            "10.96.0.10/x",
            "1.2.3/8",
        ] {
            assert_eq!(dns_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_window_and_staged() {
        let p = derive(
            &req(true, Some(30 * 86_400 - 2 * 86_400)),
            &[e("web", "api", Action::Allow)],
        );
        assert!(p.warnings[0].starts_with("only 2.0 days observed"), "{:?}", p.warnings);
        assert_eq!(p.object["kind"], "StagedNetworkPolicy");
        assert_eq!(p.object["spec"]["stagedAction"], "Set");
        let last = p.object["spec"]["egress"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            last["destination"]["namespaceSelector"],
            "kubernetes.io/metadata.name in {'api'}"
        );
        let none = derive(&req(false, None), &[]);
        assert!(none.warnings[0].contains("no edges observed"));
        assert_eq!(none.object["spec"]["egress"].as_array().unwrap().len(), 2);
    }
}
