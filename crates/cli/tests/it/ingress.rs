//! `homelab ingress render | lint` end to end: formats, stdin, config defaults, exit
//! codes (render 0 / 2; lint 0 clean / 1 violations / 2 error).

use std::path::Path;

use crate::support::*;
use serde_json::Value;

fn ingress(home: &Path, args: &[&str]) -> std::process::Command {
    let mut c = homelab(home);
    c.arg("ingress").args(args);
    c
}

fn lint_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ingress_lint")
        .join(name)
        .display()
        .to_string()
}

fn write_config(home: &Path, toml: &str) {
    let dir = home.join(".config/homelab");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), toml).unwrap();
}

#[test]
fn renders_the_example_as_json() {
    let home = tempfile::tempdir().unwrap();
    let r = run(ingress(
        home.path(),
        &["render", &example("ingress/photos.yaml"), "--format", "json"],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Middleware", "Ingress"]);
    let ing = &v["objects"][1];
    assert_eq!(
        ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "traefik-retry@kubernetescrd,traefik-error-pages@kubernetescrd,traefik-csp-headers@kubernetescrd,\
         traefik-ai-bot-block@kubernetescrd,traefik-anti-ai-headers@kubernetescrd,\
         immich-buffering-photos@kubernetescrd,traefik-immich-rate-limit@kubernetescrd"
    );
    assert_eq!(ing["spec"]["rules"][0]["host"], "photos.example.org");
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "immich-server"
    );
    assert_eq!(v["objects"][0]["spec"]["buffering"]["maxRequestBodyBytes"], 5u64 << 30);
    let types: Vec<&str> = v["dns_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["A", "AAAA"]);
}

#[test]
fn yaml_is_a_kubectl_stream_with_dns_intents_as_comments() {
    let home = tempfile::tempdir().unwrap();
    let spec = example("ingress/photos.yaml");
    let yaml = run(ingress(home.path(), &["render", &spec]));
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let json = run(ingress(home.path(), &["render", &spec, "--format", "json"]));
    let want: Value = serde_json::from_str(&json.stdout).unwrap();
    // The DNS intents lead, as comments.
    let head: Vec<&str> = yaml.stdout.lines().take_while(|l| l.starts_with('#')).collect();
    assert_eq!(head.len(), 3, "{}", yaml.stdout);
    assert!(
        head[1].contains("A photos.example.org (photos) -> 203.0.113.10"),
        "{}",
        head[1]
    );
    assert!(
        head[2].contains("AAAA photos.example.org (photos) -> 2001:db8::10"),
        "{}",
        head[2]
    );
    // The documents are the JSON objects, in order.
    let docs = homelab_core::manifest::parse_documents(&yaml.stdout).unwrap();
    let got: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
    assert_eq!(Value::Array(got), want["objects"]);
}

#[test]
fn reads_stdin_and_takes_defaults_from_config() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[ingress]\nroot_domain = \"example.net\"\nannotation_domain = \"example.com\"\ncloudflare_zone_id = \"z1\"\n\
         internal_lb_ip = \"10.1.2.3\"\nallowed_groups = [\"Ops\", \"Family\"]\n",
    );
    let spec = "name: kiosk\nnamespace: home\ntls_secret_name: tls\ndns_type: internal\n";
    let r = run_with_stdin(ingress(home.path(), &["render", "-", "--format", "json"]), spec);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let a = &v["objects"][0]["metadata"]["annotations"];
    assert_eq!(a["authentik.example.com/allowed-groups"], "Ops,Family");
    assert_eq!(a["cloudflare.example.com/dns-type"], "internal");
    assert_eq!(v["dns_records"][0]["content"], "10.1.2.3");
    assert_eq!(v["dns_records"][0]["fqdn"], "kiosk.example.net");
    // The spec wins over the config.
    let spec = format!("{spec}root_domain: example.org\nallowed_groups: [Admins]\n");
    let r = run_with_stdin(ingress(home.path(), &["render", "-", "--format", "json"]), &spec);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["dns_records"][0]["fqdn"], "kiosk.example.org");
    assert_eq!(
        v["objects"][0]["metadata"]["annotations"]["authentik.example.com/allowed-groups"],
        "Admins"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cases = [
        (
            "name: a\nnamespace: b\ntls_secret_name: t\nroot_domain: example.org\nauth: sso\n",
            "auth: unknown value \"sso\" (allowed: required, app, public, none)",
        ),
        (
            "name: a\nnamespace: b\ntls_secret_name: t\nroot_domain: example.org\nmax_body_size: 5gb\n",
            "max_body_size: invalid size \"5gb\"",
        ),
        (
            "name: a\nnamespace: b\ntls_secret_name: t\n",
            "root_domain: is required",
        ),
        (
            "name: grafana\nnamespace: b\ntls_secret_name: t\nroot_domain: example.org\nauth: none\n",
            "auth_gate: grafana looks like an admin UI",
        ),
        ("name: [unclosed\n", "invalid YAML"),
        ("{\"name\": ", "invalid JSON"),
    ];
    for (spec, want) in cases {
        let r = run_with_stdin(ingress(home.path(), &["render", "-"]), spec);
        assert_eq!(r.code, 2, "{spec}: {}", r.stderr);
        assert_one_error_line(&r);
        assert!(r.stderr.contains(want), "{spec}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    let r = run(ingress(home.path(), &["render", "/nonexistent/spec.yaml"]));
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
    let r = run(ingress(
        home.path(),
        &["render", &example("ingress/admin.yaml"), "--format", "xml"],
    ));
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
    write_config(home.path(), "[ingress]\nzone = \"x\"\n");
    let r = run(ingress(home.path(), &["render", &example("ingress/admin.yaml")]));
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
    assert!(r.stderr.contains("invalid config"), "{}", r.stderr);
}

#[test]
fn lint_reports_each_violation_as_file_line_message() {
    let home = tempfile::tempdir().unwrap();
    let r = run(ingress(home.path(), &["lint", &lint_fixture("")]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<String> = r
        .stdout
        .lines()
        .map(|l| l.replace(&lint_fixture(""), "<dir>/"))
        .map(|l| l.replace("<dir>//", "<dir>/"))
        .collect();
    assert_eq!(
        lines,
        [
            "<dir>/specs/bad.json:4: auth \"app\" needs auth_gate saying what gates the app (JSON has no comments)",
            "<dir>/specs/bad.yaml:4: auth: \"none\" needs a comment saying what gates the app (on this line or the line just above) or set auth_gate",
            "<dir>/stack/main.tf:10: auth = \"none\" needs a comment saying what gates the app (on this line or the line just above)",
            "<dir>/stack/nested/other.tf:3: auth = \"app\" needs a comment saying what gates the app (on this line or the line just above)",
        ],
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("4 violation(s) in 8 file(s) checked"), "{}", r.stderr);
}

#[test]
fn lint_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    // Clean: the documented examples and the clean files.
    let r = run(ingress(home.path(), &["lint", &example("ingress")]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(ingress(
        home.path(),
        &[
            "lint",
            &lint_fixture("specs/ok.yaml"),
            &lint_fixture("specs/gate.json"),
            &lint_fixture("stack/clean.tf"),
        ],
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Violations in one file.
    let r = run(ingress(home.path(), &["lint", &lint_fixture("stack/main.tf")]));
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), 1);
    // Errors win: a missing path, an explicit file that does not parse.
    let r = run(ingress(
        home.path(),
        &["lint", &lint_fixture("stack/main.tf"), "/nonexistent"],
    ));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("homelab: error: cannot read /nonexistent"),
        "{}",
        r.stderr
    );
    let bad = home.path().join("broken.yaml");
    std::fs::write(&bad, "name: [unclosed\n").unwrap();
    let r = run(ingress(home.path(), &["lint", bad.to_str().unwrap()]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    // ...but a walked directory skips YAML it cannot parse.
    let r = run(ingress(home.path(), &["lint", home.path().to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // No paths is a usage error.
    let r = run(ingress(home.path(), &["lint"]));
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
}
