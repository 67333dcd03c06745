//! Spec → Kubernetes objects and DNS record intents, the way the `ingress_factory`
//! module renders them.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::spec::{
    Auth, DEFAULT_ALLOWED_GROUPS, DEFAULT_HOMEPAGE_GROUP, DEFAULT_SABLIER_URL, DnsType, IngressSpec, SABLIER_THEMES,
    SablierStrategy, SpecError, is_go_duration, valid_ipv4, valid_ipv6,
};
use crate::names::{is_dns_label, is_dns_subdomain};
use crate::posture;

/// Traefik middleware references of the shared chain (CRDs in the `traefik` namespace).
pub mod mw {
    pub const REAL_IP: &str = "traefik-real-ip@kubernetescrd";
    pub const RETRY: &str = "traefik-retry@kubernetescrd";
    pub const ERROR_PAGES: &str = "traefik-error-pages@kubernetescrd";
    pub const RATE_LIMIT: &str = "traefik-rate-limit@kubernetescrd";
    pub const CSP_HEADERS: &str = "traefik-csp-headers@kubernetescrd";
    pub const AI_BOT_BLOCK: &str = "traefik-ai-bot-block@kubernetescrd";
    pub const ANTI_AI_HEADERS: &str = "traefik-anti-ai-headers@kubernetescrd";
    pub const FORWARD_AUTH: &str = "traefik-authentik-forward-auth@kubernetescrd";
    pub const FORWARD_AUTH_PUBLIC: &str = "traefik-authentik-forward-auth-public@kubernetescrd";
    pub const LOCAL_ONLY: &str = "traefik-local-only@kubernetescrd";
}

/// The Traefik entrypoint every ingress is bound to.
pub const ENTRYPOINT: &str = "websecure";
/// The Traefik entrypoints annotation.
pub const ENTRYPOINTS_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.entrypoints";
/// The ingress class the module sets.
pub const INGRESS_CLASS: &str = "traefik";
/// `pathType` of each path: the Terraform kubernetes provider's default for
/// `kubernetes_ingress_v1` paths, which the module leaves unset.
pub const PATH_TYPE: &str = "ImplementationSpecific";
/// User agents Sablier answers with an immediate 200 (monitors never wake a workload).
pub const SABLIER_IGNORED_USER_AGENTS: [&str; 3] = ["(?i)uptime-?kuma", "(?i)blackbox", "Go-http-client"];

/// One DNS record the module would create (Cloudflare), as an intent: this tool does
/// not talk to DNS providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    /// `A`, `AAAA` or `CNAME`.
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// Name inside the zone (`@` for the apex).
    pub name: String,
    /// The full host name.
    pub fqdn: String,
    pub content: String,
    pub proxied: bool,
    /// 1 = automatic (Cloudflare).
    pub ttl: u32,
    pub zone_id: String,
}

/// The render result.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Kubernetes objects in apply order: ExternalName Service, Middlewares, Ingress.
    pub objects: Vec<Value>,
    pub dns_records: Vec<DnsRecord>,
    /// The router middleware chain (also in the Ingress annotation).
    pub middlewares: Vec<String>,
}

impl Rendered {
    /// `{"objects": [...], "dns_records": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "objects": self.objects,
            "dns_records": self.dns_records,
        })
    }

    /// The Ingress object (always present).
    pub fn ingress(&self) -> &Value {
        self.objects
            .iter()
            .find(|o| o["kind"] == "Ingress")
            .expect("render always emits an Ingress")
    }
}

/// The effective values of a validated spec.
#[derive(Debug)]
struct Effective<'a> {
    host: String,
    root_domain: &'a str,
    annotation_domain: &'a str,
    backend: &'a str,
    external_monitor: bool,
}

/// Is anti-AI blocking on? Explicit value, else on when nothing from Authentik fronts
/// the app (`app`/`none`).
pub fn effective_anti_ai(spec: &IngressSpec) -> bool {
    spec.anti_ai_scraping.unwrap_or(spec.auth.is_ungated())
}

/// Is the external monitor on? Explicit value, else on for public DNS records.
pub fn effective_external_monitor(spec: &IngressSpec) -> bool {
    spec.external_monitor.unwrap_or(spec.dns_type.is_public())
}

/// The auth middleware for the mode (`None` for `app`/`none`).
pub fn auth_middleware(auth: Auth) -> Option<&'static str> {
    match auth {
        Auth::Required => Some(mw::FORWARD_AUTH),
        Auth::Public => Some(mw::FORWARD_AUTH_PUBLIC),
        Auth::App | Auth::None => None,
    }
}

