//! NetworkPolicy reasoning for the metadata-egress rule: which namespaces deny egress by
//! default and never allow the cloud metadata address, with real CIDR arithmetic.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::Value;

/// The cloud metadata address (AWS, GCP, Azure, OpenStack).
pub const METADATA_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// Does an IPv4 CIDR (`a.b.c.d/n`, or a bare address as `/32`) contain `ip`? `None` when
/// the text is not an IPv4 CIDR (an IPv6 block never contains an IPv4 address).
pub fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> Option<bool> {
    let (addr, len) = match cidr.trim().split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()?),
        None => (cidr.trim(), 32),
    };
    if addr.contains(':') {
        return Some(false);
    }
    let addr: Ipv4Addr = addr.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some(u32::from(addr) & mask == u32::from(ip) & mask)
}

/// What the NetworkPolicies of one namespace do about metadata egress.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NamespaceEgress {
    /// Name of a policy selecting every pod (`podSelector: {}`) with Egress in force.
    pub default_deny: Option<String>,
    /// Policies with an egress rule that lets 169.254.169.254 through: (policy, rule index).
    pub allows_metadata: Vec<(String, usize)>,
}

impl NamespaceEgress {
    pub fn protected(&self) -> bool {
        self.default_deny.is_some() && self.allows_metadata.is_empty()
    }
}

/// Adds one NetworkPolicy object to the per-namespace table (key: namespace, `""` when
/// the manifest leaves it to `kubectl -n`).
pub fn add_policy(table: &mut BTreeMap<String, NamespaceEgress>, policy: &Value) {
    let (name, ns) = crate::manifest::name_and_namespace(policy);
    let entry = table.entry(ns.unwrap_or("").to_owned()).or_default();
    let name = name.unwrap_or("(unnamed)").to_owned();
    let spec = policy.get("spec");
    let types: Option<Vec<&str>> = spec
        .and_then(|s| s.get("policyTypes"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let egress = spec.and_then(|s| s.get("egress"));
    // Kubernetes: without policyTypes, Egress applies only when an egress section exists.
    let egress_in_force = match &types {
        Some(t) => t.iter().any(|t| t.eq_ignore_ascii_case("Egress")),
        None => egress.is_some(),
    };
    if !egress_in_force {
        return;
    }
    let selector = spec.and_then(|s| s.get("podSelector"));
    let selects_all = match selector {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.values().all(|v| match v {
            Value::Null => true,
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }),
        Some(_) => false,
    };
    if selects_all && entry.default_deny.is_none() {
        entry.default_deny = Some(name.clone());
    }
    for (i, rule) in egress.and_then(Value::as_array).into_iter().flatten().enumerate() {
        if rule_allows_metadata(rule) {
            entry.allows_metadata.push((name.clone(), i));
        }
    }
}

/// An egress rule allows the metadata address when it has no `to` (any destination) or a
/// peer whose ipBlock contains it and no `except` entry covers it. Ports are ignored (the
/// rule is conservative). An unparseable CIDR counts as allowing (fail closed).
fn rule_allows_metadata(rule: &Value) -> bool {
    let to = match rule.get("to") {
        None | Some(Value::Null) => return true,
        Some(Value::Array(a)) if a.is_empty() => return true,
        Some(Value::Array(a)) => a,
        Some(_) => return true,
    };
    to.iter().any(|peer| {
        let Some(block) = peer.get("ipBlock") else {
            return false;
        };
        let contains = block
            .get("cidr")
            .and_then(Value::as_str)
            .map_or(Some(true), |c| cidr_contains(c, METADATA_ADDRESS))
            .unwrap_or(true);
        let excepted = block
            .get("except")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|c| cidr_contains(c, METADATA_ADDRESS) == Some(true));
        contains && !excepted
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cidrs() {
        let m = METADATA_ADDRESS;
        assert_eq!(cidr_contains("0.0.0.0/0", m), Some(true));
        assert_eq!(cidr_contains("169.254.0.0/16", m), Some(true));
        assert_eq!(cidr_contains("169.254.169.254/32", m), Some(true));
        assert_eq!(cidr_contains("169.254.169.254", m), Some(true));
        assert_eq!(cidr_contains("10.0.0.0/8", m), Some(false));
        assert_eq!(cidr_contains("::/0", m), Some(false));
        assert_eq!(cidr_contains("1.2.3.4/33", m), None);
        assert_eq!(cidr_contains("x/8", m), None);
    }

    fn table(policies: &[Value]) -> BTreeMap<String, NamespaceEgress> {
        let mut t = BTreeMap::new();
        for p in policies {
            add_policy(&mut t, p);
        }
        t
    }

    #[test]
    fn default_deny_and_except() {
        let deny = json!({"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "a"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]}});
        assert!(table(std::slice::from_ref(&deny))["a"].protected());
        let except = json!({"kind": "NetworkPolicy", "metadata": {"name": "imds", "namespace": "a"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]},
                {"to": [{"namespaceSelector": {}}]}]}});
        assert!(table(std::slice::from_ref(&except))["a"].protected());
        let open = json!({"kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "a"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}]}]}});
        let t = table(&[except, open]);
        assert!(!t["a"].protected());
        assert_eq!(t["a"].allows_metadata, vec![("web".to_owned(), 0)]);
        let ingress_only = json!({"kind": "NetworkPolicy", "metadata": {"name": "i", "namespace": "b"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        assert!(!table(&[ingress_only]).get("b").is_some_and(NamespaceEgress::protected));
        let allow_all = json!({"kind": "NetworkPolicy", "metadata": {"name": "all", "namespace": "c"},
            "spec": {"podSelector": {}, "egress": [{}]}});
        assert!(!table(&[allow_all])["c"].protected());
    }
}
