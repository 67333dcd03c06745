//! The resolver: one [`Backend`] per [`Scheme`], registered at start-up. A scheme with no
//! backend fails closed with a clear error (`bw://` until the Vaultwarden backend is
//! registered); a backend that cannot work (no Vault address) can be registered as
//! [`Unavailable`] so the error appears only when a reference actually needs it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use homelab_core::secret::{Scheme, SecretRef, SecretString};

/// A boxed, `Send` future (keeps [`Backend`] dyn-compatible without `async-trait`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What kind of failure a [`SecretError`] is (for exit codes and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The path, secret, item or key does not exist.
    NotFound,
    /// The backend refused (Vault 403, Kubernetes 403).
    Forbidden,
    /// No usable credentials (no token, locked vault).
    Unauthenticated,
    /// The backend could not be reached or answered garbage.
    Unavailable,
    /// No backend is registered for the scheme, or it is not configured.
    NotConfigured,
    /// A check-and-set write kept losing to concurrent writers.
    Conflict,
    /// The request itself is invalid (bad path, bad reference).
    Invalid,
    /// Refused by the output rules (a terminal).
    Refused,
    /// Anything else (local I/O).
    Other,
}

/// A secret-resolution failure: ONE line naming what failed and why (address, HTTP
/// status, path), never a secret value or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SecretError {
    kind: ErrorKind,
    message: String,
}

impl SecretError {
    /// A new error; `message` must be one line and hold no secret.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = if message.contains('\n') {
            message
                .split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            message
        };
        Self { kind, message }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Prefixes the message with what was being resolved (`vault://secret/app#pw: …`).
    pub fn context(self, what: impl fmt::Display) -> Self {
        Self {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

/// One secret store. Implementations resolve only their own scheme and return the value
/// as a [`SecretString`]; a missing key is an error, never an empty string.
pub trait Backend: Send + Sync + fmt::Debug {
    /// The scheme this backend serves.
    fn scheme(&self) -> Scheme;

    /// Fetches the value one reference names.
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>>;
}

/// A placeholder for a scheme whose backend cannot be built (missing address, …): every
/// reference to it fails with the stored reason.
#[derive(Debug, Clone)]
pub struct Unavailable {
    scheme: Scheme,
    error: SecretError,
}

impl Unavailable {
    /// A backend that is not configured ([`ErrorKind::NotConfigured`]) for `reason`.
    pub fn new(scheme: Scheme, reason: impl Into<String>) -> Self {
        Self {
            scheme,
            error: SecretError::new(ErrorKind::NotConfigured, reason),
        }
    }

    /// A backend whose construction failed with `error` (its kind is kept: a missing token
    /// stays [`ErrorKind::Unauthenticated`]).
    pub fn from_error(scheme: Scheme, error: SecretError) -> Self {
        Self { scheme, error }
    }
}

impl Backend for Unavailable {
    fn scheme(&self) -> Scheme {
        self.scheme
    }

    fn resolve<'a>(&'a self, _reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
        let e = self.error.clone();
        Box::pin(async move { Err(e) })
    }
}

/// The message for a scheme with no backend.
pub fn no_backend_message(scheme: Scheme) -> String {
    match scheme {
        Scheme::Bw => "bw:// references need the Vaultwarden backend, which is not available in this build".to_owned(),
        s => format!("{s}:// references have no backend configured"),
    }
}

/// Backends by scheme.
#[derive(Debug, Default)]
pub struct Resolver {
    backends: BTreeMap<Scheme, Box<dyn Backend>>,
}

impl Resolver {
    /// An empty resolver: every reference fails closed until a backend is registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) the backend for its scheme.
    pub fn register(&mut self, backend: Box<dyn Backend>) -> &mut Self {
        self.backends.insert(backend.scheme(), backend);
        self
    }

    /// True if a backend (possibly [`Unavailable`]) is registered for `scheme`.
    pub fn has(&self, scheme: Scheme) -> bool {
        self.backends.contains_key(&scheme)
    }

    /// Resolves one reference; errors are prefixed with the reference.
    pub async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        let Some(backend) = self.backends.get(&reference.scheme()) else {
            return Err(
                SecretError::new(ErrorKind::NotConfigured, no_backend_message(reference.scheme())).context(reference),
            );
        };
        match backend.resolve(reference).await {
            Ok(v) if v.is_empty() => Err(SecretError::new(
                ErrorKind::NotFound,
                "the value is empty (refusing an empty secret)",
            )
            .context(reference)),
            Ok(v) => Ok(v),
            Err(e) => Err(e.context(reference)),
        }
    }

    /// Resolves every distinct reference, one at a time, in order; the first failure
    /// fails the whole batch (nothing partial is returned).
    pub async fn resolve_all<'r>(
        &self,
        references: impl IntoIterator<Item = &'r SecretRef>,
    ) -> Result<Vec<(SecretRef, SecretString)>, SecretError> {
        let distinct: BTreeSet<&SecretRef> = references.into_iter().collect();
        let mut out = Vec::with_capacity(distinct.len());
        for r in distinct {
            let v = self.resolve(r).await?;
            out.push((r.clone(), v));
        }
        Ok(out)
    }
}

