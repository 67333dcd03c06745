//! The ingress spec: the `ingress_factory` module's variables, typed, with the module's
//! defaults, read from YAML or JSON.
//!
//! Reading is field by field so that every error names its field and, for enums, the
//! allowed values, on one line: `auth: unknown value "sso" (allowed: required, app,
//! public, none)`. Unknown fields are refused (`deny_unknown_fields` semantics).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};
use thiserror::Error;

/// An invalid spec: the field it is about (empty for the document as a whole) and what
/// is wrong. Displays as one line `field: message`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Who gates the app (the module's `auth`). Default [`Auth::Required`]: fail-closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Authentik forward-auth gates every request (`traefik-authentik-forward-auth`).
    #[default]
    Required,
    /// The backend has its own user authentication; no Authentik middleware.
    App,
    /// Authentik anonymous binding (`traefik-authentik-forward-auth-public`): an audit
    /// trail, not a gate.
    Public,
    /// Intentionally public / unauthenticated by design; no Authentik middleware.
    None,
}

impl Auth {
    pub const ALL: [Auth; 4] = [Auth::Required, Auth::App, Auth::Public, Auth::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Required => "required",
            Auth::App => "app",
            Auth::Public => "public",
            Auth::None => "none",
        }
    }

    /// `app` and `none`: no Authentik middleware in front of the app.
    pub fn is_ungated(self) -> bool {
        matches!(self, Auth::App | Auth::None)
    }

    /// `app`, `none` and `public`: a stranger reaches the app (`public` runs Authentik's
    /// guest flow, which admits anyone). An admin UI in one of these modes needs `auth_gate`.
    pub fn admits_strangers(self) -> bool {
        matches!(self, Auth::App | Auth::None | Auth::Public)
    }
}

/// Which DNS records the module creates (the module's `dns_type`). Default `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DnsType {
    /// Served through the Cloudflare tunnel; rides the zone's wildcard CNAME, so only the
    /// zone apex gets its own record.
    Proxied,
    /// A (+ AAAA) to the public IP.
    NonProxied,
    /// A to the internal Traefik LB IP (resolvable anywhere, routable only inside).
    Internal,
    #[default]
    None,
}

impl DnsType {
    pub const ALL: [DnsType; 4] = [DnsType::Proxied, DnsType::NonProxied, DnsType::Internal, DnsType::None];

    pub fn as_str(self) -> &'static str {
        match self {
            DnsType::Proxied => "proxied",
            DnsType::NonProxied => "non-proxied",
            DnsType::Internal => "internal",
            DnsType::None => "none",
        }
    }

    /// Proxied and non-proxied records are reachable from outside: the external monitor
    /// follows them by default.
    pub fn is_public(self) -> bool {
        matches!(self, DnsType::Proxied | DnsType::NonProxied)
    }
}

/// Sablier wake strategy. Default `dynamic` (a loading page that polls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SablierStrategy {
    #[default]
    Dynamic,
    /// Hold the request until the workload is ready (API paths).
    Blocking,
}

impl SablierStrategy {
    pub const ALL: [SablierStrategy; 2] = [SablierStrategy::Dynamic, SablierStrategy::Blocking];

    pub fn as_str(self) -> &'static str {
        match self {
            SablierStrategy::Dynamic => "dynamic",
            SablierStrategy::Blocking => "blocking",
        }
    }
}

/// Sablier's embedded loading-page themes.
pub const SABLIER_THEMES: [&str; 4] = ["ghost", "hacker-terminal", "matrix", "shuffle"];

/// The in-cluster Sablier API the plugin calls (the module's value; cluster-internal,
/// not personal). Override per spec with `sablier.url`.
pub const DEFAULT_SABLIER_URL: &str = "http://sablier.sablier.svc.cluster.local:10000";

/// The module's default `allowed_groups` (used when neither the spec nor the config
/// names groups).
pub const DEFAULT_ALLOWED_GROUPS: [&str; 1] = ["Home Server Admins"];

