//! `homelab upgrade gate` end to end on files: exit codes, output formats, bad input.

use crate::support::*;

const HELD_LINES: [&str; 4] = [
    "[ACTIONABLE] calico: running 3.30 (matrix row 3.30) supports k8s <= 1.35; upgrade calico to >= 3.32",
    "[WAITING] external-secrets: running 2.6 (matrix row 2.0) supports k8s <= 1.35; no released external-secrets version supports k8s 1.36 yet",
    "[WAITING] kyverno: running 1.18 (matrix row 1.18) supports k8s <= 1.35; no released kyverno version supports k8s 1.36 yet",
    "[PINNED] gpu-operator: running 25.10 (matrix row 25.10) supports k8s <= 1.35; gpu-operator is pinned: 26.3 needs a newer NVIDIA driver image and an Ubuntu/kernel upgrade we are not ready for",
];

fn gate(home: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut c = homelab(home);
    c.args(["upgrade", "gate"]).args(extra);
    c
}

#[test]
fn shipped_matrix_is_held_with_tagged_lines() {
    let home = tempfile::tempdir().unwrap();
    let r = run(example_gate(home.path(), "1.36", &[]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), HELD_LINES);
    assert!(
        r.stderr
            .starts_with("compat-gate HELD: 1.36 not yet upgradable (1 actionable, 2 waiting, 1 pinned)"),
        "{}",
        r.stderr
    );
}

#[test]
fn exit_code_is_independent_of_format() {
    let home = tempfile::tempdir().unwrap();
    for (target, code, verdict) in [("1.36", 4, "held"), ("1.35.8", 0, "safe"), ("1.37", 4, "held")] {
        let text = run(example_gate(home.path(), target, &[]));
        let json = run(example_gate(home.path(), target, &["--json"]));
        let explain = run(example_gate(home.path(), target, &["--explain"]));
        assert_eq!(
            (text.code, json.code, explain.code),
            (code, code, code),
            "target {target}"
        );
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("--json is JSON");
        assert_eq!(doc["verdict"], verdict);
        assert_eq!(doc["exit_code"], code);
        let reasons = doc["reasons"].as_array().unwrap();
        assert_eq!(
            reasons.len(),
            text.stdout.lines().filter(|l| l.starts_with('[')).count()
        );
        for r in reasons {
            for k in ["tag", "kind", "subject", "message", "hint", "source"] {
                assert!(r[k].is_string(), "reason lacks {k}: {r}");
            }
            assert!(text.stdout.contains(&format!(
                "[{}] {}",
                r["tag"].as_str().unwrap(),
                r["message"].as_str().unwrap()
            )));
        }
    }
}

#[test]
fn safe_patch_prints_ok_line() {
    let home = tempfile::tempdir().unwrap();
    let r = run(example_gate(home.path(), "v1.35.8", &[]));
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "compat-gate OK: cluster is safe to upgrade to 1.35.8\n");
}

#[test]
fn explain_groups_reasons() {
    let home = tempfile::tempdir().unwrap();
    let r = run(example_gate(home.path(), "1.36", &["--explain"]));
    assert_eq!(r.code, 4);
    for needle in [
        "Verdict: HELD",
        "Action needed:",
        "Waiting on upstream:",
        "Pinned (held by us):",
        "Held wins",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle:?} in\n{}", r.stdout);
    }
}

#[test]
fn matrix_from_stdin() {
    let home = tempfile::tempdir().unwrap();
    let matrix = std::fs::read_to_string(example("addon-compat.json")).unwrap();
    let r = run_with_stdin(
        gate(
            home.path(),
            &[
                "--target",
                "1.36",
                "--matrix",
                "-",
                "--snapshot",
                &example("cluster-snapshot.json"),
            ],
        ),
        &matrix,
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 4);
}

