//! `whisker-watchdog` end to end: the real binary against the fake API server.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use homelab_core::upgrade::ClusterSnapshot;
use homelab_testkit::k8s::{FakeApiServer, FakePod};

fn pod(name: &str, app: &str, ready: bool, container: &str, log: &str) -> FakePod {
    FakePod {
        namespace: "calico-system".into(),
        name: name.into(),
        labels: BTreeMap::from([("k8s-app".to_owned(), app.to_owned())]),
        ready,
        logs: BTreeMap::from([(container.to_owned(), log.to_owned())]),
    }
}

async fn watchdog(api: &FakeApiServer, extra: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path());
    let mut c = Command::new(env!("CARGO_BIN_EXE_whisker-watchdog"));
    c.arg("--kubeconfig")
        .arg(&kc)
        .args(extra)
        .env_remove("DRY_RUN")
        .env_remove("RUST_LOG")
        .env("HOME", home.path());
    let out = tokio::time::timeout(Duration::from_secs(60), tokio::task::spawn_blocking(move || c.output()))
        .await
        .expect("bounded")
        .unwrap()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WEDGED: &str = "failed to stream flows: rpc error: code = Unavailable desc = dns: i/o timeout\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_wedged_dry_run_and_held() {
    let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
    api.insert_pod(pod("goldmane-1", "goldmane", true, "goldmane", ""));
    api.insert_pod(pod("whisker-1", "whisker", true, "whisker-backend", "ok\n"));
    let (code, out, err) = watchdog(&api, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "whisker-backend healthy: 0 goldmane-connection errors in the last 11m\n"
    );

    api.insert_pod(pod("whisker-1", "whisker", true, "whisker-backend", &WEDGED.repeat(11)));
    let (code, out, _) = watchdog(&api, &["--dry-run"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("dry run: would delete whisker-1"), "{out}");
    assert!(api.deleted_pods().is_empty());

    let (code, out, _) = watchdog(&api, &[]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("whisker-backend wedged: 11 goldmane-connection errors"),
        "{out}"
    );
    assert_eq!(api.deleted_pods(), vec!["calico-system/whisker-1"]);

    api.insert_pod(pod("whisker-2", "whisker", true, "whisker-backend", &WEDGED.repeat(40)));
    api.insert_pod(pod("goldmane-1", "goldmane", false, "goldmane", ""));
    let (code, out, _) = watchdog(&api, &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("but Goldmane is not Ready; not restarting"), "{out}");
    assert_eq!(api.deleted_pods().len(), 1);

    api.fail_all(403);
    let (code, out, err) = watchdog(&api, &[]).await;
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("whisker-watchdog: error: ") && err.contains("403"),
        "{err}"
    );
}