/// Scale-to-zero enrolment (the module's `sablier` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sablier {
    /// Sablier group; default: the ingress `name`.
    pub group: Option<String>,
    /// Idle window before the group parks (Go duration). Default `3h`.
    pub session_duration: String,
    pub strategy: SablierStrategy,
    /// Loading-page title; default: the ingress `name`.
    pub display_name: Option<String>,
    /// One of [`SABLIER_THEMES`]. Default `ghost`.
    pub theme: String,
    /// Loading-page poll cadence (Go duration). Default `5s`.
    pub refresh_frequency: String,
    /// How long a held request waits with `strategy: blocking` (Go duration). Default `5m`.
    pub blocking_timeout: String,
    /// Sablier API URL (beyond the module, which compiles it in). Default
    /// [`DEFAULT_SABLIER_URL`].
    pub url: Option<String>,
}

impl Default for Sablier {
    fn default() -> Self {
        Self {
            group: None,
            session_duration: "3h".into(),
            strategy: SablierStrategy::Dynamic,
            display_name: None,
            theme: "ghost".into(),
            refresh_frequency: "5s".into(),
            blocking_timeout: "5m".into(),
            url: None,
        }
    }
}

/// The `ingress_factory` module's variables. Field names are the module's.
///
/// Installation-specific values (`root_domain`, `annotation_domain`, Cloudflare zone and
/// tunnel ids, IPs, default groups) are `Option`s here and come from the spec or from
/// [`IngressDefaults`] (the CLI's config file); nothing personal is compiled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressSpec {
    /// Object name; also the default host label and backend service.
    pub name: String,
    pub namespace: String,
    /// Host label under `root_domain` (default: `name`).
    pub host: Option<String>,
    /// Full host name, overriding `host` + `root_domain`.
    pub full_host: Option<String>,
    pub root_domain: Option<String>,
    /// Domain of our annotation keys (`uptime.<d>/…`, `cloudflare.<d>/…`,
    /// `authentik.<d>/…`). Default: `root_domain`.
    pub annotation_domain: Option<String>,
    /// Backend Service (default: `name`).
    pub service_name: Option<String>,
    /// When set, an `ExternalName` Service named `name` pointing at this host is rendered.
    pub external_name: Option<String>,
    /// Backend port. Default 80.
    pub port: u16,
    pub tls_secret_name: String,
    pub auth: Auth,
    /// Beyond the module: what gates an `app`/`none` ingress (the call-site comment as
    /// data). Required for an admin-looking UI without forward auth; rendered as the
    /// policy engine's exemption annotation.
    pub auth_gate: Option<String>,
    /// Paths, one backend entry each. Default `["/"]`.
    pub ingress_path: Vec<String>,
    /// `max_body_size` in bytes (`5g`, `50m`, `1024k`, or a bare number of bytes).
    pub max_body_size: Option<u64>,
    pub extra_annotations: BTreeMap<String, String>,
    pub extra_middlewares: Vec<String>,
    pub allow_local_access_only: bool,
    pub custom_content_security_policy: Option<String>,
    pub skip_default_rate_limit: bool,
    /// `None` = on when `auth` is `app`/`none`.
    pub anti_ai_scraping: Option<bool>,
    /// `None` = the config's default groups, else [`DEFAULT_ALLOWED_GROUPS`]. Only
    /// rendered with `auth: required`.
    pub allowed_groups: Option<Vec<String>>,
    pub dns_type: DnsType,
    /// `None` = on for `proxied`/`non-proxied`; an explicit `false` is rendered as the
    /// opt-out annotation.
    pub external_monitor: Option<bool>,
    pub external_monitor_name: Option<String>,
    /// Default true.
    pub homepage_enabled: bool,
    /// Default: by namespace from the installation's table
    /// ([`IngressDefaults::homepage_groups`], applied by [`IngressSpec::with_defaults`]),
    /// else [`DEFAULT_HOMEPAGE_GROUP`].
    pub homepage_group: Option<String>,
    pub sablier: Option<Sablier>,
    pub cloudflare_zone_id: Option<String>,
    pub cloudflare_tunnel_id: Option<String>,
    pub public_ip: Option<String>,
    pub public_ipv6: Option<String>,
    pub internal_lb_ip: Option<String>,
}

