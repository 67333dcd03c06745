//! Building the Vaultwarden client from `[vault]` config and the process environment, in
//! ONE place for every user (the `homelab vault` verbs, `lock`, and the `bw://` backend),
//! and the production [`CredsStore`]: the creds in the user's own Vault KV path.
//!
//! Runtime: the creds live behind async HTTP (Vault KV) while `bw` is a blocking child
//! process driven by the synchronous [`Vaultwarden`]. Rather than hiding a private tokio
//! runtime inside the store (and `block_on` inside `read_creds`), [`KvCreds`] is async and
//! the caller awaits it on its own runtime: [`KvCreds::fetch`] reads the creds once into a
//! [`Fetched`] store that the synchronous session then uses. The CLI awaits on its one
//! runtime and runs `bw` on the main thread; [`super::BwBackend`] awaits inside the
//! resolver and runs `bw` in `spawn_blocking`. Same KV calls, same order, one runtime.

use std::path::PathBuf;

use homelab_core::secret::{KvPath, SecretString, TokenPurpose};
use homelab_core::vaultwarden::{self as vw};

use super::{BwBackend, Creds, CredsStore, ProcessRunner, Vaultwarden, VaultwardenError, appdata_dir};
use crate::config::{DEFAULT_CREDS_PATH, VaultConfig};
use crate::env::ProcessEnv;
use crate::kv::{DEFAULT_TIMEOUT, KvClient, SecretData};
use crate::resolve::{ErrorKind, SecretError};
use crate::token::{discover_token, require_token};

/// Where `bw` runs: everything but the creds.
#[derive(Debug, Clone)]
pub struct BwSettings {
    pub server_url: String,
    pub runtime_dir: PathBuf,
    pub home: String,
    pub path: Option<String>,
    pub runner: ProcessRunner,
    /// The OS user, for the op-log.
    pub user: String,
}

fn not_configured(msg: impl Into<String>) -> SecretError {
    SecretError::new(ErrorKind::NotConfigured, msg)
}

impl BwSettings {
    /// The settings for a session: the server from `[vault] vaultwarden_server` (required),
    /// the user from `$USER`/`$LOGNAME` (required), home, `PATH` and runtime dir from the
    /// environment.
    pub fn from_config(vcfg: &VaultConfig, env: &ProcessEnv) -> Result<BwSettings, SecretError> {
        let server = vcfg
            .vaultwarden_server()?
            .ok_or_else(|| {
                not_configured("no Vaultwarden server: set [vault] vaultwarden_server in ~/.config/homelab/config.toml")
            })?
            .to_owned();
        let user = env.user()?;
        Ok(Self::with(server, user, env))
    }

    /// The settings for `lock`/`logout`, which read no creds and must work even when the
    /// configuration is incomplete: the server as configured (possibly empty), no user.
    pub fn for_lock(vcfg: &VaultConfig, env: &ProcessEnv) -> BwSettings {
        Self::with(vcfg.vaultwarden_server.clone().unwrap_or_default(), String::new(), env)
    }

    fn with(server_url: String, user: String, env: &ProcessEnv) -> BwSettings {
        BwSettings {
            server_url,
            runtime_dir: env.runtime_dir.clone(),
            home: env.home.clone(),
            path: env.path.clone(),
            runner: ProcessRunner::default(),
            user,
        }
    }

    /// The client for these settings (the one construction of [`Vaultwarden`]). `lock`
    /// passes `()`: it needs no creds store.
    pub fn client<C>(&self, creds: C) -> Vaultwarden<ProcessRunner, C> {
        Vaultwarden {
            runner: self.runner.clone(),
            creds,
            server_url: self.server_url.clone(),
            appdata: appdata_dir(&self.runtime_dir),
            home: self.home.clone(),
            path: self.path.clone(),
        }
    }
}

/// The per-user creds in Vault KV, read and merged with the Vaultwarden token.
#[derive(Debug)]
pub struct KvCreds {
    client: KvClient,
    path: KvPath,
}

