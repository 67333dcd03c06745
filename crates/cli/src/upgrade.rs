//! `homelab upgrade gate | snapshot | apis`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use homelab_cli::config::Config;
use homelab_cli::ctx::{Ctx, FileMode, write_atomic, write_stdout};
use homelab_cli::exit::{self, upgrade::GATE_ERROR};
use homelab_cli::fail::Failure;
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, Decision, evaluate};
use homelab_core::version::KubeVersion;
use homelab_inputs::{MANIFEST_EXTS, expand, is_stdin, load_matrix, load_snapshot, scan_removed_apis};
use homelab_k8s::{K8sError, KubeconfigOptions, PrometheusClient};

use crate::args::{ApisArgs, ClusterArgs, GateArgs, SnapshotArgs};

pub fn gate(ctx: &Ctx, a: GateArgs) -> Result<u8, Failure> {
    let json = a.json;
    match decide(ctx, a) {
        Ok((decision, explain)) => {
            let text = if json {
                let mut s = serde_json::to_string_pretty(&decision.to_json()).unwrap_or_default();
                s.push('\n');
                s
            } else if explain {
                decision.explain()
            } else {
                decision.report()
            };
            // A closed stdout (e.g. `| head`) must not turn a verdict into a panic.
            let _ = write_stdout(&text);
            if !json {
                eprintln!("{}", decision.summary());
            }
            Ok(decision.exit_code() as u8)
        }
        Err(f) => {
            if json {
                let doc = serde_json::json!({
                    "verdict": "error",
                    "exit_code": f.code,
                    "error": format!("{:#}", f.error),
                    "reasons": [],
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            Err(f)
        }
    }
}

fn gate_error(e: anyhow::Error) -> Failure {
    Failure::new(GATE_ERROR, e)
}

fn decide(ctx: &Ctx, a: GateArgs) -> Result<(Decision, bool), Failure> {
    let target = KubeVersion::parse_target(&a.target).map_err(|e| gate_error(anyhow!("--target: {e}")))?;
    let config = ctx.config(GATE_ERROR)?;
    let matrix_path = matrix_path(a.matrix, config);
    if let Some(s) = &a.snapshot
        && is_stdin(s)
        && is_stdin(&matrix_path)
    {
        return Err(gate_error(anyhow!("--matrix and --snapshot cannot both read stdin")));
    }
    let matrix = load_matrix(&matrix_path).map_err(|e| gate_error(e.into()))?;
    let snapshot = match &a.snapshot {
        Some(path) => load_snapshot(path).map_err(|e| gate_error(e.into()))?,
        None => collect_live(ctx, &matrix, &a.cluster, config)?,
    };
    let decision = evaluate(target, &matrix, &snapshot).map_err(|e| gate_error(e.into()))?;
    Ok((decision, a.explain))
}

pub fn snapshot(ctx: &Ctx, a: SnapshotArgs) -> Result<u8, Failure> {
    let config = ctx.config(GATE_ERROR)?;
    let matrix = load_matrix(&matrix_path(a.matrix, config)).map_err(|e| gate_error(e.into()))?;
    let snap = collect_live(ctx, &matrix, &a.cluster, config)?;
    let mut text = snap.to_json_pretty();
    text.push('\n');
    match a.output {
        // A snapshot is not a secret: the file gets the umask's permissions.
        Some(path) => write_atomic(&path, text.as_bytes(), FileMode::Default).map_err(gate_error)?,
        None => {
            let _ = write_stdout(&text);
        }
    }
    if let Some(err) = &snap.deprecated_api_error {
        eprintln!(
            "homelab: warning: deprecated API usage unknown ({err}); the gate will refuse minor upgrades from this snapshot"
        );
    }
    Ok(0)
}

/// The matrix path: flag, then `$HOMELAB_MATRIX`, then config, then `./addon-compat.json`.
fn matrix_path(flag: Option<PathBuf>, config: &Config) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("HOMELAB_MATRIX")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .or_else(|| config.upgrade.matrix.clone())
    .unwrap_or_else(|| PathBuf::from("addon-compat.json"))
}

fn collect_live(
    ctx: &Ctx,
    matrix: &CompatMatrix,
    c: &ClusterArgs,
    config: &Config,
) -> Result<ClusterSnapshot, Failure> {
    let prometheus_url = c
        .prometheus
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| config.upgrade.prometheus.clone());
    let prometheus = prometheus_url
        .as_deref()
        .map(PrometheusClient::new)
        .transpose()
        .context("--prometheus")
        .map_err(gate_error)?;
    let opts = KubeconfigOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
    };
    let timeout = Duration::from_secs(c.timeout);
    ctx.block_on(
        GATE_ERROR,
        homelab_k8s::collect_snapshot(&opts, matrix, prometheus.as_ref(), timeout),
    )?
    .map_err(|e| match e {
        K8sError::Deadline { limit } => anyhow!(
            "the Kubernetes API did not answer within {}s (--timeout)",
            limit.as_secs()
        ),
        e => e.into(),
    })
    .map_err(gate_error)
}

/// `upgrade apis`: exit 0 clean, 1 removed APIs found, 2 error (an error wins).
pub fn apis(a: ApisArgs) -> Result<u8, Failure> {
    let target =
        KubeVersion::parse_target(&a.target).map_err(|e| Failure::new(exit::apis::ERROR, anyhow!("--target: {e}")))?;
    let (files, mut errors) = expand(&a.paths, MANIFEST_EXTS);
    let scan = scan_removed_apis(&files, target.minor());
    errors.extend(scan.errors);
    let (findings, skipped) = (scan.findings, scan.skipped);
    let code = if !errors.is_empty() {
        exit::apis::ERROR
    } else if !findings.is_empty() {
        exit::apis::FOUND
    } else {
        exit::apis::CLEAN
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let doc = serde_json::json!({
            "target": target.to_string(),
            "exit_code": code,
            "files_scanned": files.len(),
            "findings": findings,
            "errors": errors,
            "skipped": skipped,
        });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for f in &findings {
            let _ = writeln!(out, "{}", f.line_text());
        }
        for s in &skipped {
            eprintln!("homelab: warning: {s}");
        }
        for e in &errors {
            eprintln!("homelab: error: {e}");
        }
        eprintln!(
            "{} object(s) using APIs removed by {target} in {} file(s) scanned",
            findings.len(),
            files.len()
        );
    }
    Ok(code)
}
