//! Data-driven reference and template tests: `fixtures/secret/references.json` lists
//! inputs with the expected canonical form or error; `fixtures/secret/templates.json`
//! lists templates with the expected parts or error. `UPDATE_FIXTURES=1` rewrites the
//! expectations (review the diff before committing: the fixtures are the spec).

use std::path::Path;

use homelab_core::secret::template::Part;
use homelab_core::secret::{SecretRef, Template};
use homelab_testkit::fixtures;
use serde_json::{Value, json};

fn fixture(name: &str) -> (std::path::PathBuf, Vec<Value>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/secret")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    (path, cases)
}

fn check(path: &Path, mut cases: Vec<Value>, actual: impl Fn(&str) -> Value) {
    let mut failures = Vec::new();
    for case in &mut cases {
        let input = case["input"].as_str().expect("input").to_owned();
        let got = actual(&input);
        if fixtures::updating() {
            case["expect"] = got;
        } else if case["expect"] != got {
            failures.push(format!("{input:?}\n  expected {}\n  actual   {got}", case["expect"]));
        }
    }
    if fixtures::updating() {
        fixtures::write_json(path, &Value::Array(cases)).unwrap();
    }
    fixtures::assert_all_passed(&failures);
}

#[test]
fn reference_fixtures() {
    let (path, cases) = fixture("references.json");
    check(&path, cases, |input| match SecretRef::parse(input) {
        Ok(r) => json!({ "scheme": r.scheme().as_str(), "canonical": r.to_string() }),
        Err(e) => json!({ "error": e.to_string() }),
    });
}

#[test]
fn template_fixtures() {
    let (path, cases) = fixture("templates.json");
    check(&path, cases, |input| match Template::parse(input) {
        Ok(t) => json!({
            "parts": t.parts.iter().map(|p| match p {
                Part::Literal(s) => json!({ "text": s }),
                Part::Ref { reference, line, column } => json!({ "ref": reference.to_string(), "at": [line, column] }),
            }).collect::<Vec<_>>()
        }),
        Err(e) => json!({ "error": e.to_string() }),
    });
}
