//! `cargo xtask <task>`: the project's developer flows, in Rust so they run the same on
//! every machine.
//!
//! - `ci`: dependency firewall, deploy manifests, fmt check, clippy `-D warnings`, docs (`-D warnings`),
//!   doctests, then all tests with nextest. This is the README's test command and what
//!   `.ci/run` calls.
//! - `firewall`: only the dependency firewall.
//! - `manifests`: check the deploy/ manifests (also part of `ci`).
//! - `bench`: the criterion benchmarks (see BENCHMARKS.md); `bench policy`: `homelab
//!   policy check` against Checkov on a generated 10,000-object corpus (installs Checkov
//!   from PyPI into `target/bench/`; never part of `ci`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench_policy;
mod manifests;

/// Crates that mean I/O or an async runtime; none may appear in homelab-core's normal
/// dependency tree. Matched as the crate name or its `name-` prefix (`tokio-util`).
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "kube",
    "tonic",
    "hyper",
    "reqwest",
    "sqlx",
    "vaultrs",
    "russh",
    "mio",
    "async-std",
    "h2",
    "rustls",
    "openssl",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("firewall") => firewall(),
        Some("manifests") => manifests::check(&workspace_root()),
        Some("bench") if args.get(1).map(String::as_str) == Some("policy") => bench_policy::run(&root, &args[2..]),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | firewall | manifests | bench [criterion args] | bench policy [--objects N] [--runs N] [--checkov-runs N]>"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn ci() -> Result<()> {
    firewall()?;
    manifests::check(&workspace_root())?;
    step("fmt", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "doc",
        cargo(&["doc", "--workspace", "--no-deps", "--all-features", "--locked"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    step(
        "doctests",
        &mut cargo(&["test", "--doc", "--workspace", "--all-features", "--locked"]),
    )?;
    let mut tests = if has_nextest() {
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--locked",
            "--no-fail-fast",
        ])
    } else {
        eprintln!("xtask: cargo-nextest not found, falling back to cargo test");
        cargo(&["test", "--workspace", "--all-features", "--locked", "--no-fail-fast"])
    };
    step("tests", &mut tests)?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}

/// Fails if homelab-core's normal (non-dev, non-build) dependency tree has an I/O crate.
fn firewall() -> Result<()> {
    let out = Command::new(cargo_bin())
        .args([
            "tree",
            "-p",
            "homelab-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--locked",
        ])
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let offenders = forbidden_crates(&tree);
    if !offenders.is_empty() {
        bail!(
            "dependency firewall: homelab-core must stay pure, but its dependency tree contains {}",
            offenders.join(", ")
        );
    }
    eprintln!(
        "xtask: firewall ok (homelab-core has no I/O crates among {} dependencies)",
        tree.lines().count()
    );
    Ok(())
}

fn forbidden_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            FORBIDDEN_IN_CORE
                .iter()
                .any(|f| *name == *f || name.strip_prefix(f).is_some_and(|rest| rest.starts_with('-')))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["bench", "-p", "homelab-benches"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    step("bench", &mut cargo(&args))
}

fn has_nextest() -> bool {
    Command::new(cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(cargo_bin());
    c.args(args);
    c
}

fn step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: == {name} ==");
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_matches_names_and_families() {
        let tree =
            "homelab-core v0.1.0 (/x)\nregex v1.13.1\ntokio-util v0.7.0\nhyper v1.0.0\nkubernetes-fake v1\nh2 v0.4\n";
        assert_eq!(forbidden_crates(tree), vec!["h2", "hyper", "tokio-util"]);
        assert!(forbidden_crates("serde v1\nserde_json v1\n").is_empty());
    }
}
