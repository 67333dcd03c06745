//! `cargo xtask manifests`: checks the deploy/ manifests against the rules the platform
//! enforces and the contracts the binaries rely on.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use homelab_core::manifest::{Document, parse_documents, type_meta};
use homelab_core::policy::{self, Options, Profile, Source};
use homelab_core::upgrade::apis::scan;
use homelab_core::upgrade::removed_apis;
use homelab_core::version::Minor;
use serde_json::Value;

pub fn check(root: &Path) -> Result<()> {
    let dir = root.join("deploy");
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    homelab_inputs::collect_files(&dir, &["yaml", "yml"], &mut found, &mut errors);
    if let Some(e) = errors.first() {
        bail!("{e}");
    }
    let mut files: Vec<PathBuf> = found.into_iter().map(|(f, _)| f).collect();
    files.sort();
    let target = Minor::parse(&removed_apis::table().covers_through).context("removed-API table")?;
    let mut problems = Vec::new();
    let mut objects = 0;
    let mut parsed: Vec<(String, Vec<Document>)> = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {rel}"))?;
        let docs = match parse_documents(&text) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{rel}: {e}"));
                continue;
            }
        };
        for finding in scan(&rel, &docs, target) {
            problems.push(finding.line_text());
        }
        for d in &docs {
            objects += 1;
            check_object(&rel, d, &mut problems);
        }
        parsed.push((rel, docs));
    }
    // What we ship passes our own policy engine (default profile: the image tags are
    // kustomize placeholders, so the prod digest rule does not apply here).
    let sources: Vec<Source<'_>> = parsed
        .iter()
        .map(|(file, documents)| Source { file, documents })
        .collect();
    let options = Options {
        profile: Profile::Default,
        trusted_registries: Vec::new(),
        today: None,
    };
    let report = policy::check(&sources, &options).context("policy check of deploy/")?;
    for f in &report.findings {
        problems.push(format!("{}:{}: {} {}", f.file, f.line, f.rule, f.message));
    }
    if !problems.is_empty() {
        bail!("{} problem(s) in deploy/:\n  {}", problems.len(), problems.join("\n  "));
    }
    eprintln!("xtask: manifests ok ({} files, {objects} objects)", files.len());
    Ok(())
}

fn check_object(file: &str, d: &Document, problems: &mut Vec<String>) {
    let at = format!("{file}:{}", d.line);
    let Some((api_version, kind)) = type_meta(&d.value) else {
        problems.push(format!("{at}: missing apiVersion or kind"));
        return;
    };
    if kind == "Kustomization" {
        return;
    }
    let name = d.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        problems.push(format!("{at}: {kind} has no metadata.name"));
    }
    let mut p = |msg: String| problems.push(format!("{at}: {kind} {name}: {msg}"));
    let pod_spec = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => d.value.pointer("/spec/template/spec"),
        "CronJob" => d.value.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    };
    if let Some(spec) = pod_spec {
        if spec.pointer("/securityContext/runAsNonRoot") != Some(&Value::Bool(true)) {
            p("pod securityContext.runAsNonRoot must be true".into());
        }
        for c in spec.get("containers").and_then(Value::as_array).into_iter().flatten() {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let tag = image.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/'));
            if matches!(tag, None | Some("latest")) && !image.contains("@sha256:") {
                p(format!(
                    "container {cname}: image {image:?} must be pinned to a version or digest"
                ));
            }
            for k in [
                "/resources/requests/cpu",
                "/resources/requests/memory",
                "/resources/limits/cpu",
                "/resources/limits/memory",
            ] {
                if c.pointer(k).is_none() {
                    p(format!("container {cname}: missing {}", &k[1..].replace('/', ".")));
                }
            }
            if c.pointer("/securityContext/allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
                p(format!(
                    "container {cname}: securityContext.allowPrivilegeEscalation must be false"
                ));
            }
            if c.pointer("/securityContext/privileged") == Some(&Value::Bool(true)) {
                p(format!("container {cname}: must not be privileged"));
            }
            if kind == "Deployment" {
                if c.pointer("/livenessProbe/httpGet/path").and_then(Value::as_str) != Some("/healthz") {
                    p(format!("container {cname}: livenessProbe must GET /healthz"));
                }
                if c.pointer("/readinessProbe/httpGet/path").and_then(Value::as_str) != Some("/readyz") {
                    p(format!("container {cname}: readinessProbe must GET /readyz"));
                }
            }
        }
    }
    // Contracts of the binaries and the platform (docs/contracts/flow-trail.md, deploy/README.md).
    let reloader = d
        .value
        .pointer("/metadata/annotations/secret.reloader.stakater.com~1reload");
    let digest_args = d
        .value
        .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args");
    match (kind, name) {
        ("Deployment", "goldmane-edge-aggregator") if reloader.is_none() => {
            p("needs the Reloader annotation for rotated DB credentials".into());
        }
        ("CronJob", "goldmane-edges-digest") if digest_args != Some(&serde_json::json!(["digest"])) => {
            p("must run args [\"digest\"] (drop-in for the original image)".into());
        }
        _ => {}
    }
    if matches!(kind, "Role" | "ClusterRole") {
        if kind == "ClusterRole" {
            p("cluster-wide roles are not allowed here".into());
        }
        for rule in d.value.get("rules").and_then(Value::as_array).into_iter().flatten() {
            for field in ["verbs", "resources", "apiGroups"] {
                let wild = rule
                    .get(field)
                    .and_then(Value::as_array)
                    .is_some_and(|v| v.iter().any(|x| x == "*"));
                if wild {
                    p(format!("rule with {field}: [\"*\"] is not least privilege"));
                }
            }
        }
    }
    let _ = api_version;
}
