//! Helpers for running the built `homelab` binary in a clean environment.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(name: &str) -> String {
    root().join("examples").join(name).display().to_string()
}

/// A `homelab` command with no ambient configuration: HOME is a fresh temp dir and the
/// variables the CLI reads are removed, so a developer's kubeconfig can never leak in.
pub fn homelab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_homelab"));
    c.env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("PROM")
        .env_remove("HOMELAB_MATRIX")
        .env_remove("HOMELAB_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("RUST_LOG")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .env_remove("TERM")
        .env_remove("TERM_PROGRAM")
        .stdin(Stdio::null());
    c
}

/// `homelab upgrade gate --target T` on the bundled example matrix and snapshot.
pub fn example_gate(home: &Path, target: &str, extra: &[&str]) -> Command {
    let mut c = homelab(home);
    c.args([
        "upgrade",
        "gate",
        "--target",
        target,
        "--matrix",
        &example("addon-compat.json"),
    ])
    .args(["--snapshot", &example("cluster-snapshot.json")])
    .args(extra);
    c
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: Command) -> Run {
    to_run(c.output().expect("run homelab"))
}

pub fn run_with_stdin(mut c: Command, input: &str) -> Run {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn homelab");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    to_run(child.wait_with_output().expect("wait"))
}

fn to_run(o: Output) -> Run {
    let r = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "homelab panicked:\n{}", r.stderr);
    assert!(
        !r.stderr.contains("RUST_BACKTRACE"),
        "homelab printed a backtrace hint:\n{}",
        r.stderr
    );
    r
}

/// Asserts a failure was reported as exactly one `homelab: error:` line.
pub fn assert_one_error_line(r: &Run) {
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{}", r.stderr);
    assert!(lines[0].starts_with("homelab: error: "), "{}", lines[0]);
}

/// [`run`] (or [`run_with_stdin`]) off the async runtime (the fakes live on it), bounded
/// by 60 s.
pub async fn run_async(c: Command, stdin: Option<String>) -> Run {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || match stdin {
            Some(s) => run_with_stdin(c, &s),
            None => run(c),
        }),
    )
    .await
    .expect("homelab finished within 60 s")
    .expect("join")
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
