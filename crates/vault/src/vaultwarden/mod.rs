//! Vaultwarden through the official `bw` CLI: the operator's personal password manager.
//!
//! Identity is the kernel UID. Each user's Vaultwarden credentials (email, master
//! password, API key) live in that user's own Vault KV path, read with the user's scoped
//! token ([`CredsStore`]); decryption is done by `bw`. A session is opened per command:
//!
//! 1. read the creds (an empty master password means "not set up");
//! 2. create the per-user appdata directory (0700, on the runtime tmpfs);
//! 3. `bw config server <url>` (result ignored: it fails harmlessly when already set);
//! 4. `bw status`; if unauthenticated, `bw login --apikey`;
//! 5. `bw unlock --passwordenv BW_PASSWORD --raw` → the session key;
//! 6. `bw sync`, best effort: a failure is a warning and the cached vault is used.
//!
//! Secrets reach `bw` only through its environment, which is built from nothing (see
//! [`homelab_core::vaultwarden::base_env`]). The caller must hold the per-user lock
//! ([`crate::hardening::UserLock`]) around a session.

mod backend;
mod runner;
mod settings;

use std::fmt;
use std::path::{Path, PathBuf};

use homelab_core::secret::SecretString;
use homelab_core::vaultwarden::{self as vw, BwCommand, Field, NormalizedItem, Status};

pub use backend::BwBackend;
pub use runner::{BwError, BwRunner, ChildEnv, ProcessRunner};
pub use settings::{BwSettings, Fetched, KvCreds, Setup, bw_backend, creds_from, setup};

/// One user's Vaultwarden credentials, as stored in their Vault path.
#[derive(Clone, Default)]
pub struct Creds {
    pub email: String,
    pub client_id: String,
    pub master_password: SecretString,
    pub client_secret: SecretString,
}

impl fmt::Debug for Creds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Creds")
            .field("email", &"[redacted]")
            .field("client_id", &"[redacted]")
            .field("master_password", &self.master_password)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// Where the per-user creds live (Vault KV, with the scoped token). Reads return `None`
/// for an absent path; writes merge, so sibling keys at the path survive.
pub trait CredsStore {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError>;
    fn write_creds(&self, creds: &Creds) -> Result<(), VaultwardenError>;
}

/// A Vaultwarden failure: one line, naming the step and its cause; never a value.
#[derive(Debug, thiserror::Error)]
pub enum VaultwardenError {
    #[error("vault not configured for this user — run `homelab vault setup`")]
    NotConfigured,
    #[error("reading your Vaultwarden creds from Vault failed: {0}")]
    Creds(String),
    #[error("create bw appdata {path}: {cause}")]
    Appdata { path: PathBuf, cause: std::io::Error },
    #[error("bw login --apikey failed (API key valid? run `homelab vault setup`): {0}")]
    Login(BwError),
    #[error("bw unlock failed (wrong master password? run `homelab vault setup`): {0}")]
    Unlock(BwError),
    #[error("bw unlock printed no session key")]
    EmptySession,
    #[error("{0}")]
    Bw(BwError),
    #[error(transparent)]
    Item(#[from] vw::ParseItemError),
}

/// An open, unlocked `bw` session.
pub struct Session {
    env: ChildEnv,
    /// Non-fatal problems met while opening (a failed `bw sync`), for the caller to show.
    pub warnings: Vec<String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("env", &self.env)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// The Vaultwarden client: a runner for `bw`, the creds store and where things live.
#[derive(Debug)]
pub struct Vaultwarden<R, C> {
    pub runner: R,
    pub creds: C,
    /// The Vaultwarden server URL (`bw config server`).
    pub server_url: String,
    /// The per-user `BITWARDENCLI_APPDATA_DIR` (0700).
    pub appdata: PathBuf,
    /// The child's `HOME`.
    pub home: String,
    /// The child's `PATH` (the caller's, or a safe default).
    pub path: Option<String>,
}

/// `<runtime dir>/homelab-bw`: bw's state on the per-user tmpfs.
pub fn appdata_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("homelab-bw")
}

impl<R: BwRunner, C> Vaultwarden<R, C> {
    /// The environment without any secret (for `lock` / `logout`).
    pub fn base_env(&self) -> ChildEnv {
        ChildEnv::base(&vw::base_env(
            self.path.as_deref(),
            &self.home,
            &self.appdata.to_string_lossy(),
        ))
    }

