//! `cargo xtask bench policy`: `homelab policy check` (release build) against Checkov on
//! the same generated corpus, wall-clock medians side by side, and per-rule agreement on
//! the rules both tools implement. Checkov is installed from PyPI into a venv under
//! `target/bench/` by this task (CI never runs it).
//!
//! Options: `--objects N` (default 10000), `--runs N` (ours, default 10),
//! `--checkov-runs N` (default 3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

#[path = "../../benches/src/policy_corpus.rs"]
mod policy_corpus;

/// The Checkov release the figures in BENCHMARKS.md were taken with.
const CHECKOV_VERSION: &str = "3.3.30";

/// Our rule ↔ the Checkov checks covering the same thing (IDs verified against Checkov's
/// source, `checkov/kubernetes/checks/resource/k8s/*.py`). Object-level: an object fails
/// a row when any of its containers fails any listed check.
const MAPPING: &[(&str, &[&str])] = &[
    ("HL-IMG-001", &["CKV_K8S_14"]),
    ("HL-IMG-002", &["CKV_K8S_43"]),
    ("HL-POD-001", &["CKV_K8S_23"]),
    ("HL-RES-001", &["CKV_K8S_10", "CKV_K8S_12"]),
    ("HL-RES-002", &["CKV_K8S_13"]),
    ("HL-SEC-001", &["CKV_K8S_16"]),
    ("HL-SEC-002", &["CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"]),
    ("HL-SEC-003", &["CKV_K8S_39"]),
];

const WORKLOAD_KINDS: [&str; 6] = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"];

fn flag(args: &[String], name: &str, default: usize) -> Result<usize> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .with_context(|| format!("{name} needs a positive number")),
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let objects = flag(args, "--objects", 10_000)?;
    let runs = flag(args, "--runs", 10)?;
    let checkov_runs = flag(args, "--checkov-runs", 3)?;
    let bench_dir = root.join("target/bench");
    let corpus_dir = bench_dir.join("policy-corpus");
    if corpus_dir.exists() {
        std::fs::remove_dir_all(&corpus_dir).context("clearing the old corpus")?;
    }
    std::fs::create_dir_all(&corpus_dir)?;
    let corpus = policy_corpus::generate(objects, 100);
    for (name, text) in &corpus.files {
        std::fs::write(corpus_dir.join(name), text)?;
    }
    eprintln!(
        "xtask: corpus: {} objects in {} files under {}",
        corpus.objects,
        corpus.files.len(),
        corpus_dir.display()
    );

    crate::step(
        "build homelab (release)",
        &mut crate::cargo(&["build", "--release", "-p", "homelab-cli", "--bin", "homelab"]),
    )?;
    let homelab = root.join("target/release/homelab");
    let checkov = install_checkov(&bench_dir)?;

    let corpus_arg = corpus_dir.display().to_string();
    let ours_args: Vec<String> = [
        "policy",
        "check",
        "--format",
        "json",
        "--profile",
        "prod",
        "--trusted-registry",
        "ghcr.io/org",
        "--today",
        "2026-11-22",
        &corpus_arg,
    ]
    .map(str::to_owned)
    .to_vec();
    let checks: Vec<&str> = MAPPING.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let checks = checks.join(",");
    let checkov_args: Vec<String> = [
        "-d",
        &corpus_arg,
        "--framework",
        "kubernetes",
        "--check",
        &checks,
        "-o",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
    ]
    .map(str::to_owned)
    .to_vec();

    let (ours_out, ours_times) = time_runs(&homelab, &ours_args, runs, &[0, 1])?;
    eprintln!("xtask: homelab policy check: {}", describe(&ours_times));
    let (ck_out, ck_times) = time_runs(&checkov, &checkov_args, checkov_runs, &[0, 1])?;
    eprintln!("xtask: checkov: {}", describe(&ck_times));

    let agreement = agreement(&ours_out, &ck_out)?;
    let ours_med = median(&ours_times);
    let ck_med = median(&ck_times);
    println!("## policy check vs Checkov {CHECKOV_VERSION}");
    println!("corpus: {} objects, {} files", corpus.objects, corpus.files.len());
    println!("homelab policy check (release, all 11 rules, --profile prod): median {ours_med:.3?} over {runs} run(s)");
    println!(
        "checkov --framework kubernetes --check <{} mapped checks>: median {ck_med:.3?} over {checkov_runs} run(s)",
        MAPPING.iter().map(|(_, c)| c.len()).sum::<usize>()
    );
    println!(
        "speed-up (median): {:.0}x",
        ck_med.as_secs_f64() / ours_med.as_secs_f64()
    );
    println!();
    println!("| our rule | Checkov | objects | both fail | only ours | only Checkov | agree |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for row in &agreement {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2}% |",
            row.rule,
            row.checks,
            row.objects,
            row.both,
            row.only_ours,
            row.only_checkov,
            100.0 * (row.objects - row.only_ours - row.only_checkov) as f64 / row.objects.max(1) as f64
        );
    }
    Ok(())
}

