//! Test support (feature `testing`): a throwaway PKI for mTLS between the Goldmane client
//! and the simulator, and helpers wiring a [`GoldmaneConfig`] to a [`SimHandle`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use homelab_flows::goldmane::{FlowSource, GoldmaneClient};
//! use homelab_flows::sim::{SimConfig, SimMode, SimServer, Topology};
//! use homelab_flows::testing::TestPki;
//!
//! let dir = tempfile::tempdir()?;
//! let pki = TestPki::generate(dir.path())?;
//! let topology = Topology::from_yaml_str("edges: [{src: a/web, dst: b/api, port: 80}]")?;
//! let sim = SimServer::start(
//!     SimConfig::new(topology).with_tls(pki.sim_tls()).with_mode(SimMode::Burst { t0: 1_700_000_000, buckets: 10 }),
//! )
//! .await?;
//! let mut client = GoldmaneClient::new(pki.goldmane_config(&sim))?;
//! let stream = client.open(0).await?;
//! # drop(stream);
//! # Ok(())
//! # }
//! ```

#![cfg(feature = "testing")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use homelab_core::flows::{Action, EndpointType, FlowRecord};

use crate::goldmane::GoldmaneConfig;
use crate::sim::{ExpectedEdge, ExpectedEdges, SimHandle, SimTls};

/// Why the test PKI could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TestPkiError {
    #[error("test PKI: certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("test PKI: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// PEM files of a test PKI (ECDSA P-256 keys, PKCS#8):
///
/// - `ca.crt`/`ca.key`: the CA both sides trust;
/// - `server.crt`/`server.key`: signed by the CA, SANs [`TestPki::SERVER_NAMES`];
/// - `tls.crt`/`tls.key`: a client certificate signed by the CA;
/// - `other-ca.crt`/`other-ca.key`, `other-client.crt`/`other-client.key`: an unrelated CA
///   and a client certificate it signed (must be rejected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca_cert: PathBuf,
    pub other_ca_key: PathBuf,
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn params(name: &str) -> Result<CertificateParams, TestPkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(params)
    }

    /// The issuer of an existing CA (same parameters, key read back).
    fn load(name: &str, key_file: &Path) -> Result<Ca, TestPkiError> {
        let pem = std::fs::read_to_string(key_file).map_err(|source| TestPkiError::Io {
            path: key_file.to_owned(),
            source,
        })?;
        Ok(Ca {
            issuer: Issuer::new(Self::params(name)?, KeyPair::from_pem(&pem)?),
        })
    }

    fn new(name: &str, dir: &Path, cert_file: &str, key_file: &str) -> Result<(Ca, PathBuf, PathBuf), TestPkiError> {
        let params = Self::params(name)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let cert_path = write(dir, cert_file, &cert.pem())?;
        let key_path = write(dir, key_file, &key.serialize_pem())?;
        Ok((
            Ca {
                issuer: Issuer::new(params, key),
            },
            cert_path,
            key_path,
        ))
    }

    fn issue(
        &self,
        common_name: &str,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
        dir: &Path,
        cert_file: &str,
        key_file: &str,
    ) -> Result<(PathBuf, PathBuf), TestPkiError> {
        let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            write(dir, cert_file, &cert.pem())?,
            write(dir, key_file, &key.serialize_pem())?,
        ))
    }
}

const CA_NAME: &str = "homelab test CA";