impl IngressSpec {
    /// A spec with the module's defaults for everything but the three required values.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>, tls_secret_name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            host: None,
            full_host: None,
            root_domain: None,
            annotation_domain: None,
            service_name: None,
            external_name: None,
            port: 80,
            tls_secret_name: tls_secret_name.into(),
            auth: Auth::Required,
            auth_gate: None,
            ingress_path: vec!["/".into()],
            max_body_size: None,
            extra_annotations: BTreeMap::new(),
            extra_middlewares: Vec::new(),
            allow_local_access_only: false,
            custom_content_security_policy: None,
            skip_default_rate_limit: false,
            anti_ai_scraping: None,
            allowed_groups: None,
            dns_type: DnsType::None,
            external_monitor: None,
            external_monitor_name: None,
            homepage_enabled: true,
            homepage_group: None,
            sablier: None,
            cloudflare_zone_id: None,
            cloudflare_tunnel_id: None,
            public_ip: None,
            public_ipv6: None,
            internal_lb_ip: None,
        }
    }

    /// Reads a spec from YAML or JSON text (JSON when it starts with `{`).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        let value: Value = if trimmed.starts_with('{') {
            serde_json::from_str(trimmed)
                .map_err(|e| SpecError::new("", format!("invalid JSON (line {}): {}", e.line(), strip_pos(&e))))?
        } else {
            serde_saphyr::from_str(text)
                .map_err(|e| SpecError::new("", format!("invalid YAML: {}", first_line(&e.to_string()))))?
        };
        Self::from_value(&value)
    }

    /// Reads a spec from a parsed document.
    pub fn from_value(value: &Value) -> Result<Self, SpecError> {
        let Some(map) = value.as_object() else {
            return Err(SpecError::new(
                "",
                "an ingress spec must be a mapping of the module's variables",
            ));
        };
        let name = req_string(map, "name")?;
        let namespace = req_string(map, "namespace")?;
        let tls = req_string(map, "tls_secret_name")?;
        let mut s = IngressSpec::new(name, namespace, tls);
        for (key, v) in map {
            let k = key.as_str();
            match k {
                "name" | "namespace" | "tls_secret_name" => {}
                "host" => s.host = opt_string(k, v)?,
                "full_host" => s.full_host = opt_string(k, v)?,
                "root_domain" => s.root_domain = opt_string(k, v)?,
                "annotation_domain" => s.annotation_domain = opt_string(k, v)?,
                "service_name" => s.service_name = opt_string(k, v)?,
                "external_name" => s.external_name = opt_string(k, v)?,
                "port" => {
                    if !v.is_null() {
                        s.port = port(v)?
                    }
                }
                "auth" => {
                    if !v.is_null() {
                        s.auth = enum_value(k, v, &Auth::ALL, |a| a.as_str())?
                    }
                }
                "auth_gate" => s.auth_gate = opt_string(k, v)?,
                "ingress_path" => {
                    if !v.is_null() {
                        s.ingress_path = string_list(k, v)?
                    }
                }
                "max_body_size" => s.max_body_size = body_size_value(v)?,
                "extra_annotations" => s.extra_annotations = annotations(k, v)?,
                "extra_middlewares" => {
                    if !v.is_null() {
                        s.extra_middlewares = string_list(k, v)?
                    }
                }
                "allow_local_access_only" => s.allow_local_access_only = boolean(k, v, false)?,
                "custom_content_security_policy" => s.custom_content_security_policy = opt_string(k, v)?,
                "skip_default_rate_limit" => s.skip_default_rate_limit = boolean(k, v, false)?,
                "anti_ai_scraping" => s.anti_ai_scraping = opt_bool(k, v)?,
                "allowed_groups" => s.allowed_groups = if v.is_null() { None } else { Some(string_list(k, v)?) },
                "dns_type" => {
                    if !v.is_null() {
                        s.dns_type = enum_value(k, v, &DnsType::ALL, |d| d.as_str())?
                    }
                }
                "external_monitor" => s.external_monitor = opt_bool(k, v)?,
                "external_monitor_name" => s.external_monitor_name = opt_string(k, v)?,
                "homepage_enabled" => s.homepage_enabled = boolean(k, v, true)?,
                "homepage_group" => s.homepage_group = opt_string(k, v)?,
                "sablier" => s.sablier = sablier(v)?,
                "cloudflare_zone_id" => s.cloudflare_zone_id = opt_string(k, v)?,
                "cloudflare_tunnel_id" => s.cloudflare_tunnel_id = opt_string(k, v)?,
                "public_ip" => s.public_ip = opt_string(k, v)?,
                "public_ipv6" => s.public_ipv6 = opt_string(k, v)?,
                "internal_lb_ip" => s.internal_lb_ip = opt_string(k, v)?,
                _ => {
                    return Err(SpecError::new(
                        k,
                        format!("unknown field (known: {})", FIELDS.join(", ")),
                    ));
                }
            }
        }
        Ok(s)
    }

    /// Fills what the spec leaves unset from installation defaults (the spec wins).
    pub fn with_defaults(mut self, d: &IngressDefaults) -> Self {
        fn fill(slot: &mut Option<String>, default: &Option<String>) {
            if slot.is_none() {
                slot.clone_from(default);
            }
        }
        fill(&mut self.root_domain, &d.root_domain);
        fill(&mut self.annotation_domain, &d.annotation_domain);
        fill(&mut self.cloudflare_zone_id, &d.cloudflare_zone_id);
        fill(&mut self.cloudflare_tunnel_id, &d.cloudflare_tunnel_id);
        fill(&mut self.public_ip, &d.public_ip);
        fill(&mut self.public_ipv6, &d.public_ipv6);
        fill(&mut self.internal_lb_ip, &d.internal_lb_ip);
        if self.allowed_groups.is_none() {
            self.allowed_groups.clone_from(&d.allowed_groups);
        }
        if self.homepage_group.is_none() {
            self.homepage_group = d.homepage_groups.get(&self.namespace).cloned();
        }
        self
    }
}

