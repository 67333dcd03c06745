//! Renderings of a [`Report`]: text for people, JSON for machines, SARIF 2.1.0 for
//! code-scanning UIs. None of them decides anything: the exit code is
//! [`Report::exit_code`], whatever the format.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Exempted, Finding, RULES, Report, Rule};

/// Version of the JSON report layout (README "policy check JSON").
pub const JSON_VERSION: u32 = 1;

fn object_label(f: &Finding) -> String {
    let name = f.name.as_deref().unwrap_or("(unnamed)");
    let mut s = match f.namespace.as_deref() {
        Some(ns) => format!("{} {ns}/{name}", f.kind),
        None => format!("{} {name}", f.kind),
    };
    if let Some(c) = &f.container {
        let _ = write!(s, " container {c}");
    }
    s
}

/// Human text: findings grouped by file and object, then exemptions, then one summary line.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let mut last_file: Option<&str> = None;
    let mut last_obj: Option<(usize, String)> = None;
    for f in &report.findings {
        if last_file != Some(f.file.as_str()) {
            if last_file.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", f.file);
            last_file = Some(&f.file);
            last_obj = None;
        }
        let obj = object_label(&Finding {
            container: None,
            ..f.clone()
        });
        let key = (f.document, obj);
        if last_obj.as_ref() != Some(&key) {
            let _ = writeln!(out, "  {}:{}: document {}: {}", f.file, f.line, f.document, key.1);
            last_obj = Some(key);
        }
        let container = f.container.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "    {:<7} {} {container}{}",
            f.severity.as_str(),
            f.rule,
            f.message
        );
        if let Some(p) = &f.exemption_problem {
            let _ = writeln!(out, "            exemption not honoured: {p}");
        }
    }
    if !report.exempted.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "exempted:");
        for e in &report.exempted {
            let f = &e.finding;
            let until = e.until.as_deref().map(|u| format!(" (until {u})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}:{}: {} {}: {:?}{until}",
                f.file,
                f.line,
                f.rule,
                object_label(f),
                e.reason
            );
        }
    }
    for s in &report.skipped_rules {
        let _ = writeln!(out, "note: {} not evaluated: {}", s.rule, s.reason);
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}

/// `N finding(s) (E error(s), W warning(s)) in O object(s) from F file(s); X exempted; Y exemption(s) not honoured`.
pub fn summary(report: &Report) -> String {
    let mut s = format!(
        "{} finding(s) ({} error(s), {} warning(s)) in {} object(s) ({} workload(s)) from {} file(s); {} exempted",
        report.findings.len(),
        report.errors(),
        report.warnings(),
        report.objects,
        report.workloads,
        report.files,
        report.exempted.len()
    );
    let bad = report.invalid_exemptions();
    if bad > 0 {
        let _ = write!(s, "; {bad} exemption(s) not honoured");
    }
    let _ = write!(s, "; profile {}", report.profile.as_str());
    s
}

/// The JSON report (layout version [`JSON_VERSION`]).
pub fn json(report: &Report) -> Value {
    json!({
        "version": JSON_VERSION,
        "profile": report.profile,
        "exit_code": report.exit_code(),
        "summary": {
            "files": report.files,
            "objects": report.objects,
            "workloads": report.workloads,
            "findings": report.findings.len(),
            "errors": report.errors(),
            "warnings": report.warnings(),
            "exempted": report.exempted.len(),
            "exemptions_not_honoured": report.invalid_exemptions(),
        },
        "findings": report.findings,
        "exempted": report.exempted,
        "skipped_rules": report.skipped_rules,
    })
}

/// A relative or absolute path as a SARIF `artifactLocation.uri` (forward slashes,
/// percent-encoded outside the unreserved set).
fn uri(path: &str) -> String {
    if path == "<stdin>" {
        return "stdin".into();
    }
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if path.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

fn sarif_rule(r: &Rule, docs_base: &str) -> Value {
    json!({
        "id": r.id,
        "name": r.slug,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": format!("{} ({}). Exempt with the annotation exempt.policy.homelab.dev/{}: \"<reason>\".", r.title, if r.prod_only { "prod profile" } else { "all profiles" }, r.slug)},
        "helpUri": format!("{docs_base}{}.md", r.id),
        "help": {"text": format!("{}. See {docs_base}{}.md", r.title, r.id)},
        "defaultConfiguration": {"level": r.severity.as_str()},
        "properties": {"tags": ["security", "kubernetes"]},
    })
}

fn sarif_result(f: &Finding, exempted: Option<&Exempted>) -> Value {
    let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
    let mut fqn = format!("{}/{}", f.kind, f.namespace.as_deref().unwrap_or("-"));
    let _ = write!(fqn, "/{}", f.name.as_deref().unwrap_or("-"));
    if let Some(c) = &f.container {
        let _ = write!(fqn, "/{c}");
    }
    let mut message = format!("{}: {}", object_label(f), f.message);
    if let Some(p) = &f.exemption_problem {
        let _ = write!(message, " (exemption not honoured: {p})");
    }
    let mut result = json!({
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": f.severity.as_str(),
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri(&f.file)},
                "region": {"startLine": f.line.max(1)},
            },
            "logicalLocations": [{"fullyQualifiedName": fqn, "kind": "object"}],
        }],
        "partialFingerprints": {"homelabObject/v1": format!("{}|{}|{fqn}", f.rule, f.file)},
        "properties": {"document": f.document},
    });
    if let Some(e) = exempted {
        result["suppressions"] = json!([{"kind": "inSource", "justification": e.reason}]);
    }
    result
}

/// SARIF 2.1.0: one run, every rule in `tool.driver.rules` (with `helpUri` =
/// `docs_base` + `<ID>.md`), one result per finding; exempted findings are results with an
/// `inSource` suppression carrying the reason.
pub fn sarif(report: &Report, docs_base: &str, tool_version: &str) -> Value {
    let mut results: Vec<Value> = report.findings.iter().map(|f| sarif_result(f, None)).collect();
    results.extend(report.exempted.iter().map(|e| sarif_result(&e.finding, Some(e))));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "homelab-policy",
                "version": tool_version,
                "rules": RULES.iter().map(|r| sarif_rule(r, docs_base)).collect::<Vec<_>>(),
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    })
}
