//! `WhiskerWatchdog` against the fake API server: the three seed scenarios end to end
//! (observe → homelab_core::watchdog::decide → restart) and an API failure.

use std::collections::BTreeMap;

use crate::support::bounded;
use homelab_core::upgrade::ClusterSnapshot;
use homelab_core::watchdog::{DEFAULT_ERROR_MARKERS, DEFAULT_THRESHOLD, Decision, count_errors, decide};
use homelab_k8s::{WatchdogAction, WhiskerTarget, WhiskerWatchdog};
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

fn wedged_log(n: usize) -> String {
    (0..n)
        .map(|i| format!("2026-06-28T0{}:00:00Z ERROR failed to stream flows: rpc error: code = Unavailable desc = dns: i/o timeout\n", i % 10))
        .collect()
}

async fn run_once(api: &FakeApiServer) -> Decision {
    let w = WhiskerWatchdog::with_client(api.client().await, WhiskerTarget::default());
    let seen = w.observe().await.expect("observe");
    let d = decide(
        count_errors(&seen.backend_log, &DEFAULT_ERROR_MARKERS),
        seen.goldmane_ready,
        DEFAULT_THRESHOLD,
    );
    if d.restart() {
        w.restart(&seen.whisker_pods).await.expect("restart");
    }
    d
}

#[tokio::test]
async fn wedged_backend_with_ready_goldmane_is_restarted() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(pod(
            "whisker-7d9f-abcde",
            "whisker",
            true,
            "whisker-backend",
            &wedged_log(12),
        ));
        api.insert_pod(pod("goldmane-5c8-xyz", "goldmane", true, "goldmane", "serving\n"));
        api.insert_pod(pod("other", "calico-node", true, "calico-node", &wedged_log(50)));
        let d = run_once(&api).await;
        assert_eq!(d, Decision::Restart { errors: 12 });
        assert_eq!(api.deleted_pods(), vec!["calico-system/whisker-7d9f-abcde"]);
    })
    .await;
}

#[tokio::test]
async fn goldmane_not_ready_means_no_restart() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(pod("whisker-1", "whisker", true, "whisker-backend", &wedged_log(30)));
        api.insert_pod(pod("goldmane-1", "goldmane", false, "goldmane", ""));
        assert_eq!(run_once(&api).await, Decision::HoldGoldmaneNotReady { errors: 30 });
        assert!(api.deleted_pods().is_empty());
    })
    .await;
}

#[tokio::test]
async fn healthy_backend_is_left_alone() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(pod(
            "whisker-1",
            "whisker",
            true,
            "whisker-backend",
            "streaming flows\n",
        ));
        api.insert_pod(pod("goldmane-1", "goldmane", true, "goldmane", ""));
        let d = run_once(&api).await;
        assert_eq!(
            d.message(660),
            "whisker-backend healthy: 0 goldmane-connection errors in the last 11m"
        );
        assert!(api.deleted_pods().is_empty());
    })
    .await;
}

#[tokio::test]
async fn forbidden_is_an_error() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.fail_all(403);
        let w = WhiskerWatchdog::with_client(api.client().await, WhiskerTarget::default());
        let e = w.observe().await.unwrap_err().to_string();
        assert!(
            e.contains("403") && e.contains("list pods -l k8s-app=whisker in calico-system"),
            "{e}"
        );
    })
    .await;
}

#[tokio::test]
async fn run_once_restarts_a_wedged_backend_or_says_what_a_dry_run_would_do() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(pod("whisker-1", "whisker", true, "whisker-backend", &wedged_log(12)));
        api.insert_pod(pod("goldmane-1", "goldmane", true, "goldmane", ""));
        let w = WhiskerWatchdog::with_client(api.client().await, WhiskerTarget::default());
        let dry = w.run_once(DEFAULT_THRESHOLD, true).await.unwrap();
        assert_eq!(dry.decision, Decision::Restart { errors: 12 });
        assert_eq!(dry.action, WatchdogAction::WouldDelete(vec!["whisker-1".into()]));
        assert_eq!(dry.lines()[1], "dry run: would delete whisker-1");
        assert!(api.deleted_pods().is_empty());
        let real = w.run_once(DEFAULT_THRESHOLD, false).await.unwrap();
        assert_eq!(real.action, WatchdogAction::Deleted(vec!["whisker-1".into()]));
        assert_eq!(
            real.lines(),
            vec![
                Decision::Restart { errors: 12 }.message(660),
                "deleted whisker-1".into()
            ]
        );
        assert!(real.error().is_none());
        assert_eq!(api.deleted_pods(), vec!["calico-system/whisker-1"]);
    })
    .await;
}

#[tokio::test]
async fn run_once_holds_without_a_ready_goldmane_and_reports_a_missing_pod() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(pod("whisker-1", "whisker", true, "whisker-backend", &wedged_log(30)));
        api.insert_pod(pod("goldmane-1", "goldmane", false, "goldmane", ""));
        let w = WhiskerWatchdog::with_client(api.client().await, WhiskerTarget::default());
        let held = w.run_once(DEFAULT_THRESHOLD, false).await.unwrap();
        assert_eq!(held.decision, Decision::HoldGoldmaneNotReady { errors: 30 });
        assert_eq!(held.action, WatchdogAction::None);
        assert_eq!(held.lines().len(), 1);
        assert!(api.deleted_pods().is_empty());

        let empty = FakeApiServer::start(&ClusterSnapshot::default()).await;
        empty.insert_pod(pod("goldmane-1", "goldmane", true, "goldmane", ""));
        let w = WhiskerWatchdog::with_client(empty.client().await, WhiskerTarget::default());
        // No Whisker pod: no log, so no restart decision either.
        assert_eq!(w.run_once(1, false).await.unwrap().action, WatchdogAction::None);
        empty.fail_all(403);
        let e = w.run_once(1, false).await.unwrap_err().to_string();
        assert!(e.contains("403"), "{e}");
    })
    .await;
}