/// The spec's field names, in the module's order (for error messages and the docs).
pub const FIELDS: &[&str] = &[
    "name",
    "namespace",
    "host",
    "full_host",
    "root_domain",
    "annotation_domain",
    "service_name",
    "external_name",
    "port",
    "tls_secret_name",
    "auth",
    "auth_gate",
    "ingress_path",
    "max_body_size",
    "extra_annotations",
    "extra_middlewares",
    "allow_local_access_only",
    "custom_content_security_policy",
    "skip_default_rate_limit",
    "anti_ai_scraping",
    "allowed_groups",
    "dns_type",
    "external_monitor",
    "external_monitor_name",
    "homepage_enabled",
    "homepage_group",
    "sablier",
    "cloudflare_zone_id",
    "cloudflare_tunnel_id",
    "public_ip",
    "public_ipv6",
    "internal_lb_ip",
];

const SABLIER_FIELDS: &[&str] = &[
    "group",
    "session_duration",
    "strategy",
    "display_name",
    "theme",
    "refresh_frequency",
    "blocking_timeout",
    "url",
];

/// Installation defaults (the CLI reads them from `[ingress]` in the config file; unknown
/// keys are refused there).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressDefaults {
    pub root_domain: Option<String>,
    pub annotation_domain: Option<String>,
    pub cloudflare_zone_id: Option<String>,
    pub cloudflare_tunnel_id: Option<String>,
    pub public_ip: Option<String>,
    pub public_ipv6: Option<String>,
    pub internal_lb_ip: Option<String>,
    pub allowed_groups: Option<Vec<String>>,
    /// Namespace → homepage group, for specs that do not name their `homepage_group`
    /// (`[ingress.homepage_groups]`; a namespace not listed gets [`DEFAULT_HOMEPAGE_GROUP`]).
    #[serde(default)]
    pub homepage_groups: std::collections::BTreeMap<String, String>,
}

/// The homepage group of a spec that names none and whose namespace the installation's
/// `homepage_groups` table does not list.
pub const DEFAULT_HOMEPAGE_GROUP: &str = "Other";

