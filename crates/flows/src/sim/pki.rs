//! The throwaway certificates of `homelab sim` and `homelab demo` (product code, used at
//! run time): a fresh CA, a server certificate for the simulator and a client certificate
//! for the aggregator, so the demo speaks the same mTLS as a real Goldmane. Nothing here is
//! meant to protect anything beyond one demo run; the tests use the same PKI (plus an
//! unrelated CA from the test kit to prove rejection).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use homelab_flows::goldmane::{FlowSource, GoldmaneClient};
//! use homelab_flows::sim::pki::ThrowawayPki;
//! use homelab_flows::sim::{SimConfig, SimMode, SimServer, Topology};
//!
//! let dir = tempfile::tempdir()?;
//! let pki = ThrowawayPki::generate(dir.path())?;
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use crate::goldmane::GoldmaneConfig;
use crate::sim::{SimHandle, SimTls};

/// Why the throwaway PKI could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    // The messages keep their historical "test PKI" wording (`homelab sim` prints them).
    #[error("test PKI: certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("test PKI: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// PEM files of a throwaway PKI (ECDSA P-256 keys, PKCS#8):
///
/// - `ca.crt`/`ca.key`: the CA both sides trust;
/// - `server.crt`/`server.key`: signed by the CA, SANs [`ThrowawayPki::SERVER_NAMES`];
/// - `tls.crt`/`tls.key`: a client certificate signed by the CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrowawayPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

/// The parameters of a CA certificate named `name` (also what a test needs to rebuild the
/// issuer from `ca.key`, or to make an unrelated CA).
pub fn ca_params(name: &str) -> Result<CertificateParams, PkiError> {
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

impl Ca {
    fn new(name: &str, dir: &Path, cert_file: &str, key_file: &str) -> Result<(Ca, PathBuf, PathBuf), PkiError> {
        let params = ca_params(name)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let cert_path = write_pem(dir, cert_file, &cert.pem())?;
        let key_path = write_pem(dir, key_file, &key.serialize_pem())?;
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
    ) -> Result<(PathBuf, PathBuf), PkiError> {
        let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            write_pem(dir, cert_file, &cert.pem())?,
            write_pem(dir, key_file, &key.serialize_pem())?,
        ))
    }
}

/// Writes one PEM file `dir/name`.
pub fn write_pem(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, PkiError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| PkiError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

impl ThrowawayPki {
    /// The CA certificate's common name (its key usages: certificate and CRL signing,
    /// digital signature).
    pub const CA_NAME: &'static str = "homelab test CA";

    /// SANs of the server certificate.
    pub const SERVER_NAMES: [&'static str; 3] = ["localhost", "127.0.0.1", "goldmane.calico-system.svc.cluster.local"];

    /// Generates everything into `dir` (which must exist).
    pub fn generate(dir: &Path) -> Result<ThrowawayPki, PkiError> {
        let (ca, ca_cert, ca_key) = Ca::new(Self::CA_NAME, dir, "ca.crt", "ca.key")?;
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
        Ok(ThrowawayPki {
            dir: dir.to_owned(),
            ca_cert,
            ca_key,
            server_cert,
            server_key,
            client_cert,
            client_key,
        })
    }

    fn read(path: &Path) -> String {
        // The files were written by `generate` moments before; a failure here means the
        // directory was tampered with or vanished.
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("throwaway PKI {}: {e}", path.display()))
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

    /// [`ThrowawayPki::goldmane_config_for`] the simulator's address.
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
