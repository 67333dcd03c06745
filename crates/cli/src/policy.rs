//! `homelab policy check`: read manifests, run `homelab_core::policy`, print the report in
//! the chosen format. The exit code comes from the report (0/1) or from an input error (2)
//! and never from the format.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use homelab_cli::config;
use homelab_cli::fail::Failure;
use homelab_core::manifest::{Document, parse_documents};
use homelab_core::policy::{self, Date, Options, Profile, Source, TrustedRegistry, render};

use crate::args::{PolicyCheckArgs, PolicyFormat, PolicyProfile};
use crate::inputs;

/// Where SARIF `helpUri`s point: the rule pages in the project's repository.
const DOCS_BASE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/policy/");

fn error(e: impl Into<anyhow::Error>) -> Failure {
    Failure::new(2, e)
}

pub fn check(a: PolicyCheckArgs) -> Result<u8, Failure> {
    let config = config::load().map_err(error)?;
    let options = options(&a, &config.policy)?;
    let mut files: Vec<PathBuf> = Vec::new();
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
    let mut parsed: Vec<(String, Vec<Document>)> = Vec::with_capacity(files.len());
    for result in read_and_parse(&files) {
        match result {
            Ok(p) => parsed.push(p),
            Err(e) => errors.push(e),
        }
    }
    if let Some(first) = errors.first() {
        let more = match errors.len() {
            1 => String::new(),
            n => format!(" (and {} more error(s))", n - 1),
        };
        return Err(error(anyhow!("{first}{more}")));
    }
    let sources: Vec<Source<'_>> = parsed
        .iter()
        .map(|(file, documents)| Source { file, documents })
        .collect();
    let report = policy::check(&sources, &options).map_err(error)?;
    if report.objects == 0 {
        return Err(error(anyhow!(
            "no Kubernetes objects (documents with apiVersion and kind) in {} file(s): nothing was checked",
            files.len()
        )));
    }
    let out = match a.format {
        PolicyFormat::Text => render::text(&report),
        PolicyFormat::Json => pretty(&render::json(&report)),
        PolicyFormat::Sarif => {
            let docs = config.policy.docs_url.as_deref().unwrap_or(DOCS_BASE);
            let docs = if docs.ends_with('/') {
                docs.to_owned()
            } else {
                format!("{docs}/")
            };
            pretty(&render::sarif(&report, &docs, env!("CARGO_PKG_VERSION")))
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| error(anyhow!("cannot write the report: {e}")))?;
    Ok(report.exit_code())
}

/// Reads and parses the files, in input order. YAML parsing is most of a run's CPU time,
/// so the files are split across the available cores (scoped threads, no runtime).
fn read_and_parse(files: &[PathBuf]) -> Vec<Result<(String, Vec<Document>), String>> {
    fn one(f: &Path) -> Result<(String, Vec<Document>), String> {
        let name = inputs::display(f);
        let text = inputs::read_text(f, "manifest").map_err(|e| format!("{e:#}"))?;
        let docs = parse_documents(&text).map_err(|e| {
            format!(
                "{name}:{}: document {}: invalid YAML/JSON: {}",
                e.line,
                e.index,
                e.message.trim_start_matches("error: ")
            )
        })?;
        Ok((name, docs))
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len())
        .max(1);
    if threads == 1 {
        return files.iter().map(|f| one(f)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|f| one(f)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("internal error: a parser thread panicked".into())])
            })
            .collect()
    })
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn options(a: &PolicyCheckArgs, config: &config::PolicyConfig) -> Result<Options, Failure> {
    let entries = if a.trusted_registries.is_empty() {
        config.trusted_registries.clone()
    } else {
        a.trusted_registries.clone()
    };
    let trusted_registries = entries
        .iter()
        .map(|e| TrustedRegistry::parse(e).map_err(|m| error(anyhow!("trusted registry: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let today = match &a.today {
        Some(t) => Some(Date::parse(t).ok_or_else(|| error(anyhow!("--today {t:?} is not a YYYY-MM-DD date")))?),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| error(anyhow!("system clock before 1970: {e}")))?
                .as_secs();
            Some(Date::from_unix_days(
                i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2),
            ))
        }
    };
    Ok(Options {
        profile: match a.profile {
            PolicyProfile::Default => Profile::Default,
            PolicyProfile::Prod => Profile::Prod,
        },
        trusted_registries,
        today,
    })
}
