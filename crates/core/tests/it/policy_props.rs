//! Property tests for the policy engine's decision logic: image references, exemptions,
//! dates, CIDR arithmetic, and "any input, no panic".

use std::net::Ipv4Addr;

use homelab_core::manifest::Document;
use homelab_core::policy::exempt::{ExemptionStatus, evaluate};
use homelab_core::policy::netpol::{METADATA_ADDRESS, cidr_contains};
use homelab_core::policy::{self, Date, ImageRef, Options, Profile, Source, TrustedRegistry};
use proptest::prelude::*;
use serde_json::{Value, json};

fn component() -> impl Strategy<Value = String> {
    // No dots: a dotted first component is a registry host, by design.
    "[a-z0-9][a-z0-9_-]{0,8}"
}

fn image_parts() -> impl Strategy<Value = (Option<String>, Vec<String>, Option<String>, Option<String>)> {
    (
        prop::option::of(prop_oneof![
            Just("ghcr.io".to_owned()),
            Just("registry.local:5000".to_owned()),
            Just("localhost".to_owned()),
            Just("docker.io".to_owned()),
            Just("index.docker.io".to_owned()),
        ]),
        prop::collection::vec(component(), 1..4),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        prop::option::of(prop_oneof![
            "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}")),
            "[0-9a-f]{1,70}".prop_map(|h| format!("sha256:{h}"))
        ]),
    )
}

proptest! {
    #[test]
    fn image_parse_never_panics_and_round_trips(s in "\\PC{0,60}") {
        if let Ok(r) = ImageRef::parse(&s) {
            let again = ImageRef::parse(&r.to_string()).expect("canonical form parses");
            prop_assert_eq!(again, r);
        }
    }

    #[test]
    fn built_references_parse_to_their_parts((reg, path, tag, digest) in image_parts()) {
        let mut s = String::new();
        if let Some(r) = &reg { s.push_str(r); s.push('/'); }
        s.push_str(&path.join("/"));
        if let Some(t) = &tag { s.push(':'); s.push_str(t); }
        if let Some(d) = &digest { s.push('@'); s.push_str(d); }
        let r = ImageRef::parse(&s).unwrap();
        let want_reg = match reg.as_deref() { None | Some("index.docker.io") => "docker.io", Some(r) => r };
        prop_assert_eq!(&r.registry, want_reg);
        prop_assert_eq!(&r.tag, &tag);
        prop_assert_eq!(&r.digest, &digest);
        let want_repo = if want_reg == "docker.io" && path.len() == 1 { format!("library/{}", path[0]) } else { path.join("/") };
        prop_assert_eq!(&r.repository, &want_repo);
        prop_assert_eq!(r.has_sha256_digest(), digest.as_deref().is_some_and(|d| d.len() == 7 + 64));
        prop_assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r.clone());
        prop_assert!(TrustedRegistry::parse(want_reg).unwrap().covers(&r));
    }

    #[test]
    fn exemption_decision(reason in prop::option::of(prop_oneof![Just("".to_owned()), Just("  ".to_owned()), "[a-z ]{1,20}"]),
                          until in prop::option::of(prop_oneof![(0i64..40_000).prop_map(|d| Date::from_unix_days(d).to_string()), Just("soon".to_owned())]),
                          today in prop::option::of((0i64..40_000).prop_map(Date::from_unix_days))) {
        let key = "exempt.policy.homelab.dev/privileged";
        let mut m = serde_json::Map::new();
        if let Some(r) = &reason { m.insert(key.into(), json!(r)); }
        if let Some(u) = &until { m.insert(format!("{key}-until"), json!(u)); }
        let status = evaluate(Some(&Value::Object(m)), "privileged", today);
        let has_reason = reason.as_deref().is_some_and(|r| !r.trim().is_empty());
        let until_ok = match &until {
            None => true,
            Some(u) => match (Date::parse(u), today) { (Some(d), Some(t)) => t <= d, _ => false },
        };
        let want = if reason.is_none() && until.is_none() { "none" } else if has_reason && until_ok { "exempt" } else { "invalid" };
        let got = match status { ExemptionStatus::None => "none", ExemptionStatus::Exempt(_) => "exempt", ExemptionStatus::Invalid(_) => "invalid" };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn dates_order_like_days(a in -100_000i64..100_000, b in -100_000i64..100_000) {
        let (da, db) = (Date::from_unix_days(a), Date::from_unix_days(b));
        prop_assert_eq!(a.cmp(&b), da.cmp(&db));
        if da.year >= 0 {
            prop_assert_eq!(Date::parse(&da.to_string()), Some(da));
        }
    }

    #[test]
    fn cidr_matches_bit_arithmetic(addr in any::<u32>(), len in 0u8..=32) {
        let cidr = format!("{}/{len}", Ipv4Addr::from(addr));
        let m = u32::from(METADATA_ADDRESS);
        let want = len == 0 || (addr ^ m) >> (32 - u32::from(len)) == 0;
        prop_assert_eq!(cidr_contains(&cidr, METADATA_ADDRESS), Some(want));
    }

    /// Whatever shape the objects have, the engine answers (no panic) and its exit code is
    /// exactly "any unexempted finding".
    #[test]
    fn engine_never_panics(kind in prop_oneof![Just("Pod"), Just("Deployment"), Just("CronJob"), Just("Ingress"), Just("NetworkPolicy"), Just("ConfigMap")],
                           spec in arb_json(), prod in any::<bool>()) {
        let value = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "spec": spec});
        let docs = [Document { index: 0, line: 1, value }];
        let options = Options {
            profile: if prod { Profile::Prod } else { Profile::Default },
            trusted_registries: vec![TrustedRegistry::parse("ghcr.io").unwrap()],
            today: Some(Date::from_unix_days(20_000)),
        };
        let r = policy::check(&[Source { file: "f.yaml", documents: &docs }], &options).unwrap();
        prop_assert_eq!(r.exit_code() == 1, !r.findings.is_empty());
        prop_assert_eq!(r.objects, 1);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..2).prop_map(|n| json!(n)),
        prop_oneof![
            Just("nginx:latest"),
            Just("ghcr.io/a/b:1"),
            Just("SYS_ADMIN"),
            Just("0.0.0.0/0"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
    ];
    let keys = prop_oneof![
        Just("template"),
        Just("spec"),
        Just("containers"),
        Just("initContainers"),
        Just("image"),
        Just("securityContext"),
        Just("runAsNonRoot"),
        Just("runAsUser"),
        Just("capabilities"),
        Just("add"),
        Just("resources"),
        Just("limits"),
        Just("requests"),
        Just("jobTemplate"),
        Just("hostPID"),
        Just("rules"),
        Just("http"),
        Just("paths"),
        Just("egress"),
        Just("to"),
        Just("ipBlock"),
        Just("cidr"),
        Just("podSelector"),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
