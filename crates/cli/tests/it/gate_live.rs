//! `homelab upgrade gate` / `snapshot` against the fake Kubernetes API server and a fake
//! Prometheus on loopback: the real binary, the real kube-rs client, real Kubernetes JSON.

use crate::support::*;
use homelab_core::upgrade::{ClusterSnapshot, DeprecatedApiRequest};
use homelab_testkit::k8s::{FakeApiServer, FakePrometheus, PromReply};

fn example_snapshot() -> ClusterSnapshot {
    ClusterSnapshot::from_json(&std::fs::read_to_string(example("cluster-snapshot.json")).unwrap()).unwrap()
}

fn gate_cmd(home: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut c = homelab(home);
    c.args([
        "upgrade",
        "gate",
        "--target",
        "1.36",
        "--matrix",
        &example("addon-compat.json"),
        "--timeout",
        "20",
    ])
    .args(extra);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_cluster_via_kubeconfig_env_matches_snapshot_decision() {
    let api = FakeApiServer::start(&example_snapshot()).await;
    let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path());
    let mut c = gate_cmd(home.path(), &["--prometheus", &prom.url()]);
    c.env("KUBECONFIG", &kc);
    let live = run_async(c, None).await;
    assert_eq!(live.code, 4, "{}", live.stderr);

    let file = run_async(
        {
            let mut c = homelab(home.path());
            c.args([
                "upgrade",
                "gate",
                "--target",
                "1.36",
                "--matrix",
                &example("addon-compat.json"),
                "--snapshot",
                &example("cluster-snapshot.json"),
            ]);
            c
        },
        None,
    )
    .await;
    assert_eq!(live.stdout, file.stdout, "live and snapshot decisions differ");
    assert!(api.request_count() >= 5, "nodes + 4 workloads were fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_findings_and_failures() {
    let api = FakeApiServer::start(&example_snapshot()).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path()).display().to_string();

    // A removed API in use, via env PROM.
    let prom = FakePrometheus::start(PromReply::Vector(vec![DeprecatedApiRequest {
        group: "batch".into(),
        version: "v1beta1".into(),
        resource: "cronjobs".into(),
        removed_release: "1.25".into(),
    }]))
    .await;
    let mut c = gate_cmd(home.path(), &["--kubeconfig", &kc]);
    c.env("PROM", prom.url());
    let r = run_async(c, None).await;
    assert_eq!(r.code, 4);
    assert!(
        r.stdout
            .contains("[ACTIONABLE] removed API in use: batch/v1beta1 cronjobs is removed in 1.25 (target 1.36)"),
        "{}",
        r.stdout
    );

    // No Prometheus configured: fail-safe reason naming the cause.
    let r = run_async(gate_cmd(home.path(), &["--kubeconfig", &kc]), None).await;
    assert_eq!(r.code, 4);
    assert!(
        r.stdout
            .contains("[ACTIONABLE] cannot query deprecated API usage from Prometheus (no Prometheus URL configured"),
        "{}",
        r.stdout
    );

    // Prometheus answering 500: fail-safe reason with the status.
    let broken = FakePrometheus::start(PromReply::HttpStatus(500)).await;
    let r = run_async(
        gate_cmd(home.path(), &["--kubeconfig", &kc, "--prometheus", &broken.url()]),
        None,
    )
    .await;
    assert!(
        r.stdout
            .contains("[ACTIONABLE] cannot query deprecated API usage from Prometheus (")
            && r.stdout.contains("500"),
        "{}",
        r.stdout
    );

    // A patch is not blocked by Prometheus being down.
    let mut c = homelab(home.path());
    c.args([
        "upgrade",
        "gate",
        "--target",
        "1.35.9",
        "--matrix",
        &example("addon-compat.json"),
        "--kubeconfig",
        &kc,
    ]);
    let r = run_async(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_flag_wins_and_home_default_works() {
    let api = FakeApiServer::start(&example_snapshot()).await;
    let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path()).display().to_string();
    let mut c = gate_cmd(home.path(), &["--kubeconfig", &kc, "--prometheus", &prom.url()]);
    c.env("KUBECONFIG", "/nonexistent/kubeconfig");
    assert_eq!(run_async(c, None).await.code, 4);

    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::copy(&kc, home.path().join(".kube/config")).unwrap();
    let r = run_async(gate_cmd(home.path(), &["--prometheus", &prom.url()]), None).await;
    assert_eq!(r.code, 4, "~/.kube/config is the last default: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_workload_is_actionable() {
    let mut snap = example_snapshot();
    snap.workloads.retain(|w| w.name != "calico-node");
    let api = FakeApiServer::start(&snap).await;
    let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path()).display().to_string();
    let r = run_async(
        gate_cmd(home.path(), &["--kubeconfig", &kc, "--prometheus", &prom.url()]),
        None,
    )
    .await;
    assert_eq!(r.code, 4);
    assert!(
        r.stdout
            .contains("[ACTIONABLE] calico: workload calico-system/daemonset/calico-node not found"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_forbidden_cluster_is_exit_3() {
    let api = FakeApiServer::start(&example_snapshot()).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path()).display().to_string();
    api.fail_all(403);
    let r = run_async(gate_cmd(home.path(), &["--kubeconfig", &kc]), None).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_one_error_line(&r);
    assert!(
        r.stderr.contains("403") || r.stderr.to_lowercase().contains("forbidden"),
        "{}",
        r.stderr
    );

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = std::fs::read_to_string(&kc).unwrap();
    let dead = home.path().join("dead-kubeconfig");
    let mut replaced = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("server:") {
            replaced.push_str(&format!("    server: http://127.0.0.1:{port}\n"));
        } else {
            replaced.push_str(line);
            replaced.push('\n');
        }
    }
    std::fs::write(&dead, replaced).unwrap();
    let dead_s = dead.display().to_string();
    let r = run_async(gate_cmd(home.path(), &["--kubeconfig", &dead_s, "--json"]), None).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_one_error_line(&r);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["verdict"], "error");

    // No kubeconfig anywhere.
    let empty = tempfile::tempdir().unwrap();
    let r = run_async(gate_cmd(empty.path(), &[]), None).await;
    assert_eq!(r.code, 3);
    assert_one_error_line(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_command_round_trips() {
    let snap = example_snapshot();
    let api = FakeApiServer::start(&snap).await;
    let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path()).display().to_string();
    let out = home.path().join("snap.json");
    let mut c = homelab(home.path());
    c.args([
        "upgrade",
        "snapshot",
        "--matrix",
        &example("addon-compat.json"),
        "--kubeconfig",
        &kc,
        "--prometheus",
        &prom.url(),
        "-o",
    ])
    .arg(&out);
    let r = run_async(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written = ClusterSnapshot::from_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written, snap);

    // Without Prometheus: null + the cause, and a warning; still exit 0.
    let mut c = homelab(home.path());
    c.args([
        "upgrade",
        "snapshot",
        "--matrix",
        &example("addon-compat.json"),
        "--kubeconfig",
        &kc,
    ]);
    let r = run_async(c, None).await;
    assert_eq!(r.code, 0);
    let s = ClusterSnapshot::from_json(&r.stdout).unwrap();
    assert_eq!(s.deprecated_api_requests, None);
    assert!(s.deprecated_api_error.is_some());
    assert!(r.stderr.contains("warning"));
}
