//! `homelab ingress render | lint`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use homelab_cli::ctx::{Ctx, write_stdout};
use homelab_cli::exit;
use homelab_cli::fail::Failure;
use homelab_core::ingress::lint::{self, Violation};
use homelab_core::ingress::{IngressSpec, render as render_spec, yaml_stream};
use homelab_inputs::{collect_files, display, read_text};

use crate::args::{IngressLintArgs, IngressRenderArgs};

/// The extensions `ingress lint` picks up in a directory.
const LINT_EXTS: &[&str] = &["tf", "yaml", "yml", "json"];

pub fn render(ctx: &Ctx, a: IngressRenderArgs) -> Result<u8, Failure> {
    let fail = |e: anyhow::Error| Failure::new(exit::ERROR, e);
    let config = ctx.config(exit::ERROR)?;
    let text = read_text(&a.spec, "spec").map_err(|e| fail(e.into()))?;
    let shown = display(&a.spec);
    let spec = IngressSpec::parse(&text)
        .map_err(|e| fail(anyhow!("invalid spec {shown}: {e}")))?
        .with_defaults(&config.ingress);
    let rendered = render_spec(&spec).map_err(|e| fail(anyhow!("invalid spec {shown}: {e}")))?;
    let out = if a.format == "json" {
        let mut s = serde_json::to_string_pretty(&rendered.to_json()).map_err(|e| fail(e.into()))?;
        s.push('\n');
        s
    } else {
        yaml_stream(&rendered).map_err(|e| fail(e.into()))?
    };
    // A closed stdout (e.g. `| head`) is not an error worth a panic.
    let _ = write_stdout(&out);
    Ok(0)
}

pub fn lint(a: IngressLintArgs) -> Result<u8, Failure> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in &a.paths {
        collect_files(p, LINT_EXTS, &mut files, &mut errors);
    }
    let mut found: Vec<(PathBuf, Violation)> = Vec::new();
    for (path, explicit) in &files {
        let linted = read_text(path, "file")
            .map_err(|e| e.to_string())
            .and_then(|text: String| {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                lint::lint_file(ext, &text, *explicit).map_err(|e| format!("cannot parse {}: {e}", path.display()))
            });
        match linted {
            Ok(l) => {
                if *explicit && l.not_a_spec {
                    tracing::info!("{}: not an ingress spec, nothing to check", path.display());
                }
                found.extend(l.violations.into_iter().map(|v| (path.clone(), v)));
            }
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
        exit::lint::ERROR
    } else if found.is_empty() {
        exit::lint::CLEAN
    } else {
        exit::lint::VIOLATIONS
    })
}
