//! Which Vault token and address a command uses: credential precedence as data (an
//! ordered list with the reason each source was used or skipped), never as scattered code
//! paths, so `--explain`/status output and tests see the same decision.
//!
//! - Vaultwarden verbs: `$VAULT_TOKEN`, then the scoped token file (maintained by
//!   claude-auth-sync, policy `workstation-claude-<user>`), then `~/.vault-token`. The
//!   scoped token beats `~/.vault-token` on purpose: an OIDC login token has `deny` on the
//!   per-user creds path and would fail with `403 permission denied`.
//! - `kv` verbs (and `vault://` references): the caller's own token, `$VAULT_TOKEN` then
//!   `~/.vault-token`, **never** the scoped one (it is `deny` everywhere else).
//!
//! A blank (whitespace-only) source is skipped; a token is trimmed. A source that exists
//! but cannot be read stops the search with an error instead of silently falling through
//! to a lower source (fail closed: the 403 that would follow names the wrong cause).

use std::fmt;

use super::SecretString;

/// A place a Vault token can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `$VAULT_TOKEN`: a deliberate override.
    Env,
    /// The per-user scoped token file (`[vault] scoped_token_file`).
    ScopedFile,
    /// `~/.vault-token` (written by `vault login`).
    VaultTokenFile,
}

impl TokenSource {
    /// A short tag for logs and tests: `env`, `scoped`, `file`.
    pub fn tag(self) -> &'static str {
        match self {
            TokenSource::Env => "env",
            TokenSource::ScopedFile => "scoped",
            TokenSource::VaultTokenFile => "file",
        }
    }

    /// How the source is named to a person.
    pub fn label(self) -> &'static str {
        match self {
            TokenSource::Env => "$VAULT_TOKEN",
            TokenSource::ScopedFile => "scoped token file",
            TokenSource::VaultTokenFile => "~/.vault-token",
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Which family of commands wants a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// `homelab vault setup|status|list|search|get|code` (reads the per-user creds path).
    Vaultwarden,
    /// `homelab vault kv …`, `vault://` references: the caller's own token.
    Kv,
}

impl TokenPurpose {
    /// The sources consulted, in order.
    pub fn order(self) -> &'static [TokenSource] {
        match self {
            TokenPurpose::Vaultwarden => &[TokenSource::Env, TokenSource::ScopedFile, TokenSource::VaultTokenFile],
            TokenPurpose::Kv => &[TokenSource::Env, TokenSource::VaultTokenFile],
        }
    }
}

/// What was observed at one source (the adapter reads files and env; this module decides).
#[derive(Debug, Clone, Default)]
pub enum Observed {
    /// Not set / no such file (or no `$HOME` to find it in).
    #[default]
    Absent,
    /// It exists but could not be read: the reason (never the content).
    Unreadable(String),
    /// Its content (untrimmed).
    Present(SecretString),
}

/// Everything observed, one entry per source.
#[derive(Debug, Clone, Default)]
pub struct TokenInputs {
    pub env: Observed,
    pub scoped_file: Observed,
    pub vault_token_file: Observed,
}

impl TokenInputs {
    fn get(&self, s: TokenSource) -> &Observed {
        match s {
            TokenSource::Env => &self.env,
            TokenSource::ScopedFile => &self.scoped_file,
            TokenSource::VaultTokenFile => &self.vault_token_file,
        }
    }
}

/// What happened at one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// This source's token is used.
    Used,
    /// Skipped, with the reason (`not set`, `blank`).
    Skipped(&'static str),
    /// It exists but is unreadable: the search stopped here (fail closed).
    Failed(String),
    /// Not looked at: a source before it decided.
    NotConsulted,
}

/// One line of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub source: TokenSource,
    pub outcome: StepOutcome,
}

/// The decision: the ordered steps and the token (if any). `Debug` shows no token.
#[derive(Debug, Clone)]
pub struct TokenDecision {
    pub purpose: TokenPurpose,
    pub steps: Vec<Step>,
    token: Option<(TokenSource, SecretString)>,
}

