//! `~/.config/homelab/config.toml`: defaults that are personal to an installation
//! (addresses, paths), so none is compiled in. Precedence everywhere: flag, then
//! environment, then this file, then a built-in neutral default.
//!
//! ```toml
//! [upgrade]
//! matrix = "/etc/homelab/addon-compat.json"
//! prometheus = "http://prometheus.monitoring.svc:9090"
//!
//! [vault]
//! addr = "https://vault.example.org"        # $VAULT_ADDR wins
//! vaultwarden_server = "https://vaultwarden.example.org"
//! creds_path = "secret/homelab/vaultwarden/{user}"    # the default
//! scoped_token_file = "~/.config/homelab/vault-token"  # the default
//!
//! [ingress]                     # defaults for `homelab ingress render`; the spec wins
//! root_domain = "example.org"
//! annotation_domain = "example.org"   # default: root_domain
//! cloudflare_zone_id = "0123456789abcdef0123456789abcdef"
//! cloudflare_tunnel_id = "00000000-0000-4000-8000-000000000001"
//! public_ip = "203.0.113.10"
//! public_ipv6 = "2001:db8::10"
//! internal_lb_ip = "10.0.0.10"
//! allowed_groups = ["Home Server Admins"]
//! # namespace → homepage group, for specs without `homepage_group` (else "Other")
//! homepage_groups = { nextcloud = "Productivity", immich = "Media & Entertainment" }
//!
//! [policy]
//! trusted_registries = ["ghcr.io/my-org", "registry.local:5000"]
//! docs_url = "https://git.example.org/homelab/src/branch/main/docs/policy/"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub upgrade: UpgradeConfig,
    /// `[vault]`: see [`homelab_vault::VaultConfig`].
    #[serde(default)]
    pub vault: homelab_vault::VaultConfig,
    /// `[ingress]`: installation defaults for the ingress factory (none compiled in).
    #[serde(default)]
    pub ingress: homelab_core::ingress::IngressDefaults,
    #[serde(default)]
    pub policy: PolicyConfig,
}

/// `[policy]`: defaults for `homelab policy check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Registry hosts or host/path prefixes images may come from (HL-IMG-003).
    #[serde(default)]
    pub trusted_registries: Vec<String>,
    /// Base URL of the rule pages for SARIF `helpUri` (`<docs_url><ID>.md`). Default: the
    /// project repository's `docs/policy/`.
    pub docs_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeConfig {
    pub matrix: Option<PathBuf>,
    pub prometheus: Option<String>,
}

/// `$HOMELAB_CONFIG`, else `$XDG_CONFIG_HOME/homelab/config.toml`, else
/// `~/.config/homelab/config.toml`.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HOMELAB_CONFIG") {
        return Some(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(Path::new(&x).join("homelab/config.toml"));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".config/homelab/config.toml"))
}

/// Loads the config; a missing file is an empty config, a broken one an error.
pub fn load() -> Result<Config> {
    let Some(path) = path() else {
        return Ok(Config::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read config {}", path.display())),
    };
    parse(&text).with_context(|| format!("invalid config {}", path.display()))
}

fn parse(text: &str) -> Result<Config> {
    toml::from_str(text).map_err(|e| {
        // toml's message spans several lines (with a source excerpt); keep the gist.
        let msg = e.message().to_owned();
        match e.span() {
            Some(span) => {
                let line = 1 + text[..span.start.min(text.len())].matches('\n').count();
                anyhow::anyhow!("line {line}: {msg}")
            }
            None => anyhow::anyhow!("{msg}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_unknown_keys() {
        let c = parse("[upgrade]\nmatrix = \"/m.json\"\nprometheus = \"http://p:9090\"\n").unwrap();
        assert_eq!(c.upgrade.matrix.unwrap(), PathBuf::from("/m.json"));
        let e = parse("[upgrade]\nmatrx = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(parse("").unwrap().upgrade.prometheus.is_none());
        let c = parse("[vault]\naddr = \"https://v\"\nscoped_token_file = \"~/t\"\n").unwrap();
        assert_eq!(c.vault.addr.as_deref(), Some("https://v"));
        assert_eq!(c.vault.creds_path_for("u"), "secret/homelab/vaultwarden/u");
        let e = parse("[vault]\nadress = \"x\"\n").unwrap_err().to_string();
        assert!(e.starts_with("line 2:"), "{e}");
        let c = parse("[ingress]\nroot_domain = \"example.org\"\nallowed_groups = [\"Ops\"]\n").unwrap();
        let d = &c.ingress;
        assert_eq!(d.root_domain.as_deref(), Some("example.org"));
        assert_eq!(d.allowed_groups, Some(vec!["Ops".to_owned()]));
        assert!(d.homepage_groups.is_empty());
        let c = parse("[ingress.homepage_groups]\nnextcloud = \"Productivity\"\n").unwrap();
        assert_eq!(c.ingress.homepage_groups["nextcloud"], "Productivity");
        assert!(parse("[ingress]\nzone = \"x\"\n").is_err());
        let c = parse("[policy]\ntrusted_registries = [\"ghcr.io/o\"]\n").unwrap();
        assert_eq!(c.policy.trusted_registries, vec!["ghcr.io/o".to_owned()]);
        assert!(parse("[policy]\ntrusted = []\n").is_err());
    }
}
