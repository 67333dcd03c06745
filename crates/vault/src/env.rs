//! The process environment the adapters read, read in ONE place ([`ProcessEnv`]) and passed
//! in, so the constructors' precedence rules are testable without a real environment, and
//! the Vault KV client built from config + environment ([`kv_client`]).

use std::path::PathBuf;

use homelab_core::secret::TokenPurpose;

use crate::config::VaultConfig;
use crate::hardening;
use crate::kv::{DEFAULT_TIMEOUT, KvClient};
use crate::resolve::{ErrorKind, SecretError};
use crate::token::{TokenEnv, discover_token, require_token};

/// What the secret adapters take from the environment.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    /// `$VAULT_ADDR` (wins over `[vault] addr`).
    pub vault_addr: Option<String>,
    /// `$USER`, then `$LOGNAME`: names the per-user creds path.
    pub user: Option<String>,
    pub logname: Option<String>,
    /// `$HOME` (the `bw` child's home; empty when unset).
    pub home: String,
    /// `$PATH` (the `bw` child's; a safe default when unset).
    pub path: Option<String>,
    /// The per-user runtime directory: `$XDG_RUNTIME_DIR`, else `/run/user/<uid>`.
    pub runtime_dir: PathBuf,
    /// `$VAULT_TOKEN` and `$HOME` for token discovery.
    pub token: TokenEnv,
}

impl ProcessEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self {
            vault_addr: std::env::var("VAULT_ADDR").ok(),
            user: std::env::var("USER").ok(),
            logname: std::env::var("LOGNAME").ok(),
            home: std::env::var("HOME").unwrap_or_default(),
            path: std::env::var("PATH").ok(),
            runtime_dir: hardening::runtime_dir(hardening::current_uid()),
            token: TokenEnv::from_process(),
        }
    }

    /// The OS user: `$USER`, else `$LOGNAME` (empty values do not count).
    pub fn user(&self) -> Result<String, SecretError> {
        [&self.user, &self.logname]
            .into_iter()
            .flatten()
            .find(|u| !u.is_empty())
            .cloned()
            .ok_or_else(|| SecretError::new(ErrorKind::NotConfigured, "cannot tell who you are: $USER is not set"))
    }
}

/// A KV client for `homelab vault kv` and `vault://` references: the address from
/// `$VAULT_ADDR` or `[vault] addr`, the token per [`TokenPurpose::Kv`] (the caller's own,
/// never the scoped Vaultwarden token).
pub fn kv_client(config: &VaultConfig, env: &ProcessEnv) -> Result<KvClient, SecretError> {
    let (addr, addr_source) = config.address(env.vault_addr.as_deref())?;
    let decision = discover_token(TokenPurpose::Kv, config, &env.token);
    tracing::debug!(%addr, ?addr_source, token_source = decision.tag(), "vault kv connection");
    for line in decision.explain() {
        tracing::debug!("vault token: {line}");
    }
    let token = require_token(&decision)?;
    KvClient::new(&addr, &token, DEFAULT_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_user_then_logname() {
        let env = |u: Option<&str>, l: Option<&str>| ProcessEnv {
            user: u.map(Into::into),
            logname: l.map(Into::into),
            ..ProcessEnv::default()
        };
        assert_eq!(env(Some("alice"), Some("bob")).user().unwrap(), "alice");
        assert_eq!(env(Some(""), Some("bob")).user().unwrap(), "bob");
        assert_eq!(env(None, Some("bob")).user().unwrap(), "bob");
        let e = env(Some(""), None).user().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        assert!(
            e.to_string().contains("cannot tell who you are: $USER is not set"),
            "{e}"
        );
    }

    #[test]
    fn kv_client_needs_an_address_and_a_token() {
        let none = ProcessEnv::default();
        let e = kv_client(&VaultConfig::default(), &none).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        let env = ProcessEnv {
            vault_addr: Some("http://127.0.0.1:1".into()),
            token: TokenEnv {
                vault_token: Some(homelab_core::secret::SecretString::new("t".into())),
                home: None,
            },
            ..ProcessEnv::default()
        };
        assert!(kv_client(&VaultConfig::default(), &env).is_ok());
    }
}
