//! `homelab upgrade apis` end to end: exit 0 clean, 1 found, 2 error.

use crate::support::*;

fn apis(home: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut c = homelab(home);
    c.args(["upgrade", "apis"]).args(extra);
    c
}

#[test]
fn finds_removed_apis_in_a_directory() {
    let home = tempfile::tempdir().unwrap();
    let dir = example("manifests");
    let r = run(apis(home.path(), &["--target", "1.36", &dir]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0]
            .ends_with("legacy.yaml:3: batch/v1beta1 CronJob dbaas/nightly-backup is removed in 1.25; use batch/v1"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("legacy.yaml:19: policy/v1beta1 PodDisruptionBudget apps/web is removed in 1.25"),
        "{}",
        lines[1]
    );
    // Nothing removed by 1.24: clean.
    let r = run(apis(home.path(), &["--target", "1.24", &dir]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.is_empty());
}

#[test]
fn json_stdin_and_lists() {
    let home = tempfile::tempdir().unwrap();
    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"web","namespace":"apps"}},
        {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"ok"}}]}"#;
    let r = run_with_stdin(apis(home.path(), &["--target", "1.22", "--json", "-"]), list);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["exit_code"], 1);
    let f = &doc["findings"][0];
    assert_eq!(f["file"], "<stdin>");
    assert_eq!(f["kind"], "Ingress");
    assert_eq!(f["removed_in"], "1.22");
    assert_eq!(f["replacement"], "networking.k8s.io/v1");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
}

#[test]
fn errors_win_and_templates_are_skipped() {
    let home = tempfile::tempdir().unwrap();
    let d = home.path().join("m");
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("ok.yaml"),
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: a}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("templates/t.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  labels: {{- toYaml . }}\n",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "not yaml: [").unwrap();
    let ds = d.display().to_string();
    let r = run(apis(home.path(), &["--target", "1.36", &ds]));
    assert_eq!(
        r.code, 1,
        "template must be skipped, .txt ignored in a directory walk: {}",
        r.stderr
    );
    assert!(r.stderr.contains("looks like a template"), "{}", r.stderr);

    std::fs::write(d.join("broken.yml"), "apiVersion: v1\nkind: [oops\n").unwrap();
    let r = run(apis(home.path(), &["--target", "1.36", &ds]));
    assert_eq!(r.code, 2, "a broken file is an error even with findings");
    assert!(r.stderr.contains("broken.yml: document 0 (line 1)"), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "findings are still printed");

    let r = run(apis(home.path(), &["--target", "1.36", "/nonexistent/dir"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read /nonexistent/dir"));
}

#[test]
fn bad_arguments_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--target", "x1", "f.yaml"],
        vec!["--target", "1.36"],
        vec!["--target", "1.36", "--bogus", "f"],
    ] {
        let r = run(apis(home.path(), &args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_one_error_line(&r);
    }
}
