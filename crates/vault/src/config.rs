//! The `[vault]` section of `~/.config/homelab/config.toml` and what is derived from it.
//! Nothing personal is compiled in: no default address, no default server.
//!
//! ```toml
//! [vault]
//! addr = "https://vault.example.org"            # $VAULT_ADDR wins over this
//! vaultwarden_server = "https://vaultwarden.example.org"
//! creds_path = "secret/homelab/vaultwarden/{user}"   # the default
//! scoped_token_file = "~/.config/homelab/vault-token"  # the default
//! ```

use std::path::{Path, PathBuf};

use homelab_core::secret::precedence::{self, AddrSource};
use serde::Deserialize;

use crate::resolve::{ErrorKind, SecretError};

/// The default per-user Vaultwarden creds path (`{user}` is replaced by the OS user): a
/// neutral path under this tool's name (docs/differences.md says why it is not required
/// config).
pub const DEFAULT_CREDS_PATH: &str = "secret/homelab/vaultwarden/{user}";

/// The default scoped token file, next to the config file. An installation whose token
/// is provisioned elsewhere (e.g. by another tool) sets `scoped_token_file`.
pub const DEFAULT_SCOPED_TOKEN_FILE: &str = "~/.config/homelab/vault-token";

/// `[vault]` in the config file. Every key is optional; unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// The Vault/OpenBao address (`$VAULT_ADDR` wins).
    pub addr: Option<String>,
    /// The Vaultwarden server URL (`bw config server …`).
    pub vaultwarden_server: Option<String>,
    /// The per-user creds path; `{user}` is replaced. Default [`DEFAULT_CREDS_PATH`].
    pub creds_path: Option<String>,
    /// The scoped token file; a leading `~/` is the home directory. Default
    /// [`DEFAULT_SCOPED_TOKEN_FILE`].
    pub scoped_token_file: Option<String>,
}

impl VaultConfig {
    /// The Vault address: `$VAULT_ADDR` (passed in) if non-blank, else `addr`; neither is
    /// an error naming both.
    pub fn address(&self, env_addr: Option<&str>) -> Result<(String, AddrSource), SecretError> {
        precedence::choose_addr(env_addr, self.addr.as_deref())
            .map_err(|e| SecretError::new(ErrorKind::NotConfigured, e.to_string()))
    }

    /// The creds path for `user`.
    pub fn creds_path_for(&self, user: &str) -> String {
        self.creds_path
            .as_deref()
            .unwrap_or(DEFAULT_CREDS_PATH)
            .replace("{user}", user)
    }

    /// The scoped token file, with `~/` expanded against `home` (`None` without a home).
    pub fn scoped_token_path(&self, home: Option<&Path>) -> Option<PathBuf> {
        expand_home(
            self.scoped_token_file.as_deref().unwrap_or(DEFAULT_SCOPED_TOKEN_FILE),
            home,
        )
    }

    /// The Vaultwarden server URL, if configured (must be http(s)).
    pub fn vaultwarden_server(&self) -> Result<Option<&str>, SecretError> {
        match self.vaultwarden_server.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) if s.starts_with("https://") || s.starts_with("http://") => Ok(Some(s)),
            Some(s) => Err(SecretError::new(
                ErrorKind::NotConfigured,
                format!("invalid [vault] vaultwarden_server {s:?}: want an http(s) URL"),
            )),
        }
    }
}

/// Expands a leading `~/` (or a lone `~`) against `home`.
pub fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    if path == "~" {
        return home.map(Path::to_path_buf);
    }
    match path.strip_prefix("~/") {
        Some(rest) => home.map(|h| h.join(rest)),
        None => Some(PathBuf::from(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = VaultConfig::default();
        assert_eq!(c.creds_path_for("alice"), "secret/homelab/vaultwarden/alice");
        assert_eq!(
            c.scoped_token_path(Some(Path::new("/home/a"))).unwrap(),
            PathBuf::from("/home/a/.config/homelab/vault-token")
        );
        assert_eq!(c.scoped_token_path(None), None);
        let e = c.address(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        assert!(e.to_string().starts_with("no Vault address"), "{e}");
        let c = VaultConfig {
            addr: Some("https://cfg".into()),
            creds_path: Some("kv/users/{user}/vw".into()),
            scoped_token_file: Some("/etc/tok".into()),
            vaultwarden_server: Some("ftp://x".into()),
        };
        assert_eq!(c.address(Some("http://env:8200")).unwrap().0, "http://env:8200");
        assert_eq!(c.address(Some("")).unwrap(), ("https://cfg".into(), AddrSource::Config));
        assert_eq!(c.creds_path_for("bob"), "kv/users/bob/vw");
        assert_eq!(c.scoped_token_path(None).unwrap(), PathBuf::from("/etc/tok"));
        assert!(c.vaultwarden_server().is_err());
    }
}