/// The backend Service: `service_name`, else `name`.
pub fn backend_service(spec: &IngressSpec) -> &str {
    spec.service_name.as_deref().unwrap_or(&spec.name)
}

/// The router middleware chain in the module's order, de-duplicated (first occurrence
/// kept), `extra_middlewares` last:
/// real-ip (backend `anubis-*`), retry, error-pages, rate-limit (unless skipped),
/// csp-headers (unless a custom CSP), ai-bot-block + anti-ai-headers (anti-AI), the auth
/// middleware, local-only, sablier, custom CSP, buffering, extra middlewares.
pub fn middleware_chain(spec: &IngressSpec) -> Vec<String> {
    let ns = &spec.namespace;
    let name = &spec.name;
    let anti_ai = effective_anti_ai(spec);
    let mut chain: Vec<String> = Vec::with_capacity(12 + spec.extra_middlewares.len());
    let mut push = |m: String| {
        if !chain.contains(&m) {
            chain.push(m);
        }
    };
    // Anubis binds its cookie to X-Real-Ip: the shared real-ip middleware must stamp an
    // address the client cannot choose before anything else sees the request.
    if backend_service(spec).starts_with("anubis-") {
        push(mw::REAL_IP.into());
    }
    push(mw::RETRY.into());
    push(mw::ERROR_PAGES.into());
    if !spec.skip_default_rate_limit {
        push(mw::RATE_LIMIT.into());
    }
    if spec.custom_content_security_policy.is_none() {
        push(mw::CSP_HEADERS.into());
    }
    if anti_ai {
        push(mw::AI_BOT_BLOCK.into());
        push(mw::ANTI_AI_HEADERS.into());
    }
    if let Some(a) = auth_middleware(spec.auth) {
        push(a.into());
    }
    if spec.allow_local_access_only {
        push(mw::LOCAL_ONLY.into());
    }
    // After every gate, so only admitted requests can wake a parked workload.
    if spec.sablier.is_some() {
        push(format!("{ns}-sablier-{name}@kubernetescrd"));
    }
    if spec.custom_content_security_policy.is_some() {
        push(format!("{ns}-custom-csp-{name}@kubernetescrd"));
    }
    if spec.max_body_size.is_some() {
        push(format!("{ns}-buffering-{name}@kubernetescrd"));
    }
    for m in &spec.extra_middlewares {
        push(m.clone());
    }
    chain
}

/// Validates the spec (after installation defaults were applied) and renders it.
pub fn render(spec: &IngressSpec) -> Result<Rendered, SpecError> {
    let eff = validate(spec)?;
    let middlewares = middleware_chain(spec);
    let mut objects = Vec::with_capacity(5);

    if let Some(ext) = &spec.external_name {
        objects.push(external_name_service(spec, ext));
    }
    if let Some(csp) = &spec.custom_content_security_policy {
        objects.push(middleware(
            spec,
            "custom-csp",
            obj([("headers", obj([("contentSecurityPolicy", s(csp))]))]),
        ));
    }
    if let Some(bytes) = spec.max_body_size {
        objects.push(middleware(
            spec,
            "buffering",
            obj([("buffering", obj([("maxRequestBodyBytes", Value::from(bytes))]))]),
        ));
    }
    if let Some(sb) = &spec.sablier {
        objects.push(sablier_middleware(spec, sb));
    }
    objects.push(ingress(spec, &eff, &middlewares));

    let dns_records = dns_records(spec, &eff)?;
    Ok(Rendered {
        objects,
        dns_records,
        middlewares,
    })
}

