//! `bw://item#field` references: the Vaultwarden half of the [`crate::Resolver`].
//!
//! The per-user creds are read asynchronously from Vault KV (with the Vaultwarden token);
//! `bw` itself runs on a blocking thread under the per-user lock. One session serves every
//! `bw://` reference of a render (opening one costs a login/unlock/sync), and it is held
//! with the lock until the backend is dropped.

use std::sync::{Arc, Mutex};

use homelab_core::secret::{Scheme, SecretRef, SecretString};
use homelab_core::vaultwarden::Field;

use super::{BwSettings, Fetched, KvCreds, ProcessRunner, Session, Vaultwarden, VaultwardenError};
use crate::hardening::{self, UserLock};
use crate::resolve::{Backend, BoxFuture, ErrorKind, SecretError, wrong_scheme};

struct Open {
    _lock: UserLock,
    vw: Vaultwarden<ProcessRunner, Fetched>,
    session: Session,
}

/// The `bw://` backend.
pub struct BwBackend {
    creds: KvCreds,
    settings: BwSettings,
    open: Arc<Mutex<Option<Open>>>,
}

impl std::fmt::Debug for BwBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BwBackend")
            .field("creds_path", &self.creds.path().to_string())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl BwBackend {
    /// `creds` must read with the Vaultwarden token (scoped token precedence); see
    /// [`super::bw_backend`].
    pub fn new(creds: KvCreds, settings: BwSettings) -> Self {
        Self {
            creds,
            settings,
            open: Arc::new(Mutex::new(None)),
        }
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
                match self.creds.read().await {
                    Ok(Some(creds)) => Some(creds),
                    Ok(None) => return Err(vw_error(VaultwardenError::NotConfigured)),
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
                    let vw = settings.client(Fetched(Ok(Some(creds))));
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