fn write(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, TestPkiError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| TestPkiError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

impl TestPki {
    /// SANs of the server certificate.
    pub const SERVER_NAMES: [&'static str; 3] = ["localhost", "127.0.0.1", "goldmane.calico-system.svc.cluster.local"];

    /// Generates everything into `dir` (which must exist).
    pub fn generate(dir: &Path) -> Result<TestPki, TestPkiError> {
        let (ca, ca_cert, ca_key) = Ca::new(CA_NAME, dir, "ca.crt", "ca.key")?;
        let (server_cert, server_key) = ca.issue(
            "goldmane",
            &Self::SERVER_NAMES,
            ExtendedKeyUsagePurpose::ServerAuth,
            dir,
            "server.crt",
            "server.key",
        )?;
        let (client_cert, client_key) = ca.issue(
            "homelab-flows",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            dir,
            "tls.crt",
            "tls.key",
        )?;
        let (other, other_ca_cert, other_ca_key) = Ca::new("unrelated CA", dir, "other-ca.crt", "other-ca.key")?;
        let (other_client_cert, other_client_key) = other.issue(
            "intruder",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            dir,
            "other-client.crt",
            "other-client.key",
        )?;
        Ok(TestPki {
            dir: dir.to_owned(),
            ca_cert,
            ca_key,
            server_cert,
            server_key,
            client_cert,
            client_key,
            other_ca_cert,
            other_ca_key,
            other_client_cert,
            other_client_key,
        })
    }

    /// Signs a client certificate for the key in `key_pkcs8_pem` (PKCS#8 PEM, e.g. an RSA
    /// key whose PKCS#1 form the caller writes as the key file) with the CA, writes it to
    /// `<dir>/<name>.crt` and returns that path.
    pub fn issue_client_cert(&self, name: &str, key_pkcs8_pem: &str) -> Result<PathBuf, TestPkiError> {
        let ca = Ca::load(CA_NAME, &self.ca_key)?;
        let key = KeyPair::from_pem(key_pkcs8_pem)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &ca.issuer)?;
        write(&self.dir, &format!("{name}.crt"), &cert.pem())
    }

    fn read(path: &Path) -> String {
        // The files were written by `generate`; a failure here is a broken test setup.
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("test PKI {}: {e}", path.display()))
    }

    /// Server side of mTLS: the server certificate, client certificates required and
    /// verified against the CA.
    pub fn sim_tls(&self) -> SimTls {
        SimTls {
            cert_pem: Self::read(&self.server_cert),
            key_pem: Self::read(&self.server_key),
            client_ca_pem: Some(Self::read(&self.ca_cert)),
        }
    }

    /// Server-only TLS (no client certificate requested).
    pub fn sim_tls_server_only(&self) -> SimTls {
        SimTls {
            client_ca_pem: None,
            ..self.sim_tls()
        }
    }

    /// A client configuration for a simulator listening on `addr` (server name
    /// `localhost`, the good client certificate, verification on).
    pub fn goldmane_config_for(&self, addr: SocketAddr) -> GoldmaneConfig {
        GoldmaneConfig {
            host: addr.to_string(),
            server_name: "localhost".to_owned(),
            tls_insecure: false,
            ca_file: self.ca_cert.clone(),
            cert_file: self.client_cert.clone(),
            key_file: self.client_key.clone(),
        }
    }

    /// [`TestPki::goldmane_config_for`] the simulator's address.
    pub fn goldmane_config(&self, sim: &SimHandle) -> GoldmaneConfig {
        self.goldmane_config_for(sim.addr())
    }

    /// The same configuration as `GOLDMANE_*` variables (for CLI subprocess tests, or
    /// [`GoldmaneConfig::from_lookup`]).
    pub fn goldmane_env(&self, sim: &SimHandle) -> BTreeMap<String, String> {
        let c = self.goldmane_config(sim);
        BTreeMap::from([
            ("GOLDMANE_HOST".to_owned(), c.host),
            ("GOLDMANE_SERVER_NAME".to_owned(), c.server_name),
            ("GOLDMANE_TLS_INSECURE".to_owned(), "false".to_owned()),
            ("GOLDMANE_CA_FILE".to_owned(), c.ca_file.display().to_string()),
            ("GOLDMANE_CERT_FILE".to_owned(), c.cert_file.display().to_string()),
            ("GOLDMANE_KEY_FILE".to_owned(), c.key_file.display().to_string()),
        ])
    }
}

/// A deliberately naive reference model for tests: the namespace edges a set of received
/// flows adds up to, in the shape of [`SimHandle::expected_edges`]. A connection is a
/// flow key minus reporter and action within one bucket; it counts once, as deny if any
/// of its reports is a deny; self-edges, `-`/empty namespaces and non-workload endpoints
/// are skipped. Duplicated messages (same reporter twice) are not detected here.
pub fn edges_from_flows(flows: &[FlowRecord]) -> ExpectedEdges {
    type Conn<'a> = (i64, i64, &'a str, &'a str, &'a str, &'a str, i64, &'a str);
    let mut conns: BTreeMap<Conn<'_>, Action> = BTreeMap::new();
    for f in flows {
        let no_ns = |ns: &str| ns.is_empty() || ns == "-";
        let workload = |t: EndpointType| t == EndpointType::WorkloadEndpoint;
        if no_ns(&f.source_namespace)
            || no_ns(&f.dest_namespace)
            || !workload(f.source_type)
            || !workload(f.dest_type)
            || f.source_namespace == f.dest_namespace
        {
            continue;
        }
        let key = (
            f.start_time,
            f.end_time,
            f.source_namespace.as_str(),
            f.source_name.as_str(),
            f.dest_namespace.as_str(),
            f.dest_name.as_str(),
            f.dest_port,
            f.proto.as_str(),
        );
        let action = conns.entry(key).or_insert(f.action);
        if f.action == Action::Deny {
            *action = Action::Deny;
        }
    }
    let mut out = ExpectedEdges::new();
    for ((start, end, src_ns, _, dst_ns, _, _, _), action) in conns {
        let e = out
            .entry((src_ns.to_owned(), dst_ns.to_owned(), action))
            .or_insert(ExpectedEdge {
                flow_count: 0,
                first_seen: start,
                last_seen: end,
            });
        e.flow_count += 1;
        e.first_seen = e.first_seen.min(start);
        e.last_seen = e.last_seen.max(end);
    }
    out
}

/// The whole `edge` table in the shape of [`SimHandle::expected_edges`], so a test can
/// compare a store with the simulator's ground truth with `==`.
pub async fn edge_table<S: crate::store::EdgeStore>(store: &S) -> Result<ExpectedEdges, crate::store::StoreError> {
    use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
    Ok(store
        .edges(&EdgeQuery {
            limit: MAX_LIMIT,
            ..EdgeQuery::default()
        })
        .await?
        .into_iter()
        .map(|r| {
            (
                (r.src_ns, r.dst_ns, r.action),
                ExpectedEdge {
                    flow_count: r.flow_count,
                    first_seen: r.first_seen,
                    last_seen: r.last_seen,
                },
            )
        })
        .collect())
}