/// A JSON object from `(key, value)` pairs, values moved in (no re-serialisation).
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// The Ingress annotations in the module's merge order (a later map wins a key):
/// router middlewares + entrypoint, homepage tiles, `extra_annotations`, dns-type,
/// external monitor; then ours: allowed groups and the auth-posture exemption.
fn annotations(spec: &IngressSpec, eff: &Effective<'_>, chain: &[String]) -> Map<String, Value> {
    let d = eff.annotation_domain;
    let mut a = Map::new();
    let mut put = |k: String, v: String| {
        a.insert(k, Value::String(v));
    };
    put(posture::TRAEFIK_MIDDLEWARES_ANNOTATION.to_owned(), chain.join(","));
    put(ENTRYPOINTS_ANNOTATION.to_owned(), ENTRYPOINT.to_owned());
    if spec.homepage_enabled {
        let group = spec.homepage_group.as_deref().unwrap_or(DEFAULT_HOMEPAGE_GROUP);
        put("gethomepage.dev/enabled".into(), "true".into());
        put("gethomepage.dev/name".into(), spec.name.replace(['-', '_'], " "));
        put("gethomepage.dev/group".into(), group.to_owned());
        put("gethomepage.dev/href".into(), format!("https://{}", eff.host));
        put(
            "gethomepage.dev/icon".into(),
            format!("{}.png", spec.name.replace('-', "")),
        );
    }
    // The module merges `extra_annotations` here: after the base map and the homepage
    // tiles, before dns-type and the external-monitor annotations (which therefore win).
    for (k, v) in &spec.extra_annotations {
        put(k.clone(), v.clone());
    }
    if spec.dns_type != DnsType::None {
        put(format!("cloudflare.{d}/dns-type"), spec.dns_type.as_str().to_owned());
    }
    if eff.external_monitor {
        put(format!("uptime.{d}/external-monitor"), "true".into());
        if let Some(n) = &spec.external_monitor_name {
            put(format!("uptime.{d}/external-monitor-name"), n.clone());
        }
    } else if spec.external_monitor == Some(false) {
        put(format!("uptime.{d}/external-monitor"), "false".into());
    }
    if spec.auth == Auth::Required {
        let groups = match &spec.allowed_groups {
            Some(g) => g.join(","),
            None => DEFAULT_ALLOWED_GROUPS.join(","),
        };
        put(format!("authentik.{d}/allowed-groups"), groups);
    }
    if spec.auth.admits_strangers()
        && let Some(gate) = spec.auth_gate.as_deref().map(str::trim).filter(|g| !g.is_empty())
    {
        put(posture::exemption_key(posture::INGRESS_AUTH_POSTURE), gate.to_owned());
    }
    a
}