impl KvCreds {
    /// `client` must carry the Vaultwarden token (scoped token precedence).
    pub fn new(client: KvClient, path: KvPath) -> Self {
        Self { client, path }
    }

    /// The creds path (for messages).
    pub fn path(&self) -> &KvPath {
        &self.path
    }

    /// The creds; `None` when the path does not exist.
    pub async fn read(&self) -> Result<Option<Creds>, SecretError> {
        match self.client.read(&self.path).await {
            Ok(data) => Ok(Some(creds_from(&data))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the creds now, for a synchronous session ([`Fetched`] answers `read_creds`).
    pub async fn fetch(&self) -> Fetched {
        Fetched(self.read().await)
    }

    /// Writes the creds. Each key is a read + check-and-set merge: sibling keys at the
    /// path (e.g. the auth-sync's own) survive, and a policy without `patch` suffices.
    pub async fn write(&self, creds: &Creds) -> Result<(), SecretError> {
        let entries = [
            (vw::creds_keys::EMAIL, SecretString::new(creds.email.clone())),
            (vw::creds_keys::CLIENT_ID, SecretString::new(creds.client_id.clone())),
            (vw::creds_keys::MASTER_PASSWORD, creds.master_password.clone()),
            (vw::creds_keys::CLIENT_SECRET, creds.client_secret.clone()),
        ];
        for (key, value) in &entries {
            self.client.put_key(&self.path, key, value).await?;
        }
        Ok(())
    }
}

/// Creds read ahead of a session ([`KvCreds::fetch`]), or the failure to read them.
/// Read-only.
#[derive(Debug, Clone)]
pub struct Fetched(pub Result<Option<Creds>, SecretError>);

impl CredsStore for Fetched {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        self.0.clone().map_err(VaultwardenError::from)
    }
    fn write_creds(&self, _: &Creds) -> Result<(), VaultwardenError> {
        Err(VaultwardenError::Creds("read-only".into()))
    }
}

impl From<SecretError> for VaultwardenError {
    fn from(e: SecretError) -> Self {
        VaultwardenError::Creds(e.to_string())
    }
}

/// Creds from the KV data at the creds path (missing keys are empty).
pub fn creds_from(data: &SecretData) -> Creds {
    use homelab_core::vaultwarden::creds_keys as k;
    let get = |key: &str| data.get(key).unwrap_or_default();
    Creds {
        email: get(k::EMAIL).expose().to_owned(),
        client_id: get(k::CLIENT_ID).expose().to_owned(),
        master_password: get(k::MASTER_PASSWORD),
        client_secret: get(k::CLIENT_SECRET),
    }
}

/// What every Vaultwarden use needs: the creds store (the KV client holding the
/// Vaultwarden token, the user's creds path) and where `bw` runs.
#[derive(Debug)]
pub struct Setup {
    pub creds: KvCreds,
    pub settings: BwSettings,
}

/// Builds the [`Setup`] from config and environment. Checked in this order (the first
/// problem is the one reported): server, user, creds path, Vault address, token.
pub fn setup(vcfg: &VaultConfig, env: &ProcessEnv) -> Result<Setup, SecretError> {
    let settings = BwSettings::from_config(vcfg, env)?;
    let template = vcfg.creds_path.as_deref().unwrap_or(DEFAULT_CREDS_PATH);
    let creds_path = vw::creds_path(template, &settings.user).map_err(|e| not_configured(e.to_string()))?;
    let path = KvPath::parse_cli(&creds_path, false)
        .map_err(|e| not_configured(format!("invalid [vault] creds_path {creds_path:?}: {e}")))?;
    let (addr, _) = vcfg.address(env.vault_addr.as_deref())?;
    let decision = discover_token(TokenPurpose::Vaultwarden, vcfg, &env.token);
    for line in decision.explain() {
        tracing::debug!("vault token: {line}");
    }
    let token = require_token(&decision)?;
    let client = KvClient::new(&addr, &token, DEFAULT_TIMEOUT)?;
    Ok(Setup {
        creds: KvCreds::new(client, path),
        settings,
    })
}

/// The `bw://` backend for the resolver (see [`setup`]).
pub fn bw_backend(vcfg: &VaultConfig, env: &ProcessEnv) -> Result<BwBackend, SecretError> {
    let s = setup(vcfg, env)?;
    Ok(BwBackend::new(s.creds, s.settings))
}

#[cfg(test)]
mod tests {
    use homelab_core::secret::SecretString;

    use super::*;
    use crate::token::TokenEnv;

    fn env() -> ProcessEnv {
        ProcessEnv {
            vault_addr: Some("http://127.0.0.1:1".into()),
            user: Some("alice".into()),
            logname: Some("al".into()),
            home: "/home/alice".into(),
            path: Some("/usr/bin".into()),
            runtime_dir: "/run/user/1000".into(),
            token: TokenEnv {
                vault_token: Some(SecretString::new("t".into())),
                home: None,
            },
        }
    }

    fn config(server: Option<&str>) -> VaultConfig {
        VaultConfig {
            vaultwarden_server: server.map(Into::into),
            creds_path: Some("secret/workstation/claude-users/{user}".into()),
            ..VaultConfig::default()
        }
    }

    #[test]
    fn settings_come_from_config_then_environment() {
        let s = BwSettings::from_config(&config(Some(" https://vw.example.org ")), &env()).unwrap();
        assert_eq!(s.server_url, "https://vw.example.org");
        assert_eq!(s.user, "alice");
        assert_eq!(s.home, "/home/alice");
        assert_eq!(s.path.as_deref(), Some("/usr/bin"));
        let vw = s.client(());
        assert_eq!(vw.appdata, PathBuf::from("/run/user/1000/homelab-bw"));
        assert_eq!(vw.server_url, "https://vw.example.org");
        let no_user = ProcessEnv {
            user: None,
            logname: None,
            ..env()
        };
        // The server is checked first, then the user.
        let e = BwSettings::from_config(&config(None), &no_user).unwrap_err();
        assert!(e.to_string().starts_with("no Vaultwarden server"), "{e}");
        let e = BwSettings::from_config(&config(Some("https://vw")), &no_user).unwrap_err();
        assert!(e.to_string().contains("$USER is not set"), "{e}");
        // lock needs neither.
        let s = BwSettings::for_lock(&config(None), &no_user);
        assert_eq!((s.server_url.as_str(), s.user.as_str()), ("", ""));
    }

    #[test]
    fn setup_checks_the_creds_path_then_address_then_token() {
        let mut c = config(Some("https://vw"));
        let s = setup(&c, &env()).unwrap();
        assert_eq!(s.creds.path().to_string(), "secret/workstation/claude-users/alice");
        c.creds_path = Some("secret/{user}/../x".into());
        let e = setup(&c, &env()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        c.creds_path = Some("kv/people/{user}".into());
        assert_eq!(setup(&c, &env()).unwrap().creds.path().to_string(), "kv/people/alice");
        let no_addr = ProcessEnv {
            vault_addr: None,
            ..env()
        };
        let e = setup(&c, &no_addr).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        let no_token = ProcessEnv {
            token: TokenEnv::default(),
            ..env()
        };
        assert!(setup(&c, &no_token).is_err());
    }

    #[test]
    fn fetched_creds_answer_the_session() {
        let f = Fetched(Ok(None));
        assert!(f.read_creds().unwrap().is_none());
        let f = Fetched(Err(SecretError::new(ErrorKind::Unavailable, "down")));
        assert_eq!(
            f.read_creds().unwrap_err().to_string(),
            "reading your Vaultwarden creds from Vault failed: down"
        );
        assert!(f.write_creds(&Creds::default()).is_err());
    }
}
