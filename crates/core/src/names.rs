//! Kubernetes / DNS name checks shared by every module that validates a name a user gave
//! (namespaces in edge queries, Secret references, ingress specs).

/// A DNS-1123 label: 1–63 of `[a-z0-9-]`, starting and ending with an alphanumeric
/// (Kubernetes namespace and Service names).
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels (most
/// Kubernetes object names, host names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(is_dns_label("a") && is_dns_label("kube-system") && is_dns_label(&"a".repeat(63)));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(is_dns_subdomain("photos.example.org") && is_dns_subdomain("tls-example-org"));
        for bad in ["", ".", "a..b", "a.", "Example.org", &format!("{}.a", "a".repeat(253))] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