/// The groups rendered for `auth: required`.
pub fn allowed_groups(spec: &IngressSpec) -> Vec<String> {
    match &spec.allowed_groups {
        Some(g) => g.clone(),
        None => DEFAULT_ALLOWED_GROUPS.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn ingress(spec: &IngressSpec, eff: &Effective<'_>, chain: &[String]) -> Value {
    let paths: Vec<Value> = spec
        .ingress_path
        .iter()
        .map(|p| {
            obj([
                ("path", s(p)),
                ("pathType", s(PATH_TYPE)),
                (
                    "backend",
                    obj([(
                        "service",
                        obj([
                            ("name", s(eff.backend)),
                            ("port", obj([("number", Value::from(spec.port))])),
                        ]),
                    )]),
                ),
            ])
        })
        .collect();
    obj([
        ("apiVersion", s("networking.k8s.io/v1")),
        ("kind", s("Ingress")),
        (
            "metadata",
            obj([
                ("name", s(&spec.name)),
                ("namespace", s(&spec.namespace)),
                ("annotations", Value::Object(annotations(spec, eff, chain))),
            ]),
        ),
        (
            "spec",
            obj([
                ("ingressClassName", s(INGRESS_CLASS)),
                (
                    "tls",
                    Value::Array(vec![obj([
                        ("hosts", Value::Array(vec![s(&eff.host)])),
                        ("secretName", s(&spec.tls_secret_name)),
                    ])]),
                ),
                (
                    "rules",
                    Value::Array(vec![obj([
                        ("host", s(&eff.host)),
                        ("http", obj([("paths", Value::Array(paths))])),
                    ])]),
                ),
            ]),
        ),
    ])
}

/// The module's ExternalName Service, named `name`, labelled `app: name`, with one TCP
/// port `<name>-web`. Deviation: the module writes `external_name = var.name` (a bug:
/// the Service would resolve its own name); we write the spec's `external_name`.
fn external_name_service(spec: &IngressSpec, external: &str) -> Value {
    obj([
        ("apiVersion", s("v1")),
        ("kind", s("Service")),
        (
            "metadata",
            obj([
                ("name", s(&spec.name)),
                ("namespace", s(&spec.namespace)),
                ("labels", obj([("app", s(&spec.name))])),
            ]),
        ),
        (
            "spec",
            obj([
                ("type", s("ExternalName")),
                ("externalName", s(external)),
                (
                    "ports",
                    Value::Array(vec![obj([
                        ("name", Value::String(format!("{}-web", spec.name))),
                        ("port", Value::from(spec.port)),
                        ("protocol", s("TCP")),
                        ("targetPort", Value::from(spec.port)),
                    ])]),
                ),
            ]),
        ),
    ])
}

fn middleware(spec: &IngressSpec, prefix: &str, body: Value) -> Value {
    obj([
        ("apiVersion", s("traefik.io/v1alpha1")),
        ("kind", s("Middleware")),
        (
            "metadata",
            obj([
                ("name", Value::String(format!("{prefix}-{}", spec.name))),
                ("namespace", s(&spec.namespace)),
            ]),
        ),
        ("spec", body),
    ])
}

fn sablier_middleware(spec: &IngressSpec, sb: &super::spec::Sablier) -> Value {
    let strategy = match sb.strategy {
        SablierStrategy::Blocking => ("blocking", obj([("timeout", s(&sb.blocking_timeout))])),
        SablierStrategy::Dynamic => (
            "dynamic",
            obj([
                ("displayName", s(sb.display_name.as_deref().unwrap_or(&spec.name))),
                ("showDetails", Value::Bool(true)),
                ("theme", s(&sb.theme)),
                ("refreshFrequency", s(&sb.refresh_frequency)),
            ]),
        ),
    };
    let plugin = obj([
        ("sablierUrl", s(sb.url.as_deref().unwrap_or(DEFAULT_SABLIER_URL))),
        ("group", s(sb.group.as_deref().unwrap_or(&spec.name))),
        ("sessionDuration", s(&sb.session_duration)),
        ("failOpen", Value::Bool(true)),
        (
            "ignoreUserAgent",
            Value::Array(SABLIER_IGNORED_USER_AGENTS.iter().map(|u| s(u)).collect()),
        ),
        strategy,
    ]);
    middleware(spec, "sablier", obj([("plugin", obj([("sablier", plugin)]))]))
}

/// The records the module's `cloudflare_record` resources would create.
fn dns_records(spec: &IngressSpec, eff: &Effective<'_>) -> Result<Vec<DnsRecord>, SpecError> {
    if spec.dns_type == DnsType::None {
        return Ok(Vec::new());
    }
    let name = if eff.host == eff.root_domain {
        "@".to_owned()
    } else {
        match eff.host.strip_suffix(eff.root_domain).and_then(|h| h.strip_suffix('.')) {
            Some(label) => label.to_owned(),
            None => {
                return Err(SpecError::new(
                    "dns_type",
                    format!(
                        "host {} is outside root_domain {}: DNS records are made in that zone only (use dns_type: none)",
                        eff.host, eff.root_domain
                    ),
                ));
            }
        }
    };
    // Proxied names ride the zone-wide wildcard CNAME; a wildcard never matches the
    // apex, so only the apex gets its own record.
    if spec.dns_type == DnsType::Proxied && name != "@" {
        return Ok(Vec::new());
    }
    let zone = need(&spec.cloudflare_zone_id, "cloudflare_zone_id", spec.dns_type)?;
    let record = |record_type, content: String, proxied| DnsRecord {
        record_type,
        name: name.clone(),
        fqdn: eff.host.clone(),
        content,
        proxied,
        ttl: 1,
        zone_id: zone.to_owned(),
    };
    Ok(match spec.dns_type {
        DnsType::Proxied => {
            let tunnel = need(&spec.cloudflare_tunnel_id, "cloudflare_tunnel_id", spec.dns_type)?;
            vec![record("CNAME", format!("{tunnel}.cfargotunnel.com"), true)]
        }
        DnsType::NonProxied => {
            let v4 = need(&spec.public_ip, "public_ip", spec.dns_type)?;
            let mut out = vec![record("A", v4.to_owned(), false)];
            if let Some(v6) = &spec.public_ipv6 {
                out.push(record("AAAA", v6.clone(), false));
            }
            out
        }
        DnsType::Internal => {
            let ip = need(&spec.internal_lb_ip, "internal_lb_ip", spec.dns_type)?;
            vec![record("A", ip.to_owned(), false)]
        }
        DnsType::None => Vec::new(),
    })
}

fn need<'a>(v: &'a Option<String>, field: &str, dns: DnsType) -> Result<&'a str, SpecError> {
    v.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        SpecError::new(
            field,
            format!(
                "is required for dns_type {}: set it in the spec or in [ingress] of the config file",
                dns.as_str()
            ),
        )
    })
}

