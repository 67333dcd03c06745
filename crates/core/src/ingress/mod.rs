//! The ingress factory: the `ingress_factory` Terraform module's rules as a pure
//! function. A spec with the module's variable names ([`IngressSpec`], YAML or JSON) is
//! validated and rendered to the Kubernetes objects the module creates (the Ingress,
//! per-ingress Traefik Middleware CRs, an ExternalName Service) and the DNS records it
//! would make ([`DnsRecord`] intents).
//!
//! Invariants:
//! - **Fail-closed auth**: `auth` defaults to `required` (Authentik forward-auth); an
//!   admin-looking UI with `auth: app|none` is refused unless `auth_gate` says what gates
//!   it, and then carries the policy engine's exemption annotation ([`crate::posture`]).
//! - **Chain order** is the module's ([`middleware_chain`]), de-duplicated, extra
//!   middlewares last; `extra_annotations` cannot replace the chain.
//! - **No personal IDs compiled in**: domains, zone and tunnel ids, IPs and default
//!   groups come from the spec or [`IngressDefaults`] (the config file).
//!
//! [`lint`] holds the call-site rule (`auth = "app"|"none"` needs a comment).

pub mod lint;
mod render;
mod spec;

pub use render::{
    DnsRecord, ENTRYPOINT, ENTRYPOINTS_ANNOTATION, INGRESS_CLASS, PATH_TYPE, Rendered, SABLIER_IGNORED_USER_AGENTS,
    allowed_groups, auth_middleware, backend_service, effective_anti_ai, effective_external_monitor, middleware_chain,
    mw, render,
};
pub use spec::{
    Auth, DEFAULT_ALLOWED_GROUPS, DEFAULT_SABLIER_URL, DnsType, FIELDS, IngressDefaults, IngressSpec, SABLIER_THEMES,
    Sablier, SablierStrategy, SpecError, homepage_group_for, is_go_duration, parse_body_size,
};
