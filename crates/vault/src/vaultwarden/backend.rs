//! `bw://item#field` references: the Vaultwarden half of the [`crate::Resolver`].
//!
//! The per-user creds are read asynchronously from Vault KV (with the Vaultwarden token);
//! `bw` itself runs on a blocking thread under the per-user lock. One session serves every
//! `bw://` reference of a render (opening one costs a login/unlock/sync), and it is held
//! with the lock until the backend is dropped.

use std::sync::{Arc, Mutex};

use homelab_core::secret::{KvPath, Scheme, SecretRef, SecretString};
use homelab_core::vaultwarden::Field;

use super::{Creds, CredsStore, ProcessRunner, Session, Vaultwarden, VaultwardenError};
use crate::hardening::{self, UserLock};
use crate::kv::{KvClient, SecretData};
use crate::resolve::{Backend, BoxFuture, ErrorKind, SecretError, wrong_scheme};

/// Where `bw` runs: everything but the creds.
#[derive(Debug, Clone)]
pub struct BwSettings {
    pub server_url: String,
    pub runtime_dir: std::path::PathBuf,
    pub home: String,
    pub path: Option<String>,
    pub runner: ProcessRunner,
    /// The OS user, for the op-log.
    pub user: String,
}

/// Creds already read.
#[derive(Debug)]
struct Loaded(Creds);

impl CredsStore for Loaded {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        Ok(Some(self.0.clone()))
    }
    fn write_creds(&self, _: &Creds) -> Result<(), VaultwardenError> {
        Err(VaultwardenError::Creds("read-only".into()))
    }
}

struct Open {
    _lock: UserLock,
    vw: Vaultwarden<ProcessRunner, Loaded>,
    session: Session,
}

/// The `bw://` backend.
pub struct BwBackend {
    client: KvClient,
    creds_path: KvPath,
    settings: BwSettings,
    open: Arc<Mutex<Option<Open>>>,
}

impl std::fmt::Debug for BwBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BwBackend")
            .field("creds_path", &self.creds_path.to_string())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl BwBackend {
    /// `client` must carry the Vaultwarden token (scoped token precedence).
    pub fn new(client: KvClient, creds_path: KvPath, settings: BwSettings) -> Self {
        Self {
            client,
            creds_path,
            settings,
            open: Arc::new(Mutex::new(None)),
        }
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

fn vw_error(e: VaultwardenError) -> SecretError {
    let kind = match &e {
        VaultwardenError::NotConfigured => ErrorKind::NotConfigured,
        VaultwardenError::Login(_) | VaultwardenError::Unlock(_) | VaultwardenError::EmptySession => {
            ErrorKind::Unauthenticated
        }
        VaultwardenError::Bw(super::BwError::Failed { detail, .. }) if detail.contains("Not found") => {
            ErrorKind::NotFound
        }
        _ => ErrorKind::Unavailable,
    };
    SecretError::new(kind, e.to_string())
}

impl Backend for BwBackend {
    fn scheme(&self) -> Scheme {
        Scheme::Bw
    }

    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
        Box::pin(async move {
            let SecretRef::Bw { item, field } = reference else {
                return Err(wrong_scheme(Scheme::Bw, reference));
            };
            let need_session = self.open.lock().unwrap_or_else(|p| p.into_inner()).is_none();
            let creds = if need_session {
                match self.client.read(&self.creds_path).await {
                    Ok(data) => Some(creds_from(&data)),
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        return Err(vw_error(VaultwardenError::NotConfigured));
                    }
                    Err(e) => return Err(e.context("reading your Vaultwarden creds")),
                }
            } else {
                None
            };
            let (open, settings) = (Arc::clone(&self.open), self.settings.clone());
            let (item, field) = (item.clone(), field.clone());
            let task = tokio::task::spawn_blocking(move || -> Result<SecretString, SecretError> {
                let mut guard = open.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    let Some(creds) = creds else {
                        return Err(SecretError::new(ErrorKind::Other, "bw session vanished"));
                    };
                    hardening::disable_core_dumps().ok();
                    let lock = UserLock::acquire(&settings.runtime_dir).map_err(|e| {
                        SecretError::new(ErrorKind::Other, format!("cannot take the per-user vault lock: {e}"))
                    })?;
                    let vw = Vaultwarden {
                        runner: settings.runner.clone(),
                        creds: Loaded(creds),
                        server_url: settings.server_url.clone(),
                        appdata: super::appdata_dir(&settings.runtime_dir),
                        home: settings.home.clone(),
                        path: settings.path.clone(),
                    };
                    let session = vw.open_session().map_err(vw_error)?;
                    for w in &session.warnings {
                        tracing::warn!("{w}");
                    }
                    *guard = Some(Open {
                        _lock: lock,
                        vw,
                        session,
                    });
                }
                let Some(o) = guard.as_ref() else {
                    return Err(SecretError::new(ErrorKind::Other, "bw session vanished"));
                };
                let value = match field.parse::<Field>() {
                    Ok(f) => o.vw.get(&o.session, f, &item).map_err(vw_error)?,
                    Err(_) => o
                        .vw
                        .get_custom(&o.session, &item, &field)
                        .map_err(vw_error)?
                        .ok_or_else(|| SecretError::new(ErrorKind::NotFound, format!("item has no field {field:?}")))?,
                };
                hardening::write_op_log(&hardening::op_record(&settings.user, "ref", &item));
                if value.is_empty() {
                    return Err(SecretError::new(
                        ErrorKind::NotFound,
                        format!("field {field:?} is empty"),
                    ));
                }
                Ok(value)
            });
            task.await
                .map_err(|e| SecretError::new(ErrorKind::Other, format!("bw task failed: {e}")))?
                .map_err(|e| e.context(reference))
        })
    }
}
