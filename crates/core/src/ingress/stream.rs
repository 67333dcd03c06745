//! The `homelab ingress render` YAML stream: an output contract for `kubectl apply -f -`.

use thiserror::Error;

use super::Rendered;

/// An object could not be serialised as YAML.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("rendering YAML: {0}")]
pub struct YamlStreamError(String);

/// The YAML stream for `kubectl apply -f -`: DNS intents are not Kubernetes objects, so
/// they lead as a comment block (kubectl ignores it; a reader sees it first), then each
/// object as its own `---` document.
pub fn yaml_stream(r: &Rendered) -> Result<String, YamlStreamError> {
    let mut out = String::new();
    if r.dns_records.is_empty() {
        out.push_str("# DNS record intents: none\n");
    } else {
        out.push_str("# DNS record intents (not Kubernetes objects; create them with your DNS tooling):\n");
        for d in &r.dns_records {
            out.push_str(&format!(
                "#   {} {} ({}) -> {} proxied={} ttl={} zone={}\n",
                d.record_type, d.fqdn, d.name, d.content, d.proxied, d.ttl, d.zone_id
            ));
        }
    }
    for o in &r.objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).map_err(|e| YamlStreamError(e.to_string()))?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingress::DnsRecord;

    #[test]
    fn dns_intents_lead_as_comments_then_one_document_per_object() {
        let mut r = Rendered {
            objects: vec![json!({"kind": "Service"}), json!({"kind": "Ingress"})],
            dns_records: vec![],
            middlewares: vec![],
        };
        assert_eq!(
            yaml_stream(&r).unwrap(),
            "# DNS record intents: none\n---\nkind: Service\n---\nkind: Ingress\n"
        );
        r.objects.clear();
        r.dns_records.push(DnsRecord {
            name: "app".into(),
            fqdn: "app.example.org".into(),
            record_type: "CNAME",
            content: "t.cfargotunnel.com".into(),
            proxied: true,
            ttl: 1,
            zone_id: "z".into(),
        });
        assert_eq!(
            yaml_stream(&r).unwrap(),
            "# DNS record intents (not Kubernetes objects; create them with your DNS tooling):\n\
             #   CNAME app.example.org (app) -> t.cfargotunnel.com proxied=true ttl=1 zone=z\n"
        );
    }
}