/// `env://VAR`: the calling process's environment. An unset or empty variable (or one
/// that is not UTF-8) is an error. `Debug` shows variable names only.
#[derive(Clone, Default)]
pub struct EnvBackend {
    /// Overrides for tests; `None` reads the real environment.
    vars: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for EnvBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.vars.as_ref().map(|m| m.keys().collect::<Vec<_>>());
        f.debug_struct("EnvBackend").field("fixed_vars", &names).finish()
    }
}

impl EnvBackend {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads from a fixed map instead (tests).
    pub fn from_map(vars: BTreeMap<String, String>) -> Self {
        Self { vars: Some(vars) }
    }
}

impl Backend for EnvBackend {
    fn scheme(&self) -> Scheme {
        Scheme::Env
    }

    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
        let result = match reference {
            SecretRef::Env { var } => {
                let value = match &self.vars {
                    Some(m) => m.get(var).cloned().ok_or(std::env::VarError::NotPresent),
                    None => std::env::var(var),
                };
                match value {
                    Ok(v) if !v.is_empty() => Ok(SecretString::new(v)),
                    Ok(_) => Err(SecretError::new(
                        ErrorKind::NotFound,
                        format!("environment variable {var} is empty"),
                    )),
                    Err(std::env::VarError::NotPresent) => Err(SecretError::new(
                        ErrorKind::NotFound,
                        format!("environment variable {var} is not set"),
                    )),
                    Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::new(
                        ErrorKind::Invalid,
                        format!("environment variable {var} is not valid UTF-8"),
                    )),
                }
            }
            other => Err(wrong_scheme(Scheme::Env, other)),
        };
        Box::pin(async move { result })
    }
}

pub(crate) fn wrong_scheme(want: Scheme, got: &SecretRef) -> SecretError {
    SecretError::new(
        ErrorKind::Invalid,
        format!("the {want}:// backend cannot resolve a {}:// reference", got.scheme()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> EnvBackend {
        EnvBackend::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[tokio::test]
    async fn fails_closed_without_a_backend() {
        let resolver = Resolver::new();
        let e = resolver.resolve(&r("bw://GitHub#password")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        assert_eq!(
            e.to_string(),
            "bw://GitHub#password: bw:// references need the Vaultwarden backend, which is not available in this build"
        );
        let e = resolver.resolve(&r("env://X")).await.unwrap_err();
        assert_eq!(e.to_string(), "env://X: env:// references have no backend configured");
    }

    #[tokio::test]
    async fn env_backend_and_unavailable() {
        let mut resolver = Resolver::new();
        resolver
            .register(Box::new(env(&[("A", "one"), ("E", "")])))
            .register(Box::new(Unavailable::new(Scheme::Vault, "no Vault address")));
        assert_eq!(resolver.resolve(&r("env://A")).await.unwrap().expose(), "one");
        let e = resolver.resolve(&r("env://B")).await.unwrap_err();
        assert_eq!(e.to_string(), "env://B: environment variable B is not set");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = resolver.resolve(&r("env://E")).await.unwrap_err();
        assert!(e.to_string().ends_with("environment variable E is empty"), "{e}");
        let e = resolver.resolve(&r("vault://secret/a#k")).await.unwrap_err();
        assert_eq!(e.to_string(), "vault://secret/a#k: no Vault address");
        assert!(resolver.has(Scheme::Vault) && !resolver.has(Scheme::Bw));
    }

    #[tokio::test]
    async fn resolve_all_is_all_or_nothing() {
        let mut resolver = Resolver::new();
        resolver.register(Box::new(env(&[("A", "1"), ("B", "2")])));
        let refs = [r("env://B"), r("env://A"), r("env://B")];
        let got = resolver.resolve_all(&refs).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, r("env://A"));
        let refs = [r("env://A"), r("env://C")];
        assert!(resolver.resolve_all(&refs).await.is_err());
    }

    #[test]
    fn errors_are_one_line() {
        let e = SecretError::new(ErrorKind::Other, "a\n  b\n");
        assert_eq!(e.to_string(), "a; b");
    }
}
