//! `homelab policy check`: read manifests, run `homelab_core::policy`, print the report in
//! the chosen format. The exit code comes from the report (0/1) or from an input error (2)
//! and never from the format.

use anyhow::anyhow;
use homelab_cli::config::PolicyConfig;
use homelab_cli::ctx::{Ctx, unix_now};
use homelab_cli::exit::policy::ERROR;
use homelab_cli::fail::Failure;
use homelab_core::policy::{self, Date, Options, Profile, Source, TrustedRegistry, render};
use homelab_inputs::{MANIFEST_EXTS, Manifest, expand, read_manifests};

use crate::args::{PolicyCheckArgs, PolicyFormat, PolicyProfile};

/// Where SARIF `helpUri`s point: the rule pages in the project's repository.
const DOCS_BASE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/policy/");

fn error(e: impl Into<anyhow::Error>) -> Failure {
    Failure::new(ERROR, e)
}

pub fn check(ctx: &Ctx, a: PolicyCheckArgs) -> Result<u8, Failure> {
    let config = ctx.config(ERROR)?;
    let options = options(&a, &config.policy)?;
    let (files, mut errors) = expand(&a.paths, MANIFEST_EXTS);
    let mut parsed = Vec::with_capacity(files.len());
    for m in read_manifests(&files) {
        match m {
            Manifest::Parsed { name, documents } => parsed.push((name, documents)),
            Manifest::Unreadable(e) => errors.push(e),
            Manifest::Invalid { name, error, .. } => errors.push(format!(
                "{name}:{}: document {}: invalid YAML/JSON: {}",
                error.line,
                error.index,
                error.message.trim_start_matches("error: ")
            )),
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
    homelab_cli::ctx::write_stdout(&out).map_err(|e| error(anyhow!("cannot write the report: {e}")))?;
    Ok(report.exit_code())
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn options(a: &PolicyCheckArgs, config: &PolicyConfig) -> Result<Options, Failure> {
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
        None => Some(Date::from_unix_seconds(unix_now().map_err(error)?)),
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