/// Parses `max_body_size`: digits with an optional `k`/`m`/`g` suffix (any case; 1024
/// based); a bare number is bytes. Zero and overflowing sizes are refused.
pub fn parse_body_size(text: &str) -> Result<u64, SpecError> {
    let bad = || {
        SpecError::new(
            "max_body_size",
            format!(
                "invalid size {text:?} (expected digits with an optional k, m or g suffix, e.g. 5g, 50m, 1024k, 42)"
            ),
        )
    };
    let t = text.trim();
    let (digits, mult) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let bytes = n
        .checked_mul(mult)
        .filter(|b| *b <= i64::MAX as u64)
        .ok_or_else(|| SpecError::new("max_body_size", format!("size {text:?} is too large")))?;
    if bytes == 0 {
        return Err(SpecError::new(
            "max_body_size",
            "size 0 is refused (omit max_body_size or use null for no limit)",
        ));
    }
    Ok(bytes)
}

/// Is `s` a Go duration (`300ms`, `5s`, `1h30m`)? Sablier parses these with Go.
pub fn is_go_duration(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if i == start || b[start] == b'.' {
            return false;
        }
        let unit_start = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if !matches!(&s[unit_start..i], "ns" | "us" | "µs" | "ms" | "s" | "m" | "h") {
            return false;
        }
    }
    true
}

pub(crate) fn valid_ipv4(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

pub(crate) fn valid_ipv6(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn req_string(map: &Map<String, Value>, k: &str) -> Result<String, SpecError> {
    match map.get(k) {
        None | Some(Value::Null) => Err(SpecError::new(k, "is required")),
        Some(v) => opt_string(k, v).map(|s| s.unwrap_or_default()),
    }
}

fn opt_string(k: &str, v: &Value) -> Result<Option<String>, SpecError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(SpecError::new(
            k,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

fn opt_bool(k: &str, v: &Value) -> Result<Option<bool>, SpecError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(SpecError::new(
            k,
            format!("expected true, false or null, found {}", type_name(other)),
        )),
    }
}

fn boolean(k: &str, v: &Value, default: bool) -> Result<bool, SpecError> {
    match v {
        Value::Null => Ok(default),
        Value::Bool(b) => Ok(*b),
        other => Err(SpecError::new(
            k,
            format!("expected true or false, found {}", type_name(other)),
        )),
    }
}

fn port(v: &Value) -> Result<u16, SpecError> {
    let bad = || SpecError::new("port", format!("expected a port number 1-65535, found {v}"));
    let n = match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    u16::try_from(n).ok().filter(|p| *p != 0).ok_or_else(bad)
}

fn body_size_value(v: &Value) -> Result<Option<u64>, SpecError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => parse_body_size(s).map(Some),
        Value::Number(n) => match n.as_u64() {
            Some(b) => parse_body_size(&b.to_string()).map(Some),
            None => Err(SpecError::new(
                "max_body_size",
                format!("invalid size {n} (expected a whole number of bytes or 5g, 50m, 1024k)"),
            )),
        },
        other => Err(SpecError::new(
            "max_body_size",
            format!(
                "expected a size like 5g, 50m, 1024k or bytes, found {}",
                type_name(other)
            ),
        )),
    }
}

fn string_list(k: &str, v: &Value) -> Result<Vec<String>, SpecError> {
    let Value::Array(items) = v else {
        return Err(SpecError::new(
            k,
            format!("expected a list of strings, found {}", type_name(v)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(SpecError::new(
                format!("{k}[{i}]"),
                format!("expected a string, found {}", type_name(other)),
            )),
        })
        .collect()
}

fn annotations(k: &str, v: &Value) -> Result<BTreeMap<String, String>, SpecError> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(key, val)| {
                // Terraform's map(string) turns scalars into strings; so do we.
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(SpecError::new(
                            format!("{k}.{key}"),
                            format!("expected a string, found {}", type_name(other)),
                        ));
                    }
                };
                Ok((key.clone(), s))
            })
            .collect(),
        other => Err(SpecError::new(
            k,
            format!(
                "expected a mapping of annotation keys to strings, found {}",
                type_name(other)
            ),
        )),
    }
}

fn enum_value<T: Copy>(k: &str, v: &Value, all: &[T], name: impl Fn(T) -> &'static str) -> Result<T, SpecError> {
    let allowed = || all.iter().map(|t| name(*t)).collect::<Vec<_>>().join(", ");
    let Value::String(s) = v else {
        return Err(SpecError::new(
            k,
            format!("expected a string, found {} (allowed: {})", type_name(v), allowed()),
        ));
    };
    all.iter()
        .copied()
        .find(|t| name(*t) == s)
        .ok_or_else(|| SpecError::new(k, format!("unknown value {s:?} (allowed: {})", allowed())))
}

