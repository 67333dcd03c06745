//! Golden ingress fixtures: every `fixtures/ingress/<case>.yaml` is a spec (YAML, or
//! JSON in the same file) and `<case>.json` the exact render, `{"objects": [...],
//! "dns_records": [...], "middlewares": [...]}`, or `{"error": "<one line>"}` for a spec
//! the factory refuses. `UPDATE_FIXTURES=1` rewrites the expectations (review the diff
//! before committing: the fixtures are the spec). Cases named `e…` must be errors, the
//! others must render.

use std::path::Path;

use homelab_core::ingress::{IngressDefaults, IngressSpec, render};
use homelab_testkit::fixtures;
use serde_json::{Value, json};

/// The installation defaults the fixtures render with: only a namespace → homepage group
/// table (the one the original module had compiled in; here it is configuration).
const HOMEPAGE_GROUPS: &[(&str, &str)] = &[
    ("authentik", "Identity & Security"),
    ("changedetection", "Automation"),
    ("crowdsec", "Identity & Security"),
    ("dbaas", "Infrastructure"),
    ("finance", "Finance & Personal"),
    ("forgejo", "Development & CI"),
    ("frigate", "Smart Home"),
    ("home-assistant", "Smart Home"),
    ("homepage", "Core Platform"),
    ("immich", "Media & Entertainment"),
    ("kyverno", "Infrastructure"),
    ("mailserver", "Infrastructure"),
    ("metallb-system", "Infrastructure"),
    ("monitoring", "Infrastructure"),
    ("n8n", "Automation"),
    ("navidrome", "Media & Entertainment"),
    ("nextcloud", "Productivity"),
    ("ollama", "AI & Data"),
    ("prometheus", "Infrastructure"),
    ("reverse-proxy", "Smart Home"),
    ("servarr", "Media & Entertainment"),
    ("technitium", "Infrastructure"),
    ("traefik", "Infrastructure"),
    ("woodpecker", "Development & CI"),
];

fn defaults() -> IngressDefaults {
    IngressDefaults {
        homepage_groups: HOMEPAGE_GROUPS
            .iter()
            .map(|(ns, g)| ((*ns).to_owned(), (*g).to_owned()))
            .collect(),
        ..IngressDefaults::default()
    }
}

fn actual(spec_text: &str) -> Value {
    match IngressSpec::parse(spec_text).and_then(|s| render(&s.with_defaults(&defaults()))) {
        Ok(r) => {
            let mut v = r.to_json();
            v["middlewares"] = json!(r.middlewares);
            v
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}

fn run_case(spec_path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(spec_path).map_err(|e| e.to_string())?;
    let got = actual(&text);
    let stem = spec_path.file_stem().unwrap().to_string_lossy().into_owned();
    let is_error = got.get("error").is_some();
    if is_error != stem.starts_with('e') {
        return Err(format!("unexpected outcome: {got}"));
    }
    if let Some(e) = got.get("error").and_then(Value::as_str)
        && e.contains('\n')
    {
        return Err(format!("error is not one line: {e:?}"));
    }
    // Every object survives the YAML the CLI prints (quoting of "true", "3", ...).
    for o in got.get("objects").and_then(Value::as_array).into_iter().flatten() {
        let yaml = serde_saphyr::to_string(o).map_err(|e| format!("to YAML: {e}"))?;
        let back: Value = serde_saphyr::from_str(&yaml).map_err(|e| format!("YAML back: {e}"))?;
        if &back != o {
            return Err(format!("YAML round trip differs:\n{yaml}"));
        }
    }
    fixtures::expect_json(&spec_path.with_extension("json"), &got)
}

#[test]
fn ingress_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingress");
    fixtures::run_all(&dir, "yaml", 50, run_case);
}
