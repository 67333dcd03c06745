//! `GOLDMANE_*` client configuration (docs/contracts/flow-trail.md) and loading of the mTLS material.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::GoldmaneError;

/// Where and how to reach Goldmane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldmaneConfig {
    /// `host:port` (`[v6]:port` for IPv6 literals); without a port, HTTPS's 443 applies.
    pub host: String,
    /// TLS server name checked against the server certificate's SANs (and sent as SNI
    /// when it is a DNS name).
    pub server_name: String,
    /// Skip server-certificate verification (the client certificate is still presented).
    pub tls_insecure: bool,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl GoldmaneConfig {
    pub const DEFAULT_HOST: &'static str = "goldmane.calico-system.svc.cluster.local:7443";
    pub const DEFAULT_CA_FILE: &'static str = "/etc/goldmane-client/ca.crt";
    pub const DEFAULT_CERT_FILE: &'static str = "/etc/goldmane-client/tls.crt";
    pub const DEFAULT_KEY_FILE: &'static str = "/etc/goldmane-client/tls.key";

    /// Reads `GOLDMANE_HOST`, `GOLDMANE_SERVER_NAME`, `GOLDMANE_TLS_INSECURE`,
    /// `GOLDMANE_CA_FILE`, `GOLDMANE_CERT_FILE`, `GOLDMANE_KEY_FILE` through `lookup`
    /// (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<GoldmaneConfig, GoldmaneError> {
        let get = |var: &str| lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let host = get("GOLDMANE_HOST").unwrap_or_else(|| Self::DEFAULT_HOST.to_owned());
        if host.contains("://") || host.contains('/') {
            return Err(GoldmaneError::Config {
                var: "GOLDMANE_HOST",
                problem: format!("expected host:port without scheme or path, got {host:?}"),
            });
        }
        let derived = host_without_port(&host).ok_or_else(|| GoldmaneError::Config {
            var: "GOLDMANE_HOST",
            problem: format!("cannot parse {host:?} as host:port"),
        })?;
        let server_name = get("GOLDMANE_SERVER_NAME").unwrap_or(derived);
        if ServerName::try_from(server_name.as_str()).is_err() {
            return Err(GoldmaneError::Config {
                var: "GOLDMANE_SERVER_NAME",
                problem: format!("{server_name:?} is neither a DNS name nor an IP address"),
            });
        }

        let tls_insecure = match get("GOLDMANE_TLS_INSECURE") {
            None => false,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(GoldmaneError::Config {
                        var: "GOLDMANE_TLS_INSECURE",
                        problem: format!("expected 1/true/yes or 0/false/no, got {v:?}"),
                    });
                }
            },
        };
        let path = |var: &str, default: &str| PathBuf::from(get(var).unwrap_or_else(|| default.to_owned()));
        Ok(GoldmaneConfig {
            host,
            server_name,
            tls_insecure,
            ca_file: path("GOLDMANE_CA_FILE", Self::DEFAULT_CA_FILE),
            cert_file: path("GOLDMANE_CERT_FILE", Self::DEFAULT_CERT_FILE),
            key_file: path("GOLDMANE_KEY_FILE", Self::DEFAULT_KEY_FILE),
        })
    }

    /// [`GoldmaneConfig::from_lookup`] over the process environment.
    pub fn from_env() -> Result<GoldmaneConfig, GoldmaneError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// `https://<host>` for tonic's `Endpoint` (a bare IPv6 literal gets its brackets).
    pub fn endpoint_uri(&self) -> String {
        if self.host.parse::<Ipv6Addr>().is_ok() {
            format!("https://[{}]", self.host)
        } else {
            format!("https://{}", self.host)
        }
    }

    /// Reads and validates the CA (skipped when insecure), client certificate and key.
    /// Called at every connect so rotated certificates are picked up.
    pub(crate) fn load_tls(&self) -> Result<TlsMaterial, GoldmaneError> {
        let ca_pem = if self.tls_insecure {
            None
        } else {
            let pem = read_file("CA file", &self.ca_file)?;
            check_certs("CA file", &self.ca_file, &pem)?;
            Some(pem)
        };
        let cert_pem = read_file("client certificate", &self.cert_file)?;
        let certs = check_certs("client certificate", &self.cert_file, &cert_pem)?;
        let key_pem = read_file("client key", &self.key_file)?;
        let key = parse_key(&self.key_file, &key_pem)?;
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(certs, key, &provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => GoldmaneError::TlsFile {
                what: "client key",
                path: self.key_file.clone(),
                problem: format!("does not match the certificate in {}", self.cert_file.display()),
            },
            other => GoldmaneError::TlsFile {
                what: "client key",
                path: self.key_file.clone(),
                problem: format!("unusable private key: {other}"),
            },
        })?;
        Ok(TlsMaterial {
            ca_pem,
            cert_pem,
            key_pem,
        })
    }
}

