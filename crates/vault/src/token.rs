//! Vault token discovery: observes `$VAULT_TOKEN`, the scoped token file and
//! `~/.vault-token`, then lets [`homelab_core::secret::precedence::choose_token`] decide.
//! For [`TokenPurpose::Kv`] the scoped file is never even opened.

use std::path::Path;

use homelab_core::secret::SecretString;
use homelab_core::secret::precedence::{self, Observed, TokenDecision, TokenInputs, TokenPurpose};

use crate::config::VaultConfig;
use crate::resolve::{ErrorKind, SecretError};

/// What token discovery looks at, passed in so tests need no real environment.
#[derive(Debug, Clone, Default)]
pub struct TokenEnv {
    /// `$VAULT_TOKEN`, if set.
    pub vault_token: Option<SecretString>,
    /// `$HOME`, if set and non-empty.
    pub home: Option<std::path::PathBuf>,
}

impl TokenEnv {
    /// Reads `VAULT_TOKEN` and `HOME` from the process environment.
    pub fn from_process() -> Self {
        Self {
            vault_token: std::env::var("VAULT_TOKEN").ok().map(SecretString::new),
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(Into::into),
        }
    }
}

/// Reads a token file: absent → [`Observed::Absent`], unreadable → the reason (with the
/// path, never the content).
pub fn observe_file(path: &Path) -> Observed {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Observed::Present(SecretString::new(s)),
            Err(e) => {
                let mut bytes = e.into_bytes();
                zeroize::Zeroize::zeroize(&mut bytes);
                Observed::Unreadable(format!("{} is not UTF-8", path.display()))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Observed::Absent,
        Err(e) => Observed::Unreadable(format!("cannot read {}: {e}", path.display())),
    }
}

/// Observes every source `purpose` consults and decides.
pub fn discover_token(purpose: TokenPurpose, config: &VaultConfig, env: &TokenEnv) -> TokenDecision {
    let home = env.home.as_deref();
    let consults = |s| purpose.order().contains(&s);
    let inputs = TokenInputs {
        env: env.vault_token.clone().map_or(Observed::Absent, Observed::Present),
        scoped_file: match config.scoped_token_path(home) {
            Some(p) if consults(precedence::TokenSource::ScopedFile) => observe_file(&p),
            _ => Observed::Absent,
        },
        vault_token_file: match home {
            Some(h) => observe_file(&h.join(".vault-token")),
            None => Observed::Absent,
        },
    };
    precedence::choose_token(purpose, &inputs)
}

/// The token from a decision, or an error saying why there is none.
pub fn require_token(decision: &TokenDecision) -> Result<SecretString, SecretError> {
    if let Some((source, why)) = decision.failure() {
        return Err(SecretError::new(
            ErrorKind::Unauthenticated,
            format!("Vault token from {source}: {why}"),
        ));
    }
    match decision.token() {
        Some(t) => Ok(t.clone()),
        None => Err(SecretError::new(
            ErrorKind::Unauthenticated,
            match decision.purpose {
                TokenPurpose::Kv => "no Vault token: set VAULT_TOKEN or run `vault login` (writes ~/.vault-token)",
                TokenPurpose::Vaultwarden => {
                    "no Vault token: set VAULT_TOKEN, provision the scoped token file, or run `vault login`"
                }
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homelab_core::secret::TokenSource;

    #[test]
    fn reads_files_in_order_and_kv_never_opens_the_scoped_file() {
        let home = tempfile::tempdir().unwrap();
        let scoped = home.path().join(".config/claude-auth-sync/vault-token");
        std::fs::create_dir_all(scoped.parent().unwrap()).unwrap();
        std::fs::write(&scoped, " scoped-tok \n").unwrap();
        std::fs::write(home.path().join(".vault-token"), "own-tok").unwrap();
        let env = TokenEnv {
            vault_token: None,
            home: Some(home.path().into()),
        };
        let cfg = VaultConfig {
            scoped_token_file: Some("~/.config/claude-auth-sync/vault-token".into()),
            ..VaultConfig::default()
        };
        let vw = discover_token(TokenPurpose::Vaultwarden, &cfg, &env);
        assert_eq!(
            (vw.source(), vw.token().unwrap().expose()),
            (Some(TokenSource::ScopedFile), "scoped-tok")
        );
        let kv = discover_token(TokenPurpose::Kv, &cfg, &env);
        assert_eq!(
            (kv.source(), kv.token().unwrap().expose()),
            (Some(TokenSource::VaultTokenFile), "own-tok")
        );

        // An unreadable scoped file (a directory here) stops the Vaultwarden search but is
        // invisible to kv verbs.
        std::fs::remove_file(&scoped).unwrap();
        std::fs::create_dir(&scoped).unwrap();
        let vw = discover_token(TokenPurpose::Vaultwarden, &cfg, &env);
        let e = require_token(&vw).unwrap_err().to_string();
        assert!(e.starts_with("Vault token from scoped token file: cannot read"), "{e}");
        assert!(discover_token(TokenPurpose::Kv, &cfg, &env).token().is_some());

        let env = TokenEnv {
            vault_token: Some(SecretString::new("env-tok".into())),
            home: None,
        };
        assert_eq!(discover_token(TokenPurpose::Kv, &cfg, &env).tag(), "env");
        let none = discover_token(TokenPurpose::Kv, &cfg, &TokenEnv::default());
        assert!(
            require_token(&none)
                .unwrap_err()
                .to_string()
                .starts_with("no Vault token")
        );
    }
}
