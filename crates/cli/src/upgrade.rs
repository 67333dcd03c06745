//! `homelab upgrade gate | snapshot | apis`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use homelab_core::manifest::parse_documents;
use homelab_core::upgrade::apis::{ApiFinding, scan};
use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, evaluate};
use homelab_core::version::KubeVersion;
use homelab_k8s::{ApiClient, KubeconfigOptions, PrometheusClient};

use crate::args::{ApisArgs, ClusterArgs, GateArgs, SnapshotArgs};
use crate::inputs;
use homelab_cli::config::{self, Config};
use homelab_cli::fail::Failure;

/// The gate failed to decide: exit 3 (the chain treats it as a fail-safe block).
const GATE_ERROR: u8 = 3;

pub fn gate(a: GateArgs) -> Result<u8, Failure> {
    let json = a.json;
    match decide(a) {
        Ok((decision, explain)) => {
            let mut out = std::io::stdout().lock();
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
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
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

fn decide(a: GateArgs) -> Result<(homelab_core::upgrade::Decision, bool), Failure> {
    let fail = |e: anyhow::Error| Failure::new(GATE_ERROR, e);
    let target = KubeVersion::parse_target(&a.target).map_err(|e| fail(anyhow!("--target: {e}")))?;
    let config = config::load().map_err(fail)?;
    let matrix_path = inputs::matrix_path(a.matrix, &config);
    if let Some(s) = &a.snapshot
        && inputs::is_stdin(s)
        && inputs::is_stdin(&matrix_path)
    {
        return Err(fail(anyhow!("--matrix and --snapshot cannot both read stdin")));
    }
    let matrix = inputs::load_matrix(&matrix_path).map_err(fail)?;
    let snapshot = match &a.snapshot {
        Some(path) => inputs::load_snapshot(path).map_err(fail)?,
        None => collect_live(&matrix, &a.cluster, &config).map_err(fail)?,
    };
    let decision = evaluate(target, &matrix, &snapshot).map_err(|e| fail(e.into()))?;
    Ok((decision, a.explain))
}

pub fn snapshot(a: SnapshotArgs) -> Result<u8, Failure> {
    let fail = |e: anyhow::Error| Failure::new(GATE_ERROR, e);
    let config = config::load().map_err(fail)?;
    let matrix = inputs::load_matrix(&inputs::matrix_path(a.matrix, &config)).map_err(fail)?;
    let snap = collect_live(&matrix, &a.cluster, &config).map_err(fail)?;
    let mut text = snap.to_json_pretty();
    text.push('\n');
    match a.output {
        Some(path) => write_atomically(&path, text.as_bytes()).map_err(fail)?,
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    if let Some(err) = &snap.deprecated_api_error {
        eprintln!(
            "homelab: warning: deprecated API usage unknown ({err}); the gate will refuse minor upgrades from this snapshot"
        );
    }
    Ok(0)
}

fn collect_live(matrix: &CompatMatrix, c: &ClusterArgs, config: &Config) -> anyhow::Result<ClusterSnapshot> {
    let prometheus_url = c
        .prometheus
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| config.upgrade.prometheus.clone());
    let prometheus = prometheus_url
        .as_deref()
        .map(PrometheusClient::new)
        .transpose()
        .context("--prometheus")?;
    let opts = KubeconfigOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
    };
    let timeout = Duration::from_secs(c.timeout);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let work = async {
            let connection = homelab_k8s::connect_with_details(&opts).await?;
            tracing::info!(api = %connection.api_url, source = %connection.source, "reading the live cluster");
            ApiClient::from_connection(&connection)
                .collect(matrix, prometheus.as_ref())
                .await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(_) => Err(anyhow!(
                "the Kubernetes API did not answer within {}s (--timeout)",
                timeout.as_secs()
            )),
        }
    })
}

/// Writes to a temporary file beside `path`, then renames: readers never see half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

/// `upgrade apis`: exit 0 clean, 1 removed APIs found, 2 error (an error wins).
pub fn apis(a: ApisArgs) -> Result<u8, Failure> {
    let target = KubeVersion::parse_target(&a.target).map_err(|e| Failure::new(2, anyhow!("--target: {e}")))?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in &a.paths {
        if inputs::is_stdin(p) {
            files.push(p.clone());
        } else {
            let mut found = Vec::new();
            inputs::collect_files(p, inputs::MANIFEST_EXTS, &mut found, &mut errors);
            files.extend(found.into_iter().map(|(f, _)| f));
        }
    }
    let mut findings: Vec<ApiFinding> = Vec::new();
    let mut skipped = Vec::new();
    for f in &files {
        let name = inputs::display(f);
        let text = match inputs::read_text(f, "manifest") {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{e:#}"));
                continue;
            }
        };
        match parse_documents(&text) {
            Ok(docs) => findings.extend(scan(&name, &docs, target.minor())),
            Err(_) if text.contains("{{") => {
                skipped.push(format!("{name}: looks like a template ({{{{ … }}}}), not scanned"))
            }
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    let code = if !errors.is_empty() {
        2
    } else if !findings.is_empty() {
        1
    } else {
        0
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