#[test]
fn matrix_default_comes_from_env_then_config() {
    let home = tempfile::tempdir().unwrap();
    let s = example("cluster-snapshot.json");
    let mut c = gate(home.path(), &["--target", "1.36", "--snapshot", &s]);
    c.env("HOMELAB_MATRIX", example("addon-compat.json"));
    assert_eq!(run(c).code, 4);

    let cfg = home.path().join(".config/homelab");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!("[upgrade]\nmatrix = {:?}\n", example("addon-compat.json")),
    )
    .unwrap();
    assert_eq!(run(gate(home.path(), &["--target", "1.36", "--snapshot", &s])).code, 4);

    // No flag, env or config, and no ./addon-compat.json: a clear error naming the file.
    let empty = tempfile::tempdir().unwrap();
    let mut c = gate(empty.path(), &["--target", "1.36", "--snapshot", &s]);
    c.current_dir(empty.path());
    let r = run(c);
    assert_eq!(r.code, 3);
    assert_one_error_line(&r);
    assert!(
        r.stderr.contains("cannot read matrix addon-compat.json"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_is_one_line_exit_3() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let m = example("addon-compat.json");
    let s = example("cluster-snapshot.json");
    let bad_json = dir.join("bad.json");
    std::fs::write(&bad_json, "{\n  \"addons\": [\n    { \"name\": \"calico\", }\n  ]\n}\n").unwrap();
    let bad_re = dir.join("bad-re.json");
    std::fs::write(
        &bad_re,
        std::fs::read_to_string(&m)
            .unwrap()
            .replace(r#""node:v?([0-9]+\\.[0-9]+)""#, r#""node:v?([0-9]+""#),
    )
    .unwrap();
    let bad_snap = dir.join("snap.json");
    std::fs::write(&bad_snap, "{\"nodes\": [{\"name\": \"a\", \"kubelet_version\": 135}]}").unwrap();
    let bad_kubelet = dir.join("kubelet.json");
    std::fs::write(
        &bad_kubelet,
        "{\"nodes\": [{\"name\": \"a\", \"kubelet_version\": \"vX\"}], \"deprecated_api_requests\": []}",
    )
    .unwrap();
    let no_nodes = dir.join("empty.json");
    std::fs::write(&no_nodes, "{\"nodes\": []}").unwrap();
    let bad_json_s = bad_json.display().to_string();
    let bad_re_s = bad_re.display().to_string();
    let bad_snap_s = bad_snap.display().to_string();
    let bad_kubelet_s = bad_kubelet.display().to_string();
    let no_nodes_s = no_nodes.display().to_string();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--target", "1.x", "--matrix", &m, "--snapshot", &s],
            "--target: invalid version \"1.x\"",
        ),
        (
            vec!["--target", "2.0", "--matrix", &m, "--snapshot", &s],
            "only Kubernetes 1.x",
        ),
        (
            vec!["--target", "1.36", "--matrix", "/nonexistent/m.json", "--snapshot", &s],
            "cannot read matrix /nonexistent/m.json",
        ),
        (
            vec!["--target", "1.36", "--matrix", &bad_json_s, "--snapshot", &s],
            "line 3, column",
        ),
        (
            vec!["--target", "1.36", "--matrix", &bad_re_s, "--snapshot", &s],
            "addon \"calico\": invalid image_re",
        ),
        (
            vec!["--target", "1.36", "--matrix", &m, "--snapshot", &bad_snap_s],
            "line 1, column",
        ),
        (
            vec!["--target", "1.36", "--matrix", &m, "--snapshot", &bad_kubelet_s],
            "node \"a\": invalid version \"vX\"",
        ),
        (
            vec!["--target", "1.36", "--matrix", &m, "--snapshot", &no_nodes_s],
            "no nodes",
        ),
        (
            vec!["--target", "1.36", "--matrix", "-", "--snapshot", "-"],
            "cannot both read stdin",
        ),
        (vec!["--target", "1.36", "--bogus"], "unexpected argument '--bogus'"),
        (vec!["--matrix", &m], "--target"),
    ];
    for (args, needle) in cases {
        let r = run(gate(dir, &args));
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert_one_error_line(&r);
        assert!(
            r.stderr.contains(needle),
            "{args:?}: expected {needle:?} in {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?} printed to stdout: {}", r.stdout);
    }
    // The file name is in the message for JSON errors too.
    let r = run(gate(
        dir,
        &["--target", "1.36", "--matrix", &bad_json_s, "--snapshot", &s],
    ));
    assert!(
        r.stderr.contains(&format!("invalid matrix {bad_json_s}: line 3")),
        "{}",
        r.stderr
    );
}

#[test]
fn json_error_document_on_gate_error() {
    let home = tempfile::tempdir().unwrap();
    let r = run(example_gate(home.path(), "nope", &["--json"]));
    assert_eq!(r.code, 3);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["verdict"], "error");
    assert_eq!(doc["exit_code"], 3);
    assert!(doc["error"].as_str().unwrap().contains("--target"));
}

#[test]
fn invalid_config_is_reported_with_its_line() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "[upgrade]\nprometheus = \n").unwrap();
    let mut c = example_gate(home.path(), "1.36", &[]);
    c.env("HOMELAB_CONFIG", &cfg);
    let r = run(c);
    assert_eq!(r.code, 3);
    assert_one_error_line(&r);
    assert!(
        r.stderr.contains("invalid config") && r.stderr.contains("line 2"),
        "{}",
        r.stderr
    );
}

#[test]
fn help_version_and_usage_codes() {
    let home = tempfile::tempdir().unwrap();
    let mut c = homelab(home.path());
    c.args(["upgrade", "gate", "--help"]);
    let r = run(c);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes: 0 safe, 2 blocked"));
    let mut c = homelab(home.path());
    c.arg("--version");
    let r = run(c);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.trim(), format!("homelab {}", env!("CARGO_PKG_VERSION")));
    let mut c = homelab(home.path());
    c.args(["frobnicate"]);
    let r = run(c);
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
    let mut c = homelab(home.path());
    c.args(["completions", "bash"]);
    let r = run(c);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("homelab"));
}

#[test]
fn demo_runs_and_explains() {
    let home = tempfile::tempdir().unwrap();
    let mut c = homelab(home.path());
    c.arg("demo");
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in HELD_LINES {
        assert!(r.stdout.contains(line), "demo lacks {line}");
    }
    assert!(r.stdout.contains("(exit code 4)"));
    assert!(r.stdout.contains("Verdict: HELD"));
    assert!(r.stdout.contains(
        "examples/manifests/legacy.yaml:3: batch/v1beta1 CronJob dbaas/nightly-backup is removed in 1.25; use batch/v1"
    ));
}