impl TokenDecision {
    /// The winning source, if a token was found.
    pub fn source(&self) -> Option<TokenSource> {
        self.token.as_ref().map(|(s, _)| *s)
    }

    /// The trimmed token, if one was found.
    pub fn token(&self) -> Option<&SecretString> {
        self.token.as_ref().map(|(_, t)| t)
    }

    /// The unreadable source that stopped the search, with its reason.
    pub fn failure(&self) -> Option<(TokenSource, &str)> {
        self.steps.iter().find_map(|s| match &s.outcome {
            StepOutcome::Failed(why) => Some((s.source, why.as_str())),
            _ => None,
        })
    }

    /// The seed's source tag: `env`, `scoped`, `file` or `none`.
    pub fn tag(&self) -> &'static str {
        self.source().map_or("none", TokenSource::tag)
    }

    /// One line per source for `--explain`/status output (no token, ever).
    pub fn explain(&self) -> Vec<String> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let what = match &s.outcome {
                    StepOutcome::Used => "used".to_owned(),
                    StepOutcome::Skipped(why) => format!("skipped ({why})"),
                    StepOutcome::Failed(why) => format!("unreadable, stopping here: {why}"),
                    StepOutcome::NotConsulted => "not consulted (an earlier source decided)".to_owned(),
                };
                format!("{}. {}: {}", i + 1, s.source.label(), what)
            })
            .collect()
    }
}

/// Picks the token for `purpose` from what was observed (see the module docs).
pub fn choose_token(purpose: TokenPurpose, inputs: &TokenInputs) -> TokenDecision {
    let mut steps = Vec::new();
    let mut token = None;
    let mut decided = false;
    for &source in purpose.order() {
        if decided {
            steps.push(Step {
                source,
                outcome: StepOutcome::NotConsulted,
            });
            continue;
        }
        let outcome = match inputs.get(source) {
            Observed::Absent => StepOutcome::Skipped("not set"),
            Observed::Unreadable(why) => {
                decided = true;
                StepOutcome::Failed(why.clone())
            }
            Observed::Present(raw) => {
                let trimmed = raw.expose().trim();
                if trimmed.is_empty() {
                    StepOutcome::Skipped("blank")
                } else {
                    decided = true;
                    token = Some((source, SecretString::new(trimmed.to_owned())));
                    StepOutcome::Used
                }
            }
        };
        steps.push(Step { source, outcome });
    }
    TokenDecision { purpose, steps, token }
}

/// Where the Vault address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrSource {
    /// `$VAULT_ADDR`.
    Env,
    /// `[vault] addr` in the config file.
    Config,
}

/// Why no usable Vault address was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("no Vault address: set VAULT_ADDR or `addr` in the [vault] section of ~/.config/homelab/config.toml")]
    Missing,
    #[error("invalid Vault address {addr:?} from {from}: want http://host:port or https://host")]
    Invalid { addr: String, from: &'static str },
}

