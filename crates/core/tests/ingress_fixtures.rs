//! Golden ingress fixtures: every `fixtures/ingress/<case>.yaml` is a spec (YAML, or
//! JSON in the same file) and `<case>.json` the exact render, `{"objects": [...],
//! "dns_records": [...], "middlewares": [...]}`, or `{"error": "<one line>"}` for a spec
//! the factory refuses. `UPDATE_FIXTURES=1` rewrites the expectations (review the diff
//! before committing: the fixtures are the spec). Cases named `e…` must be errors, the
//! others must render.

#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::disallowed_macros)] // fixtures are files

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::Path;

use homelab_core::ingress::{IngressSpec, render};
use serde_json::{Value, json};

fn actual(spec_text: &str) -> Value {
    match IngressSpec::parse(spec_text).and_then(|s| render(&s)) {
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
    let expect_path = spec_path.with_extension("json");
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let mut out = serde_json::to_string_pretty(&got).map_err(|e| e.to_string())?;
        out.push('\n');
        std::fs::write(&expect_path, out).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let want_text = std::fs::read_to_string(&expect_path)
        .map_err(|e| format!("{}: {e} (run with UPDATE_FIXTURES=1 and review)", expect_path.display()))?;
    let want: Value = serde_json::from_str(&want_text).map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!(
            "render differs\n--- expected\n{}\n--- actual\n{}",
            serde_json::to_string_pretty(&want).unwrap(),
            serde_json::to_string_pretty(&got).unwrap()
        ));
    }
    Ok(())
}

#[test]
fn ingress_fixtures() {
    fixtures::run_all("ingress", "yaml", 50, run_case);
}