fn check(ok: bool, field: &str, msg: impl FnOnce() -> String) -> Result<(), SpecError> {
    if ok { Ok(()) } else { Err(SpecError::new(field, msg())) }
}

fn non_blank(v: &Option<String>, field: &str) -> Result<(), SpecError> {
    check(v.as_ref().is_none_or(|s| !s.trim().is_empty()), field, || {
        "must not be empty (omit it or use null for the default)".into()
    })
}

fn validate(spec: &IngressSpec) -> Result<Effective<'_>, SpecError> {
    let label_msg = |v: &str| {
        format!("{v:?} is not a DNS label (lowercase letters, digits and '-', at most 63, no leading or trailing '-')")
    };
    let name_msg = |v: &str| format!("{v:?} is not a DNS name (dot-separated lowercase labels)");
    check(is_dns_label(&spec.name), "name", || label_msg(&spec.name))?;
    check(is_dns_label(&spec.namespace), "namespace", || {
        label_msg(&spec.namespace)
    })?;
    check(is_dns_subdomain(&spec.tls_secret_name), "tls_secret_name", || {
        name_msg(&spec.tls_secret_name)
    })?;
    if let Some(h) = &spec.host {
        check(is_dns_subdomain(h), "host", || name_msg(h))?;
    }
    if let Some(h) = &spec.full_host {
        check(is_dns_subdomain(h), "full_host", || name_msg(h))?;
    }
    let root_domain = spec.root_domain.as_deref().ok_or_else(|| {
        SpecError::new(
            "root_domain",
            "is required: set it in the spec or root_domain in [ingress] of the config file",
        )
    })?;
    check(is_dns_subdomain(root_domain), "root_domain", || name_msg(root_domain))?;
    let annotation_domain = spec.annotation_domain.as_deref().unwrap_or(root_domain);
    check(is_dns_subdomain(annotation_domain), "annotation_domain", || {
        name_msg(annotation_domain)
    })?;
    if let Some(s) = &spec.service_name {
        check(is_dns_label(s), "service_name", || label_msg(s))?;
    }
    if let Some(e) = &spec.external_name {
        check(is_dns_subdomain(e), "external_name", || name_msg(e))?;
    }
    check(!spec.ingress_path.is_empty(), "ingress_path", || {
        "must list at least one path".into()
    })?;
    for (i, p) in spec.ingress_path.iter().enumerate() {
        check(
            p.starts_with('/') && !p.chars().any(char::is_whitespace),
            &format!("ingress_path[{i}]"),
            || format!("{p:?} must start with '/' and contain no spaces"),
        )?;
        check(
            !spec.ingress_path[..i].contains(p),
            &format!("ingress_path[{i}]"),
            || format!("{p:?} is listed twice"),
        )?;
    }
    for (i, m) in spec.extra_middlewares.iter().enumerate() {
        check(
            !m.is_empty() && !m.contains(',') && !m.chars().any(char::is_whitespace),
            &format!("extra_middlewares[{i}]"),
            || format!("{m:?} must be one middleware reference like traefik-x@kubernetescrd (no commas or spaces)"),
        )?;
    }
    for k in spec.extra_annotations.keys() {
        let field = format!("extra_annotations.{k}");
        check(!k.trim().is_empty(), &field, || {
            "annotation keys must not be empty".into()
        })?;
        check(k != posture::TRAEFIK_MIDDLEWARES_ANNOTATION, &field, || {
            "the middleware chain is the factory's (fail-closed order): use extra_middlewares".into()
        })?;
        check(!k.starts_with(posture::EXEMPT_PREFIX), &field, || {
            "policy exemptions are not set by hand: say what gates the app in auth_gate".into()
        })?;
    }
    non_blank(&spec.custom_content_security_policy, "custom_content_security_policy")?;
    non_blank(&spec.external_monitor_name, "external_monitor_name")?;
    non_blank(&spec.homepage_group, "homepage_group")?;
    if spec.auth == Auth::Required
        && let Some(groups) = &spec.allowed_groups
    {
        check(!groups.is_empty(), "allowed_groups", || {
            "must name at least one group (omit it for the default)".into()
        })?;
        for (i, g) in groups.iter().enumerate() {
            check(
                !g.trim().is_empty() && !g.contains(','),
                &format!("allowed_groups[{i}]"),
                || format!("{g:?} must be a non-empty group name without commas"),
            )?;
        }
    }
    if let Some(s) = &spec.sablier {
        if let Some(g) = &s.group {
            check(!g.trim().is_empty(), "sablier.group", || "must not be empty".into())?;
        }
        for (field, v) in [
            ("sablier.session_duration", &s.session_duration),
            ("sablier.refresh_frequency", &s.refresh_frequency),
            ("sablier.blocking_timeout", &s.blocking_timeout),
        ] {
            check(is_go_duration(v), field, || {
                format!("{v:?} is not a duration (e.g. 300ms, 5s, 5m, 3h, 1h30m)")
            })?;
        }
        check(SABLIER_THEMES.contains(&s.theme.as_str()), "sablier.theme", || {
            format!("unknown value {:?} (allowed: {})", s.theme, SABLIER_THEMES.join(", "))
        })?;
    }
    for (field, v, ok) in [
        ("public_ip", &spec.public_ip, valid_ipv4 as fn(&str) -> bool),
        ("public_ipv6", &spec.public_ipv6, valid_ipv6),
        ("internal_lb_ip", &spec.internal_lb_ip, valid_ipv4),
    ] {
        if let Some(ip) = v {
            check(ok(ip), field, || format!("{ip:?} is not a valid address"))?;
        }
    }

    let host = match &spec.full_host {
        Some(h) => h.clone(),
        None => format!("{}.{root_domain}", spec.host.as_deref().unwrap_or(&spec.name)),
    };
    let backend = backend_service(spec);

    // The auth-posture contract: never render an admin UI without forward auth unless
    // the spec says what gates it.
    if spec.auth.admits_strangers() && spec.auth_gate.as_deref().is_none_or(|g| g.trim().is_empty()) {
        let paths = || spec.ingress_path.iter().map(String::as_str);
        if posture::looks_like_admin_ui(&spec.name, &host, paths())
            || posture::looks_like_admin_ui(backend, "", paths())
        {
            return Err(SpecError::new(
                "auth_gate",
                format!(
                    "{} looks like an admin UI and auth is {:?}: set auth_gate to what gates it (e.g. \"the app's own login\"), or use auth: required",
                    spec.name,
                    spec.auth.as_str()
                ),
            ));
        }
    }

    Ok(Effective {
        host,
        root_domain,
        annotation_domain,
        backend,
        external_monitor: effective_external_monitor(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> IngressSpec {
        let mut s = IngressSpec::new("blog", "web", "tls-example-org");
        s.root_domain = Some("example.org".into());
        s
    }

    #[test]
    fn auth_middlewares_are_recognised_by_the_posture_contract() {
        for auth in Auth::ALL {
            // Exactly the modes that admit strangers lack an authenticating middleware.
            let authenticates = auth_middleware(auth).is_some_and(posture::is_auth_middleware);
            assert_eq!(authenticates, !auth.admits_strangers(), "{auth:?}");
        }
        assert!(posture::is_auth_middleware(mw::FORWARD_AUTH));
        assert!(!posture::is_auth_middleware(mw::FORWARD_AUTH_PUBLIC));
        for other in [
            mw::REAL_IP,
            mw::RETRY,
            mw::ERROR_PAGES,
            mw::RATE_LIMIT,
            mw::CSP_HEADERS,
            mw::AI_BOT_BLOCK,
            mw::ANTI_AI_HEADERS,
            mw::LOCAL_ONLY,
        ] {
            assert!(!posture::is_auth_middleware(other), "{other}");
        }
    }

    #[test]
    fn default_chain_is_fail_closed() {
        let chain = middleware_chain(&base());
        assert_eq!(
            chain,
            [
                mw::RETRY,
                mw::ERROR_PAGES,
                mw::RATE_LIMIT,
                mw::CSP_HEADERS,
                mw::FORWARD_AUTH
            ]
        );
    }

    #[test]
    fn admin_ui_without_auth_needs_a_gate() {
        let mut s = base();
        s.name = "grafana".into();
        s.auth = Auth::App;
        let e = render(&s).unwrap_err();
        assert_eq!(e.field, "auth_gate");
        s.auth_gate = Some("Grafana's own OIDC login".into());
        let r = render(&s).unwrap();
        let key = posture::exemption_key(posture::INGRESS_AUTH_POSTURE);
        assert_eq!(r.ingress()["metadata"]["annotations"][&key], "Grafana's own OIDC login");
    }
}
