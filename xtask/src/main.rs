//! `cargo xtask <task>`: the project's developer flows, in Rust so they run the same on
//! every machine.
//!
//! - `ci`: dependency firewall, deploy manifests, fmt check, clippy `-D warnings`, docs (`-D warnings`),
//!   a build check of the fuzz targets, doctests, then all tests with nextest. This is the README's test command and what
//!   `.ci/run` calls.
//! - `firewall`: only the dependency checks: homelab-core has no I/O crate, and the shipped
//!   binaries' dependency tree has no test-only crate or feature.
//! - `manifests`: check the deploy/ manifests (also part of `ci`).
//! - `bench`: the criterion benchmarks (see BENCHMARKS.md); `bench policy`: `homelab
//!   policy check` against Checkov on a generated 10,000-object corpus (installs Checkov
//!   from PyPI into `target/bench/`; never part of `ci`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

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

/// The packages whose binaries ship (release archives, the container image).
const SHIPPED: &[&str] = &["homelab-cli"];

/// Crates that exist only for tests and benchmarks; none may be in a shipped binary.
const TEST_ONLY_CRATES: &[&str] = &["homelab-testkit", "proptest", "criterion", "jsonschema"];

/// Feature names that mean test support; none may be enabled on a crate of ours in a
/// shipped binary.
const TEST_ONLY_FEATURES: &[&str] = &["testing", "fake", "test-util", "test-support"];

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
    let started = Instant::now();
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
    // The fuzz targets are their own workspace (cargo-fuzz): check that they still build
    // against core's API, so they cannot rot between fuzzing sessions.
    step(
        "fuzz targets",
        &mut cargo(&["check", "--manifest-path", "fuzz/Cargo.toml", "--bins", "--locked"]),
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
    eprintln!("xtask ci: all steps passed in {} s", started.elapsed().as_secs());
    Ok(())
}

/// The dependency checks: homelab-core's normal (non-dev, non-build) dependency tree has
/// no I/O crate, and no shipped binary's tree (normal + build edges) has a test-only crate
/// or a test-only feature enabled on one of our crates.
fn firewall() -> Result<()> {
    let tree = cargo_tree("homelab-core", "normal", "{p}")?;
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
    for package in SHIPPED {
        let tree = cargo_tree(package, "normal,build", "{p} [{f}]")?;
        let offenders = test_only_in_shipped(&tree);
        if !offenders.is_empty() {
            bail!(
                "dependency firewall: {package} ships test code: {}",
                offenders.join(", ")
            );
        }
        eprintln!(
            "xtask: firewall ok ({package}: no test-only crate or feature among {} dependencies)",
            tree.lines().count()
        );
    }
    Ok(())
}

/// `cargo tree -p <package> -e <edges>` with one `format` line per package.
fn cargo_tree(package: &str, edges: &str, format: &str) -> Result<String> {
    let out = Command::new(cargo_bin())
        .current_dir(workspace_root())
        .args([
            "tree", "-p", package, "-e", edges, "--prefix", "none", "--format", format, "--locked",
        ])
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Matches a crate name or its `name-` family (`tokio-util` for `tokio`).
fn in_family(name: &str, families: &[&str]) -> bool {
    families
        .iter()
        .any(|f| name == *f || name.strip_prefix(f).is_some_and(|rest| rest.starts_with('-')))
}

fn forbidden_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| in_family(name, FORBIDDEN_IN_CORE))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Test-only crates, and test-only features on `homelab-*` crates, in a `{p} [{f}]` tree.
fn test_only_in_shipped(tree: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in tree.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if TEST_ONLY_CRATES.contains(&name) {
            found.push(name.to_owned());
            continue;
        }
        let features = line
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .map_or("", |(f, _)| f);
        if name.starts_with("homelab-") {
            for f in features
                .split(',')
                .map(str::trim)
                .filter(|f| TEST_ONLY_FEATURES.contains(f))
            {
                found.push(format!("{name} feature \"{f}\""));
            }
        }
    }
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
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    eprintln!("xtask: {name} took {} s", started.elapsed().as_secs());
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

    #[test]
    fn shipped_tree_check_names_test_crates_and_features() {
        let tree = "homelab-cli v0.1.0 (/x) []\nhomelab-flows v0.1.0 (/x) [testing]\n\
                    homelab-k8s v0.1.0 (/x) [default,fake]\nproptest v1.0.0 [std]\n\
                    homelab-testkit v0.1.0 (/x) []\ntokio v1 [fake,rt]\n";
        assert_eq!(
            test_only_in_shipped(tree),
            vec![
                "homelab-flows feature \"testing\"",
                "homelab-k8s feature \"fake\"",
                "homelab-testkit",
                "proptest",
            ]
        );
        assert!(test_only_in_shipped("homelab-cli v0.1.0 (/x) []\nhomelab-k8s v0.1.0 (/x) [default]\n").is_empty());
    }

    // The invariants themselves, as tests (rust-analyzer's tidy style): a plain
    // `cargo test`/`cargo nextest run` enforces them, not only `cargo xtask ci`.

    #[test]
    fn core_is_pure_and_shipped_binaries_carry_no_test_code() {
        if let Err(e) = firewall() {
            panic!("{e:#}");
        }
    }

    #[test]
    fn deploy_manifests_pass_their_checks() {
        if let Err(e) = manifests::check(&workspace_root()) {
            panic!("{e:#}");
        }
    }
}
