//! Data-driven gate tests: every `fixtures/gate/*.json` case names a target, a matrix
//! (inline or a file relative to the workspace root), a snapshot, and the exact stdout
//! and exit code the gate must produce. `UPDATE_FIXTURES=1` rewrites the expectations
//! (review the diff before committing: the fixtures are the spec).

use std::path::{Path, PathBuf};

use homelab_core::upgrade::{ClusterSnapshot, CompatMatrix, evaluate};
use homelab_core::version::KubeVersion;
use homelab_testkit::fixtures;
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let matrix_text = match case.get("matrix_file").and_then(Value::as_str) {
        Some(f) => std::fs::read_to_string(workspace_root().join(f)).map_err(|e| format!("{f}: {e}"))?,
        None => case["matrix"].to_string(),
    };
    let matrix = CompatMatrix::from_json(&matrix_text).map_err(|e| format!("matrix: {e}"))?;
    let snapshot = ClusterSnapshot::from_json(&case["snapshot"].to_string()).map_err(|e| format!("snapshot: {e}"))?;
    let target = KubeVersion::parse_target(case["target"].as_str().ok_or("target")?).map_err(|e| e.to_string())?;
    let decision = evaluate(target, &matrix, &snapshot).map_err(|e| format!("gate error: {e}"))?;
    let stdout: Vec<String> = decision.report().lines().map(str::to_owned).collect();

    if fixtures::updating() {
        case["expect"]["stdout"] = serde_json::json!(stdout);
        case["expect"]["exit_code"] = serde_json::json!(decision.exit_code());
        return fixtures::write_json(path, &case);
    }
    let want_exit = case["expect"]["exit_code"].as_i64().ok_or("expect.exit_code missing")?;
    let want_stdout: Vec<String> = serde_json::from_value(case["expect"]["stdout"].clone())
        .map_err(|_| "expect.stdout missing: run with UPDATE_FIXTURES=1 and review".to_string())?;
    if i64::from(decision.exit_code()) != want_exit {
        return Err(format!(
            "exit code {} != expected {want_exit}\n{}",
            decision.exit_code(),
            decision.report()
        ));
    }
    if stdout != want_stdout {
        return Err(format!(
            "stdout differs\n--- expected\n{}\n--- actual\n{}",
            want_stdout.join("\n"),
            stdout.join("\n")
        ));
    }
    Ok(())
}

#[test]
fn gate_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gate");
    fixtures::run_all(&dir, "json", 20, run_case);
}
