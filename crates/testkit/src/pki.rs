//! Test certificates: the product's [`ThrowawayPki`] (what `homelab sim` and `homelab demo`
//! serve with) plus what only tests need, an unrelated CA and a client certificate it
//! signed (to prove rejection), and client certificates for arbitrary keys.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use homelab_flows::sim::pki::{ThrowawayPki, ca_params, write_pem};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};

/// Why the test PKI could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TestPkiError {
    #[error(transparent)]
    Throwaway(#[from] homelab_flows::sim::pki::PkiError),
    #[error("test PKI: certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("test PKI: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The product's [`ThrowawayPki`] (dereferences to it: `ca_cert`, `sim_tls()`,
/// `goldmane_config()`, …) plus `other-ca.crt`/`other-ca.key` and
/// `other-client.crt`/`other-client.key`: an unrelated CA and a client certificate it
/// signed, which every server must reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    pub pki: ThrowawayPki,
    pub other_ca_cert: PathBuf,
    pub other_ca_key: PathBuf,
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

impl Deref for TestPki {
    type Target = ThrowawayPki;

    fn deref(&self) -> &ThrowawayPki {
        &self.pki
    }
}

impl TestPki {
    /// Generates everything into `dir` (which must exist).
    pub fn generate(dir: &Path) -> Result<TestPki, TestPkiError> {
        let pki = ThrowawayPki::generate(dir)?;
        let params = ca_params("unrelated CA")?;
        let other_key = KeyPair::generate()?;
        let other_cert = params.self_signed(&other_key)?;
        let other_ca_cert = write_pem(dir, "other-ca.crt", &other_cert.pem())?;
        let other_ca_key = write_pem(dir, "other-ca.key", &other_key.serialize_pem())?;
        let other = Issuer::new(params, other_key);

        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, "intruder");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &other)?;
        let other_client_cert = write_pem(dir, "other-client.crt", &cert.pem())?;
        let other_client_key = write_pem(dir, "other-client.key", &key.serialize_pem())?;
        Ok(TestPki {
            pki,
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
        // The product's CA, rebuilt from its parameters and its key read back.
        let ca = Issuer::new(
            ca_params(ThrowawayPki::CA_NAME)?,
            KeyPair::from_pem(&read(&self.ca_key)?)?,
        );
        let key = KeyPair::from_pem(key_pkcs8_pem)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &ca)?;
        Ok(write_pem(&self.dir, &format!("{name}.crt"), &cert.pem())?)
    }
}

fn read(path: &Path) -> Result<String, TestPkiError> {
    std::fs::read_to_string(path).map_err(|source| TestPkiError::Io {
        path: path.to_owned(),
        source,
    })
}
