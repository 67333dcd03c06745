//! The ingress factory: the `ingress_factory` Terraform module's rules as a pure
//! function. A spec with the module's variable names ([`IngressSpec`], YAML or JSON) is
//! validated and rendered to the Kubernetes objects the module creates (the Ingress,
//! per-ingress Traefik Middleware CRs, an ExternalName Service) and the DNS records it
//! would make ([`DnsRecord`] intents).
//!
//! Invariants:
//! - **Fail-closed auth**: `auth` defaults to `required` (Authentik forward-auth); an
//!   admin-looking UI with `auth: app|none|public` is refused unless `auth_gate` says what gates
//!   it, and then carries the policy engine's exemption annotation ([`crate::posture`]).
//! - **Chain order** is the module's ([`middleware_chain`]), de-duplicated, extra
//!   middlewares last; `extra_annotations` cannot replace the chain.
//! - **No personal IDs compiled in**: domains, zone and tunnel ids, IPs and default
//!   groups, and the namespace → homepage group table, come from the spec or
//!   [`IngressDefaults`] (the config file).
//!
//! Matches the module (`modules/kubernetes/ingress_factory/main.tf`): variable names and
//! defaults, the chain and its per-ingress references (`<ns>-<kind>-<name>@kubernetescrd`),
//! the homepage name/icon/group rules and namespace table, `max_body_size` parsing,
//! the sablier plugin body, the external-monitor null/true/false rule, the DNS records
//! (apex-only proxied CNAME to `<tunnel>.cfargotunnel.com`, A+AAAA, internal A; ttl 1),
//! `pathType` left to the Terraform provider's default (`ImplementationSpecific`).
//!
//! Chosen where the module is silent or differs (Traefik/external-dns/gethomepage users'
//! expectations):
//! - annotation precedence is the module's `merge()` order: base (middlewares, entrypoint),
//!   homepage, `extra_annotations`, dns-type, external monitor — so `extra_annotations`
//!   override the base and homepage keys but not dns-type or the monitor; then the keys the
//!   module version we matched lacks: allowed-groups (comma-joined, the form the Authentik
//!   policy generator splits) and the posture exemption. `extra_annotations` may not set
//!   the middleware chain or a policy exemption (fail-closed);
//! - real-ip is keyed on the effective backend (`service_name`, else `name`);
//! - `public_ipv6` is optional: without it a non-proxied name gets only its A record;
//! - `max_body_size: 0` is refused (the module would emit an unlimited buffer);
//! - a DNS record for a host outside `root_domain` is an error (the module would write
//!   the full name into the zone);
//! - the ExternalName Service points at `external_name` (the module writes its own name,
//!   a bug);
//! - names are validated as Kubernetes DNS labels, paths must start with `/`.
//!
//! [`lint`] holds the call-site rule (`auth = "app"|"none"` needs a comment).

pub mod lint;
mod render;
mod spec;
mod stream;

pub use render::{
    DnsRecord, ENTRYPOINT, ENTRYPOINTS_ANNOTATION, INGRESS_CLASS, PATH_TYPE, Rendered, SABLIER_IGNORED_USER_AGENTS,
    allowed_groups, auth_middleware, backend_service, effective_anti_ai, effective_external_monitor, middleware_chain,
    mw, render,
};
pub use spec::{
    Auth, DEFAULT_ALLOWED_GROUPS, DEFAULT_HOMEPAGE_GROUP, DEFAULT_SABLIER_URL, DnsType, FIELDS, IngressDefaults,
    IngressSpec, SABLIER_THEMES, Sablier, SablierStrategy, SpecError, is_go_duration, parse_body_size,
};
pub use stream::{YamlStreamError, yaml_stream};
