//! The ingress spec strategy shared by the ingress property tests: [`arb_spec`] makes
//! mostly-valid specs (the properties are about what the factory accepts), sometimes
//! refused ones (admin UIs without `auth_gate`, missing DNS ids).

use std::collections::BTreeMap;

use homelab_core::ingress::{Auth, DnsType, IngressSpec, Sablier, SablierStrategy, mw};
use proptest::prelude::*;
use proptest::sample::select;

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{0,12}[a-z0-9]",
        1 => select(vec!["grafana", "admin", "vault", "traefik-dashboard", "blog", "photos"]).prop_map(str::to_owned),
    ]
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 1 => s.prop_map(Some)].boxed()
}

fn arb_sablier() -> impl Strategy<Value = Sablier> {
    (
        opt(label()),
        select(vec!["3h", "30m", "1h30m", "90s"]),
        select(SablierStrategy::ALL.to_vec()),
        opt("[A-Za-z ]{1,12}"),
        select(homelab_core::ingress::SABLIER_THEMES.to_vec()),
        select(vec!["5s", "2s", "500ms"]),
        select(vec!["5m", "1m", "30s"]),
    )
        .prop_map(|(group, session, strategy, display, theme, refresh, timeout)| Sablier {
            group,
            session_duration: session.into(),
            strategy,
            display_name: display.map(|d| format!("App {d}")),
            theme: theme.into(),
            refresh_frequency: refresh.into(),
            blocking_timeout: timeout.into(),
            url: None,
        })
}

/// Middlewares a call site may add (some duplicate chain entries on purpose).
fn extra_middleware() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            mw::RETRY,
            mw::RATE_LIMIT,
            mw::REAL_IP,
            mw::FORWARD_AUTH,
            mw::LOCAL_ONLY
        ])
        .prop_map(str::to_owned),
        "traefik-[a-z]{1,8}-rate-limit@kubernetescrd",
    ]
}

/// Annotation keys a call site may add (never the chain, exemptions or allowed-groups,
/// which the properties below reason about).
fn extra_annotations() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(
        select(vec![
            "gethomepage.dev/icon",
            "gethomepage.dev/description",
            "cloudflare.example.org/dns-type",
            "uptime.example.org/external-monitor",
            "traefik.ingress.kubernetes.io/router.entrypoints",
            "example.org/owner",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9 .]{0,12}",
        0..3,
    )
}

/// An arbitrary spec: mostly valid (the properties are about what the factory accepts),
/// sometimes refused (admin UIs without `auth_gate`, missing DNS ids).
pub fn arb_spec() -> impl Strategy<Value = IngressSpec> {
    let identity = (
        label(),
        label(),
        opt(label()),
        opt(select(vec!["example.org", "app.example.org", "svc.example.net"]).prop_map(str::to_owned)),
        opt(prop_oneof![label(), label().prop_map(|l| format!("anubis-{l}"))]),
        opt(select(vec!["nas.lan.example.org", "backend.example.net"]).prop_map(str::to_owned)),
        1u16..=65535,
        opt(select(vec!["example.org", "example.com"]).prop_map(str::to_owned)),
    );
    let auth = (
        select(Auth::ALL.to_vec()),
        // Mostly a real gate, sometimes none or blank (refused for admin UIs).
        prop_oneof![
            3 => select(vec!["the app's own login", "Anubis proof-of-work"]).prop_map(|g| Some(g.to_owned())),
            1 => Just(None),
            1 => select(vec!["", "  "]).prop_map(|g| Some(g.to_owned())),
        ],
        opt(proptest::collection::vec(
            select(vec!["Home Server Admins", "Family", "Chrome Users"]).prop_map(str::to_owned),
            1..3,
        )),
        any::<Option<bool>>(),
    );
    let chain = (
        proptest::collection::vec(select(vec!["/", "/api", "/admin", "/static", "/hooks/x"]), 1..4),
        opt(1u64..(1 << 40)),
        extra_annotations(),
        proptest::collection::vec(extra_middleware(), 0..4),
        any::<bool>(),
        opt(select(vec!["default-src 'self'", "frame-ancestors 'none'"]).prop_map(str::to_owned)),
        any::<bool>(),
        opt(arb_sablier()),
    );
    let exposure = (
        select(DnsType::ALL.to_vec()),
        any::<Option<bool>>(),
        opt("[A-Za-z][A-Za-z ]{0,10}"),
        any::<bool>(),
        opt(select(vec!["Media", "Lab"]).prop_map(str::to_owned)),
        any::<bool>(),
    );
    (identity, auth, chain, exposure).prop_map(
        |(
            (name, namespace, host, full_host, service_name, external_name, port, annotation_domain),
            (auth, auth_gate, allowed_groups, anti_ai),
            (paths, body, extra_annotations, extra_middlewares, local_only, csp, skip_rl, sablier),
            (dns_type, external_monitor, monitor_name, homepage, homepage_group, with_ids),
        )| {
            let mut s = IngressSpec::new(name, namespace, "tls-example-org");
            s.root_domain = Some("example.org".into());
            s.host = host;
            s.full_host = full_host;
            s.service_name = service_name;
            s.external_name = external_name;
            s.port = port;
            s.annotation_domain = annotation_domain;
            s.auth = auth;
            s.auth_gate = auth_gate;
            s.allowed_groups = allowed_groups;
            s.anti_ai_scraping = anti_ai;
            let mut p: Vec<String> = paths.into_iter().map(str::to_owned).collect();
            p.dedup();
            p.sort();
            p.dedup();
            s.ingress_path = p;
            s.max_body_size = body;
            s.extra_annotations = extra_annotations;
            s.extra_middlewares = extra_middlewares;
            s.allow_local_access_only = local_only;
            s.custom_content_security_policy = csp;
            s.skip_default_rate_limit = skip_rl;
            s.sablier = sablier;
            s.dns_type = dns_type;
            s.external_monitor = external_monitor;
            s.external_monitor_name = monitor_name;
            s.homepage_enabled = homepage;
            s.homepage_group = homepage_group;
            if with_ids {
                s.cloudflare_zone_id = Some("0123456789abcdef0123456789abcdef".into());
                s.cloudflare_tunnel_id = Some("00000000-0000-4000-8000-000000000001".into());
                s.public_ip = Some("203.0.113.10".into());
                s.public_ipv6 = Some("2001:db8::10".into());
                s.internal_lb_ip = Some("10.10.0.10".into());
            }
            s
        },
    )
}