/// The Vault address: a non-blank `$VAULT_ADDR` wins over `[vault] addr`; no default is
/// compiled in, so neither is an error. The address must be an http(s) URL.
pub fn choose_addr(env: Option<&str>, config: Option<&str>) -> Result<(String, AddrSource), AddrError> {
    let pick = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (addr, source, from) = if let Some(a) = pick(env) {
        (a, AddrSource::Env, "VAULT_ADDR")
    } else if let Some(a) = pick(config) {
        (a, AddrSource::Config, "[vault] addr")
    } else {
        return Err(AddrError::Missing);
    };
    let host = addr
        .strip_prefix("https://")
        .or_else(|| addr.strip_prefix("http://"))
        .unwrap_or_default();
    if host.is_empty() || host.starts_with('/') || addr.contains(char::is_whitespace) {
        return Err(AddrError::Invalid { addr, from });
    }
    Ok((addr.trim_end_matches('/').to_owned(), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(s: &str) -> Observed {
        Observed::Present(SecretString::new(s.into()))
    }

    /// The seed's `vaultTokenSource(envToken, haveVaultTokenFile, scopedToken)`.
    fn seed(env: &str, file: bool, scoped: &str) -> (String, &'static str) {
        let inputs = TokenInputs {
            env: if env.is_empty() { Observed::Absent } else { present(env) },
            scoped_file: present(scoped),
            vault_token_file: if file { present("file-token") } else { Observed::Absent },
        };
        let d = choose_token(TokenPurpose::Vaultwarden, &inputs);
        let token = match d.source() {
            Some(TokenSource::ScopedFile) => d.token().unwrap().expose().to_owned(),
            _ => String::new(),
        };
        (token, d.tag())
    }

    #[test]
    fn seed_cases_38_to_41() {
        assert_eq!(seed("x", true, "s"), (String::new(), "env"));
        assert_eq!(seed("", true, " s \n"), ("s".into(), "scoped"));
        assert_eq!(seed("", true, "  "), (String::new(), "file"));
        assert_eq!(seed("", false, ""), (String::new(), "none"));
    }

    #[test]
    fn kv_never_uses_the_scoped_token() {
        let inputs = TokenInputs {
            env: Observed::Absent,
            scoped_file: present("scoped-token"),
            vault_token_file: present("own\n"),
        };
        let d = choose_token(TokenPurpose::Kv, &inputs);
        assert_eq!(d.source(), Some(TokenSource::VaultTokenFile));
        assert_eq!(d.token().unwrap().expose(), "own");
        assert!(d.steps.iter().all(|s| s.source != TokenSource::ScopedFile));
        let none = choose_token(
            TokenPurpose::Kv,
            &TokenInputs {
                scoped_file: present("scoped-token"),
                ..Default::default()
            },
        );
        assert_eq!(none.tag(), "none");
        assert!(none.token().is_none());
    }

    #[test]
    fn explains_every_step_without_the_token() {
        let inputs = TokenInputs {
            env: present("   "),
            scoped_file: present("tok-canary"),
            vault_token_file: present("other"),
        };
        let d = choose_token(TokenPurpose::Vaultwarden, &inputs);
        assert_eq!(
            d.explain(),
            [
                "1. $VAULT_TOKEN: skipped (blank)",
                "2. scoped token file: used",
                "3. ~/.vault-token: not consulted (an earlier source decided)"
            ]
        );
        assert!(!format!("{d:?}").contains("tok-canary"));
    }

    #[test]
    fn unreadable_source_stops_the_search() {
        let inputs = TokenInputs {
            env: Observed::Absent,
            scoped_file: Observed::Unreadable("permission denied".into()),
            vault_token_file: present("own"),
        };
        let d = choose_token(TokenPurpose::Vaultwarden, &inputs);
        assert!(d.token().is_none());
        assert_eq!(d.failure(), Some((TokenSource::ScopedFile, "permission denied")));
        assert_eq!(d.steps[2].outcome, StepOutcome::NotConsulted);
        // The same unreadable scoped file does not matter to kv verbs.
        assert_eq!(
            choose_token(TokenPurpose::Kv, &inputs).source(),
            Some(TokenSource::VaultTokenFile)
        );
    }

    #[test]
    fn address_precedence() {
        assert_eq!(
            choose_addr(Some("http://a:8200"), Some("https://b")),
            Ok(("http://a:8200".into(), AddrSource::Env))
        );
        assert_eq!(
            choose_addr(Some("   "), Some("https://b/")),
            Ok(("https://b".into(), AddrSource::Config))
        );
        assert_eq!(choose_addr(None, None), Err(AddrError::Missing));
        assert_eq!(choose_addr(Some(""), Some(" ")), Err(AddrError::Missing));
        assert!(matches!(
            choose_addr(Some("vault:8200"), None),
            Err(AddrError::Invalid { .. })
        ));
        assert!(matches!(
            choose_addr(None, Some("https://")),
            Err(AddrError::Invalid { .. })
        ));
    }
}