    /// `bw lock` then `bw logout`, with the base environment only (no secrets, no creds
    /// store needed: `C` may be `()`). Returns whether the logout succeeded.
    pub fn lock(&self) -> bool {
        let env = self.base_env();
        let _ = self.runner.run(&BwCommand::Lock, &env);
        self.runner.run(&BwCommand::Logout, &env).is_ok()
    }
}

impl<R: BwRunner, C: CredsStore> Vaultwarden<R, C> {
    /// Reads the creds; an absent path or an empty master password is "not configured".
    pub fn load_creds(&self) -> Result<Creds, VaultwardenError> {
        match self.creds.read_creds()? {
            Some(c) if !c.master_password.is_empty() => Ok(c),
            _ => Err(VaultwardenError::NotConfigured),
        }
    }

    /// Opens an unlocked session (steps 1–6 of the module docs).
    pub fn open_session(&self) -> Result<Session, VaultwardenError> {
        let creds = self.load_creds()?;
        create_private_dir(&self.appdata).map_err(|cause| VaultwardenError::Appdata {
            path: self.appdata.clone(),
            cause,
        })?;
        let mut env = self.base_env();
        env.push_secret("BW_CLIENTID", SecretString::new(creds.client_id.clone()));
        env.push_secret("BW_CLIENTSECRET", creds.client_secret.clone());
        env.push_secret("BW_PASSWORD", creds.master_password.clone());

        // Already configured → bw refuses while logged in; harmless either way.
        let _ = self.runner.run(&BwCommand::ConfigServer(self.server_url.clone()), &env);
        let status = self.runner.run(&BwCommand::Status, &env).map(|s| s.expose().to_owned());
        if vw::needs_login(status.as_deref().unwrap_or("")) {
            self.runner
                .run(&BwCommand::LoginApiKey, &env)
                .map_err(VaultwardenError::Login)?;
        }
        let session = self
            .runner
            .run(&BwCommand::Unlock, &env)
            .map_err(VaultwardenError::Unlock)?;
        if session.expose().trim().is_empty() {
            return Err(VaultwardenError::EmptySession);
        }
        env.push_secret("BW_SESSION", session);
        let mut warnings = Vec::new();
        if let Err(e) = self.runner.run(&BwCommand::Sync, &env) {
            warnings.push(format!(
                "homelab vault: warning: bw sync failed; using cached vault (values may be stale): {e}"
            ));
        }
        Ok(Session { env, warnings })
    }

    /// One field of one item (`bw get <field> <item>`; for `totp` the current code).
    pub fn get(&self, session: &Session, field: Field, item: &str) -> Result<SecretString, VaultwardenError> {
        self.runner
            .run(&BwCommand::Get(field, item.to_owned()), &session.env)
            .map_err(VaultwardenError::Bw)
    }

    /// A custom field of one item, by name (for `bw://item#<custom>` references).
    pub fn get_custom(
        &self,
        session: &Session,
        item: &str,
        name: &str,
    ) -> Result<Option<SecretString>, VaultwardenError> {
        let mut it = self.get_item(session, item)?;
        Ok(it.fields.remove(name).map(SecretString::new))
    }

    /// The whole item, projected (`get --all`): the TOTP seed is reduced to a flag.
    pub fn get_item(&self, session: &Session, item: &str) -> Result<NormalizedItem, VaultwardenError> {
        let raw = self
            .runner
            .run(&BwCommand::GetItem(item.to_owned()), &session.env)
            .map_err(VaultwardenError::Bw)?;
        Ok(vw::normalize_item(raw.expose())?)
    }

    /// `name (id)` lines; never values.
    pub fn list(&self, session: &Session, search: Option<&str>) -> Result<Vec<String>, VaultwardenError> {
        let raw = self
            .runner
            .run(&BwCommand::ListItems(search.map(str::to_owned)), &session.env)
            .map_err(VaultwardenError::Bw)?;
        Ok(vw::list_names(raw.expose()))
    }

    /// `homelab vault status`: configured? unlockable? reachable (an explicit second sync)?
    pub fn status(&self) -> Status {
        match self.load_creds() {
            Ok(_) => {}
            Err(VaultwardenError::NotConfigured) => return Status::NotConfigured,
            Err(e) => return Status::UnlockFailed(e.to_string()),
        }
        let session = match self.open_session() {
            Ok(s) => s,
            Err(e) => return Status::UnlockFailed(e.to_string()),
        };
        match self.runner.run(&BwCommand::Sync, &session.env) {
            Ok(_) => Status::Ok,
            Err(e) => Status::SyncFailed(e.to_string()),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // An existing directory may have been created wider; bw state is private.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests;
