//! Properties of the ingress factory over arbitrary specs. [`arb_spec`] is the reusable
//! spec strategy (the policy engine's "every accepted spec passes the ingress rules"
//! property builds on it).

use crate::arb_ingress::arb_spec;
use homelab_core::ingress::{
    Auth, DnsType, IngressSpec, auth_middleware, effective_anti_ai, middleware_chain, mw, render,
};
use homelab_core::posture;
use proptest::prelude::*;

/// The module's fixed chain positions (per-ingress middlewares by their infix).
fn position(m: &str) -> usize {
    let fixed = [
        mw::REAL_IP,
        mw::RETRY,
        mw::ERROR_PAGES,
        mw::RATE_LIMIT,
        mw::CSP_HEADERS,
        mw::AI_BOT_BLOCK,
        mw::ANTI_AI_HEADERS,
        mw::FORWARD_AUTH,
        mw::FORWARD_AUTH_PUBLIC,
        mw::LOCAL_ONLY,
    ];
    if let Some(i) = fixed.iter().position(|f| *f == m) {
        return i;
    }
    if m.contains("-sablier-") {
        10
    } else if m.contains("-custom-csp-") {
        11
    } else if m.contains("-buffering-") {
        12
    } else {
        13
    }
}

fn annotations(r: &homelab_core::ingress::Rendered) -> &serde_json::Map<String, serde_json::Value> {
    r.ingress()["metadata"]["annotations"].as_object().expect("annotations")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn accepted_specs_keep_the_module_chain(spec in arb_spec()) {
        let Ok(r) = render(&spec) else { return Ok(()); };
        let chain = &r.middlewares;
        // No duplicates.
        let mut seen = std::collections::HashSet::new();
        prop_assert!(chain.iter().all(|m| seen.insert(m.clone())), "duplicate in {chain:?}");
        // The module's entries come first, in the module's order; extras (not already in
        // the chain) follow in the call site's order.
        let mut bare = spec.clone();
        bare.extra_middlewares.clear();
        let module_part = middleware_chain(&bare);
        prop_assert_eq!(&chain[..module_part.len()], &module_part[..]);
        let positions: Vec<usize> = module_part.iter().map(|m| position(m)).collect();
        prop_assert!(positions.windows(2).all(|w| w[0] < w[1]), "order {chain:?}");
        let mut expected_extras: Vec<String> = Vec::new();
        for m in &spec.extra_middlewares {
            if !module_part.contains(m) && !expected_extras.contains(m) {
                expected_extras.push(m.clone());
            }
        }
        prop_assert_eq!(&chain[module_part.len()..], &expected_extras[..]);
        // The annotation is the chain.
        let joined = chain.join(",");
        prop_assert_eq!(annotations(&r)[posture::TRAEFIK_MIDDLEWARES_ANNOTATION].as_str(), Some(joined.as_str()));
        // real-ip exactly for anubis backends, and then first.
        let anubis = spec.service_name.as_deref().unwrap_or(&spec.name).starts_with("anubis-");
        prop_assert_eq!(chain[0] == mw::REAL_IP, anubis);
        // Anti-AI pair iff effective anti-AI.
        prop_assert_eq!(chain.iter().any(|m| m == mw::AI_BOT_BLOCK), effective_anti_ai(&spec));
    }

    #[test]
    fn required_means_forward_auth(spec in arb_spec()) {
        let Ok(r) = render(&spec) else { return Ok(()); };
        let a = annotations(&r);
        let mws = a[posture::TRAEFIK_MIDDLEWARES_ANNOTATION].as_str().unwrap();
        if let Some(m) = auth_middleware(spec.auth) {
            prop_assert!(posture::middleware_refs(mws).any(|x| x == m));
        }
        if !spec.auth.admits_strangers() {
            prop_assert!(posture::middleware_refs(mws).any(posture::is_auth_middleware));
        }
        if spec.auth == Auth::Required {
            prop_assert!(posture::middleware_refs(mws).any(|x| x == mw::FORWARD_AUTH));
        }
        // allowed-groups only with required.
        let has_groups = a.keys().any(|k| k.ends_with("/allowed-groups"));
        prop_assert_eq!(has_groups, spec.auth == Auth::Required);
        prop_assert_eq!(r.ingress()["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"].is_string(), true);
    }

    #[test]
    fn admin_uis_without_forward_auth_carry_their_gate(spec in arb_spec()) {
        let Ok(r) = render(&spec) else { return Ok(()); };
        let a = annotations(&r);
        let mws = a[posture::TRAEFIK_MIDDLEWARES_ANNOTATION].as_str().unwrap();
        let ing = r.ingress();
        let host = ing["spec"]["rules"][0]["host"].as_str().unwrap();
        let paths: Vec<&str> = ing["spec"]["rules"][0]["http"]["paths"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
        let name = ing["metadata"]["name"].as_str().unwrap();
        let authed = posture::middleware_refs(mws).any(posture::is_auth_middleware);
        if posture::looks_like_admin_ui(name, host, paths.iter().copied()) && !authed {
            let reason = a.get(&posture::exemption_key(posture::INGRESS_AUTH_POSTURE)).and_then(|v| v.as_str());
            prop_assert!(reason.is_some_and(|r| !r.trim().is_empty()), "naked admin UI rendered: {name} {host} {paths:?}");
        }
    }

    #[test]
    fn render_is_deterministic_and_consistent(spec in arb_spec()) {
        let a = render(&spec);
        let b = render(&spec);
        prop_assert_eq!(&a, &b);
        if let Ok(r) = a {
            prop_assert_eq!(r.middlewares, middleware_chain(&spec));
            // Exactly one Ingress; a Service iff external_name.
            prop_assert_eq!(r.objects.iter().filter(|o| o["kind"] == "Ingress").count(), 1);
            prop_assert_eq!(r.objects.iter().any(|o| o["kind"] == "Service"), spec.external_name.is_some());
            prop_assert!(r.dns_records.is_empty() || spec.dns_type != DnsType::None);
            if spec.dns_type == DnsType::Proxied {
                prop_assert!(r.dns_records.iter().all(|d| d.name == "@" && d.record_type == "CNAME" && d.proxied));
            }
        } else if let Err(e) = a {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn parse_never_panics(text in "(name|namespace|auth|max_body_size|sablier|port|dns_type)?[:a-z0-9 {}\\[\\],\"\n-]{0,80}") {
        if let Err(e) = IngressSpec::parse(&text) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }
}

/// The strategy must mostly produce specs the factory accepts, or the properties above
/// would hold vacuously.
#[test]
fn arb_spec_is_mostly_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = arb_spec();
    let (mut ok, mut admin_gated, n) = (0, 0, 400);
    for _ in 0..n {
        let spec = strategy.new_tree(&mut runner).expect("tree").current();
        if let Ok(r) = render(&spec) {
            ok += 1;
            let a = r.ingress()["metadata"]["annotations"].as_object().unwrap().clone();
            admin_gated += usize::from(a.contains_key(&posture::exemption_key(posture::INGRESS_AUTH_POSTURE)));
        }
    }
    assert!(ok * 2 > n, "only {ok}/{n} specs accepted");
    assert!(admin_gated > 0, "no spec exercised auth_gate");
}
