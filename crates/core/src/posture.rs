//! The ingress auth-posture contract shared by the ingress factory (`crate::ingress`
//! once it lands) and the policy engine's ingress rule.
//!
//! Both sides must agree on three things, so they live here and nowhere else:
//! - what counts as an **admin UI** (a host, name or path that, exposed without an
//!   authenticating middleware, hands the keys to whoever finds it);
//! - what counts as an **authenticating middleware** in a Traefik
//!   `router.middlewares` annotation;
//! - the **exemption annotation** the factory writes when a spec says what gates an app
//!   that has no forward auth (`auth = "app"` / `"none"` with `auth_gate`), and the policy
//!   engine honours (a reason is mandatory).
//!
//! Invariant: a spec the factory renders never yields an Ingress the policy engine flags
//! under [`INGRESS_AUTH_POSTURE`]: an admin UI without forward auth is either refused by
//! the factory or carries the exemption with the spec's stated reason.

/// Stable ID of the policy rule "no admin UI without authentication".
pub const INGRESS_AUTH_POSTURE_ID: &str = "HL-ING-001";
/// Slug of the same rule, used in exemption annotation keys.
pub const INGRESS_AUTH_POSTURE: &str = "ingress-auth-posture";

/// Annotation key prefix for policy exemptions: `exempt.policy.homelab.dev/<rule-slug>`,
/// value = the reason (mandatory, non-blank).
pub const EXEMPT_PREFIX: &str = "exempt.policy.homelab.dev/";

/// The exemption annotation key for a rule slug.
pub fn exemption_key(rule_slug: &str) -> String {
    format!("{EXEMPT_PREFIX}{rule_slug}")
}

/// Name tokens that mark an admin or operator UI. Matched as whole tokens (split on
/// anything not a letter or digit), so `vaultwarden` is not `vault` and `consoles` is not
/// `console`.
pub const ADMIN_UI_TOKENS: &[&str] = &[
    "admin",
    "adminer",
    "alertmanager",
    "argocd",
    "console",
    "dashboard",
    "grafana",
    "headlamp",
    "jenkins",
    "kibana",
    "longhorn",
    "netdata",
    "openbao",
    "pgadmin",
    "phpmyadmin",
    "portainer",
    "prometheus",
    "proxmox",
    "pve",
    "rancher",
    "traefik",
    "vault",
    "woodpecker",
];

fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_ascii_lowercase())
}

fn has_admin_token(s: &str) -> bool {
    tokens(s).any(|t| ADMIN_UI_TOKENS.contains(&t.as_str()))
}

/// Does this ingress look like an admin UI? Looks at the object/service name, the first
/// DNS label of the host (the rest is the zone) and the first segment of each path.
pub fn looks_like_admin_ui<'a>(name: &str, host: &str, paths: impl IntoIterator<Item = &'a str>) -> bool {
    let first_label = host.split('.').next().unwrap_or("");
    has_admin_token(name)
        || has_admin_token(first_label)
        || paths.into_iter().any(|p| {
            let first_segment = p.trim_start_matches('/').split('/').next().unwrap_or("");
            has_admin_token(first_segment)
        })
}

/// Is this Traefik middleware reference (`<ns>-<name>@kubernetescrd`, or a bare name) one
/// that authenticates the caller before the app sees the request?
pub fn is_auth_middleware(reference: &str) -> bool {
    let name = reference.split('@').next().unwrap_or("").to_ascii_lowercase();
    [
        "forward-auth",
        "forwardauth",
        "authentik",
        "oauth2-proxy",
        "basic-auth",
        "basicauth",
    ]
    .iter()
    .any(|m| name.contains(m))
}

/// Splits a Traefik `router.middlewares` annotation value into references.
pub fn middleware_refs(annotation_value: &str) -> impl Iterator<Item = &str> {
    annotation_value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The Traefik annotation that lists an Ingress's middlewares.
pub const TRAEFIK_MIDDLEWARES_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.middlewares";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_tokens_are_whole_tokens() {
        assert!(looks_like_admin_ui("grafana", "x.example.org", []));
        assert!(looks_like_admin_ui("app", "pgadmin.example.org", []));
        assert!(looks_like_admin_ui("app", "app.example.org", ["/admin/login"]));
        assert!(looks_like_admin_ui("kubernetes-dashboard", "k.example.org", []));
        assert!(!looks_like_admin_ui("vaultwarden", "vaultwarden.example.org", ["/"]));
        assert!(!looks_like_admin_ui("blog", "blog.admin.example.org", ["/posts"]));
        assert!(!looks_like_admin_ui(
            "immich",
            "photos.example.org",
            ["/api/administer"]
        ));
    }

    #[test]
    fn auth_middlewares() {
        assert!(is_auth_middleware("traefik-authentik-forward-auth@kubernetescrd"));
        assert!(is_auth_middleware("traefik-forward-auth-public@kubernetescrd"));
        assert!(!is_auth_middleware("traefik-rate-limit@kubernetescrd"));
        assert!(!is_auth_middleware("traefik-ai-bot-block@kubernetescrd"));
        let v = "traefik-retry@kubernetescrd, traefik-authentik-forward-auth@kubernetescrd,,";
        assert_eq!(middleware_refs(v).count(), 2);
        assert_eq!(
            exemption_key(INGRESS_AUTH_POSTURE),
            "exempt.policy.homelab.dev/ingress-auth-posture"
        );
    }
}