fn sablier(v: &Value) -> Result<Option<Sablier>, SpecError> {
    let map = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => {
            return Err(SpecError::new(
                "sablier",
                format!("expected a mapping or null, found {}", type_name(other)),
            ));
        }
    };
    let mut s = Sablier::default();
    for (key, v) in map {
        let field = format!("sablier.{key}");
        let f = field.as_str();
        let set = |slot: &mut String| -> Result<(), SpecError> {
            if let Some(x) = opt_string(f, v)? {
                *slot = x;
            }
            Ok(())
        };
        match key.as_str() {
            "group" => s.group = opt_string(f, v)?,
            "session_duration" => set(&mut s.session_duration)?,
            "strategy" => {
                if !v.is_null() {
                    s.strategy = enum_value(f, v, &SablierStrategy::ALL, |x| x.as_str())?
                }
            }
            "display_name" => s.display_name = opt_string(f, v)?,
            "theme" => set(&mut s.theme)?,
            "refresh_frequency" => set(&mut s.refresh_frequency)?,
            "blocking_timeout" => set(&mut s.blocking_timeout)?,
            "url" => s.url = opt_string(f, v)?,
            _ => {
                return Err(SpecError::new(
                    f,
                    format!("unknown field (known: {})", SABLIER_FIELDS.join(", ")),
                ));
            }
        }
    }
    Ok(Some(s))
}

fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim().to_owned()
}

fn strip_pos(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_sizes() {
        assert_eq!(parse_body_size("5g").unwrap(), 5 << 30);
        assert_eq!(parse_body_size("50M").unwrap(), 50 << 20);
        assert_eq!(parse_body_size("1024k").unwrap(), 1 << 20);
        assert_eq!(parse_body_size("42").unwrap(), 42);
        for bad in ["", "g", "5gb", "5 g", "-1", "1.5g", "0", "0k", "99999999999999999999g"] {
            let e = parse_body_size(bad).unwrap_err();
            assert_eq!(e.field, "max_body_size", "{bad}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn go_durations() {
        for ok in ["3h", "5s", "5m", "1h30m", "300ms", "1.5h"] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "3", "h", "3 h", "3d", ".5h", "5sec"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn homepage_groups_come_from_the_defaults_and_the_spec_wins() {
        let d = IngressDefaults {
            homepage_groups: [("immich".to_owned(), "Media & Entertainment".to_owned())].into(),
            ..IngressDefaults::default()
        };
        let spec = |ns: &str, group: Option<&str>| {
            let mut v = serde_json::json!({"name": "a", "namespace": ns, "tls_secret_name": "t"});
            if let Some(g) = group {
                v["homepage_group"] = g.into();
            }
            IngressSpec::from_value(&v).unwrap().with_defaults(&d).homepage_group
        };
        assert_eq!(spec("immich", None).as_deref(), Some("Media & Entertainment"));
        assert_eq!(spec("immich", Some("Lab")).as_deref(), Some("Lab"));
        assert_eq!(spec("blog", None), None);
        assert_eq!(
            IngressSpec::from_value(&serde_json::json!({"name": "a", "namespace": "immich", "tls_secret_name": "t"}))
                .unwrap()
                .homepage_group,
            None,
            "no table is compiled in"
        );
    }

    #[test]
    fn enum_errors_name_field_and_values() {
        let v: Value = serde_json::json!({"name": "a", "namespace": "b", "tls_secret_name": "t", "auth": "sso"});
        let e = IngressSpec::from_value(&v).unwrap_err().to_string();
        assert_eq!(e, "auth: unknown value \"sso\" (allowed: required, app, public, none)");
        let v: Value =
            serde_json::json!({"name": "a", "namespace": "b", "tls_secret_name": "t", "sablier": {"strategy": "lazy"}});
        let e = IngressSpec::from_value(&v).unwrap_err().to_string();
        assert_eq!(
            e,
            "sablier.strategy: unknown value \"lazy\" (allowed: dynamic, blocking)"
        );
    }
}