/// The PEM files, validated.
#[derive(Clone)]
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) cert_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The host part of `host:port`: `[::1]:7443` → `::1`, `a.b:7443` → `a.b`, bare hosts
/// and bare IPv6 literals unchanged. `None` when brackets are unbalanced or it is empty.
pub fn host_without_port(host: &str) -> Option<String> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if inner.is_empty() || !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return Some(inner.to_owned());
    }
    if host.contains(']') {
        return None;
    }
    let name = match host.matches(':').count() {
        0 => host,
        1 => host.split_once(':').map(|(h, _)| h).unwrap_or(host),
        // Several colons without brackets: a bare IPv6 literal.
        _ => host,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, GoldmaneError> {
    std::fs::read(path).map_err(|e| GoldmaneError::TlsFile {
        what,
        path: path.to_owned(),
        problem: e.to_string(),
    })
}

fn pem_problem(e: &pem::Error) -> String {
    // Deliberately not `e.to_string()`: some variants echo file content.
    match e {
        pem::Error::MissingSectionEnd { .. } => "malformed PEM: a section has no END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "malformed PEM: invalid BEGIN line".to_owned(),
        pem::Error::Base64Decode(_) => "malformed PEM: invalid base64".to_owned(),
        pem::Error::Io(io) => io.to_string(),
        pem::Error::NoItemsFound => "no PEM items found".to_owned(),
        pem::Error::SectionTooLarge => "malformed PEM: section too large".to_owned(),
        _ => "malformed PEM".to_owned(),
    }
}

fn check_certs(what: &'static str, path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, GoldmaneError> {
    let err = |problem: String| GoldmaneError::TlsFile {
        what,
        path: path.to_owned(),
        problem,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_problem(&e)))?;
    if certs.is_empty() {
        return Err(err("no PEM \"CERTIFICATE\" found".to_owned()));
    }
    Ok(certs)
}

fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, GoldmaneError> {
    let err = |problem: String| GoldmaneError::TlsFile {
        what: "client key",
        path: path.to_owned(),
        problem,
    };
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => err(
            "no private key found (expected PEM \"RSA PRIVATE KEY\" (PKCS#1), \"PRIVATE KEY\" (PKCS#8) or \
             \"EC PRIVATE KEY\" (SEC1))"
                .to_owned(),
        ),
        other => err(pem_problem(&other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_port_handles_ipv6_and_bare_hosts() {
        assert_eq!(
            host_without_port("goldmane.calico-system.svc:7443").as_deref(),
            Some("goldmane.calico-system.svc")
        );
        assert_eq!(host_without_port("goldmane").as_deref(), Some("goldmane"));
        assert_eq!(host_without_port("[::1]:7443").as_deref(), Some("::1"));
        assert_eq!(host_without_port("[fd00::1]").as_deref(), Some("fd00::1"));
        assert_eq!(host_without_port("fd00::1").as_deref(), Some("fd00::1"));
        assert_eq!(host_without_port("127.0.0.1:7443").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_without_port("[::1"), None);
        assert_eq!(host_without_port("[::1]x"), None);
        assert_eq!(host_without_port(":7443"), None);
        assert_eq!(host_without_port(""), None);
    }

    #[test]
    fn endpoint_uri_brackets_bare_ipv6() {
        let mut c = GoldmaneConfig::from_lookup(|_| None).unwrap();
        assert_eq!(
            c.endpoint_uri(),
            "https://goldmane.calico-system.svc.cluster.local:7443"
        );
        c.host = "::1".into();
        assert_eq!(c.endpoint_uri(), "https://[::1]");
        c.host = "[::1]:7443".into();
        assert_eq!(c.endpoint_uri(), "https://[::1]:7443");
    }
}
