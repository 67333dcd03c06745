//! The two halves of the auth-posture contract agree: every spec the ingress factory
//! accepts renders objects that pass the policy engine's ingress rules, read back the way
//! `homelab ingress render | homelab policy check -` reads them (a YAML/JSON stream).

use homelab_core::ingress::render;
use homelab_core::manifest::parse_documents;
use homelab_core::policy::{self, Options, Profile, Source};
use homelab_core::posture;
use proptest::prelude::*;

fn check(stream: &str) -> policy::Report {
    let docs = parse_documents(stream).expect("the rendered stream parses");
    let options = Options {
        profile: Profile::Default,
        trusted_registries: Vec::new(),
        today: None,
    };
    policy::check(
        &[Source {
            file: "rendered",
            documents: &docs,
        }],
        &options,
    )
    .expect("default profile runs")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn accepted_specs_pass_the_ingress_rules(spec in crate::arb_ingress::arb_spec()) {
        let Ok(rendered) = render(&spec) else { return Ok(()); };
        // The YAML stream `homelab ingress render` prints.
        let stream: String = rendered
            .objects
            .iter()
            .map(|o| format!("---\n{}", serde_saphyr::to_string(o).unwrap()))
            .collect();
        let report = check(&stream);
        let ingress: Vec<_> = report.findings.iter().filter(|f| f.rule.starts_with("HL-ING")).collect();
        prop_assert!(ingress.is_empty(), "factory output flagged: {ingress:?}\n{stream}");
        // An exemption the factory wrote is a valid one (reason present, no expiry).
        prop_assert_eq!(report.invalid_exemptions(), 0);
    }
}

/// The property is not vacuous: the same engine flags an admin UI rendered without its
/// gate annotation, and the factory refuses that spec in the first place.
#[test]
fn the_engine_flags_what_the_factory_refuses() {
    let mut spec = homelab_core::ingress::IngressSpec::parse(
        "name: grafana\nnamespace: monitoring\ntls_secret_name: tls\nroot_domain: example.org\nauth: none\nauth_gate: Grafana's own login\n",
    )
    .unwrap();
    let rendered = render(&spec).unwrap();
    let mut ingress = rendered.ingress().clone();
    ingress["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(&posture::exemption_key(posture::INGRESS_AUTH_POSTURE));
    let report = check(&serde_json::to_string(&ingress).unwrap());
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == posture::INGRESS_AUTH_POSTURE_ID),
        "{:?}",
        report.findings
    );
    spec.auth_gate = None;
    assert!(render(&spec).is_err());
}
