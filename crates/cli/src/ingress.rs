//! `homelab ingress render | lint`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use homelab_core::ingress::lint::{self, Violation};
use homelab_core::ingress::{IngressSpec, Rendered, render as render_spec};
use serde_json::Value;

use crate::args::{IngressLintArgs, IngressRenderArgs};
use crate::inputs;
use homelab_cli::config;
use homelab_cli::fail::Failure;

/// Bad input (spec, config, file): exit 2.
const BAD_INPUT: u8 = 2;

pub fn render(a: IngressRenderArgs) -> Result<u8, Failure> {
    let fail = |e: anyhow::Error| Failure::new(BAD_INPUT, e);
    let config = config::load().map_err(fail)?;
    let text = inputs::read_text(&a.spec, "spec").map_err(fail)?;
    let shown = inputs::display(&a.spec);
    let spec = IngressSpec::parse(&text)
        .map_err(|e| fail(anyhow!("invalid spec {shown}: {e}")))?
        .with_defaults(&config.ingress);
    let rendered = render_spec(&spec).map_err(|e| fail(anyhow!("invalid spec {shown}: {e}")))?;
    let out = if a.format == "json" {
        let mut s = serde_json::to_string_pretty(&rendered.to_json()).map_err(|e| fail(e.into()))?;
        s.push('\n');
        s
    } else {
        yaml_stream(&rendered).map_err(fail)?
    };
    // A closed stdout (e.g. `| head`) is not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(0)
}

/// The YAML stream for `kubectl apply -f -`: DNS intents are not Kubernetes objects, so
/// they lead as a comment block (kubectl ignores it; a reader sees it first).
fn yaml_stream(r: &Rendered) -> anyhow::Result<String> {
    let mut out = String::new();
    if r.dns_records.is_empty() {
        out.push_str("# DNS record intents: none\n");
    } else {
        out.push_str("# DNS record intents (not Kubernetes objects; create them with your DNS tooling):\n");
        for d in &r.dns_records {
            out.push_str(&format!(
                "#   {} {} ({}) -> {} proxied={} ttl={} zone={}\n",
                d.record_type, d.fqdn, d.name, d.content, d.proxied, d.ttl, d.zone_id
            ));
        }
    }
    for o in &r.objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).map_err(|e| anyhow!("rendering YAML: {e}"))?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

pub fn lint(a: IngressLintArgs) -> Result<u8, Failure> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in &a.paths {
        crate::inputs::collect_files(p, &["tf", "yaml", "yml", "json"], &mut files, &mut errors);
    }
    let mut found: Vec<(PathBuf, Violation)> = Vec::new();
    for (path, explicit) in &files {
        match lint_file(path, *explicit) {
            Ok(vs) => found.extend(vs.into_iter().map(|v| (path.clone(), v))),
            Err(e) => errors.push(e),
        }
    }
    let mut out = std::io::stdout().lock();
    for (path, v) in &found {
        let _ = writeln!(out, "{}:{}: {}", path.display(), v.line, v.message);
    }
    let _ = out.flush();
    for e in &errors {
        eprintln!("homelab: error: {e}");
    }
    eprintln!("{} violation(s) in {} file(s) checked", found.len(), files.len());
    Ok(if !errors.is_empty() {
        BAD_INPUT
    } else if found.is_empty() {
        0
    } else {
        1
    })
}

fn lint_file(path: &Path, explicit: bool) -> Result<Vec<Violation>, String> {
    let text = inputs::read_text(path, "file").map_err(|e| format!("{e:#}"))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "tf" {
        return Ok(lint::lint_hcl(&text));
    }
    let json = ext == "json";
    let parsed: Result<Value, String> = if json {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| e.to_string().lines().next().unwrap_or("").to_owned())
    };
    match parsed {
        Ok(v) => {
            if explicit && !lint::is_spec_document(&v) {
                tracing::info!("{}: not an ingress spec, nothing to check", path.display());
            }
            Ok(lint::lint_spec(&text, &v, json))
        }
        // A walked directory holds other YAML (multi-document manifests, Helm
        // templates): only files named explicitly must parse.
        Err(e) if explicit => Err(format!("cannot parse {}: {e}", path.display())),
        Err(_) => Ok(Vec::new()),
    }
}