fn install_checkov(bench_dir: &Path) -> Result<PathBuf> {
    let venv = bench_dir.join("checkov-venv");
    let checkov = venv.join("bin/checkov");
    let installed = Command::new(&checkov)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed.as_deref() == Some(CHECKOV_VERSION) {
        return Ok(checkov);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    crate::step(
        "python venv for checkov",
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
    )?;
    crate::step(
        "pip install checkov",
        Command::new(venv.join("bin/pip")).args(["install", "-q", &format!("checkov=={CHECKOV_VERSION}")]),
    )?;
    Ok(checkov)
}

/// Runs `program args` `n` times, returns the last stdout and each wall-clock time.
/// Fails on an exit code outside `ok_codes`.
fn time_runs(program: &Path, args: &[String], n: usize, ok_codes: &[i32]) -> Result<(String, Vec<Duration>)> {
    let mut times = Vec::with_capacity(n);
    let mut last = String::new();
    for i in 0..n {
        let start = Instant::now();
        let out = Command::new(program)
            .args(args)
            .env("BC_SKIP_MAPPING", "TRUE")
            .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        times.push(start.elapsed());
        let code = out.status.code().unwrap_or(-1);
        if !ok_codes.contains(&code) {
            bail!(
                "{} exited {code}: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            );
        }
        if i + 1 == n {
            last = String::from_utf8(out.stdout).context("output is not UTF-8")?;
        }
    }
    Ok((last, times))
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t[t.len() / 2]
}

fn describe(times: &[Duration]) -> String {
    let ms: Vec<String> = times
        .iter()
        .map(|t| format!("{:.0}ms", t.as_secs_f64() * 1e3))
        .collect();
    format!("median {:.3?} [{}]", median(times), ms.join(", "))
}

#[derive(Debug)]
struct Row {
    rule: &'static str,
    checks: String,
    objects: usize,
    both: usize,
    only_ours: usize,
    only_checkov: usize,
}

type Key = (String, String, String);

/// Per mapped rule: which workload objects each tool fails, compared object by object.
fn agreement(ours: &str, checkov: &str) -> Result<Vec<Row>> {
    let ours: Value = serde_json::from_str(ours).context("our JSON report")?;
    let mut our_fail: BTreeMap<&str, BTreeSet<Key>> = BTreeMap::new();
    for f in ours["findings"].as_array().context("findings")? {
        let key = (
            f["kind"].as_str().unwrap_or("").to_owned(),
            f["namespace"].as_str().unwrap_or("").to_owned(),
            f["name"].as_str().unwrap_or("").to_owned(),
        );
        our_fail
            .entry(f["rule"].as_str().unwrap_or(""))
            .or_default()
            .insert(key);
    }
    let ck: Value = serde_json::from_str(checkov).context("Checkov's JSON report")?;
    // One framework gives an object; several give a list of them.
    let reports: Vec<&Value> = match &ck {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut ck_fail: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    let mut ck_objects: BTreeSet<Key> = BTreeSet::new();
    for r in reports {
        for c in r["results"]["failed_checks"].as_array().into_iter().flatten() {
            // resource: "Kind.namespace.name" (container checks may append more).
            let res = c["resource"].as_str().unwrap_or("");
            let mut parts = res.splitn(3, '.');
            let key = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").split('.').next().unwrap_or("").to_owned(),
            );
            ck_objects.insert(key.clone());
            ck_fail
                .entry(c["check_id"].as_str().unwrap_or("").to_owned())
                .or_default()
                .insert(key);
        }
    }
    let workloads = ours["summary"]["workloads"].as_u64().unwrap_or(0) as usize;
    if ck_objects.is_empty() {
        bail!("Checkov reported no failed check at all: its output format may have changed");
    }
    let mut rows = Vec::new();
    for (rule, checks) in MAPPING {
        let o: BTreeSet<Key> = our_fail
            .get(rule)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|k| WORKLOAD_KINDS.contains(&k.0.as_str()))
            .collect();
        let c: BTreeSet<Key> = checks
            .iter()
            .flat_map(|id| ck_fail.get(*id).cloned().unwrap_or_default())
            .collect();
        rows.push(Row {
            rule,
            checks: checks.join("+"),
            objects: workloads,
            both: o.intersection(&c).count(),
            only_ours: o.difference(&c).count(),
            only_checkov: c.difference(&o).count(),
        });
    }
    Ok(rows)
}
