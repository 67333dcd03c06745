//! `PsqlExec` through kube's real exec client (websocket, streaming subprotocol) against
//! the fake API server: the script travels on stdin, never in argv; failures are one-line
//! errors naming the pod, the selector or the cause.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::support::bounded;
use homelab_core::upgrade::ClusterSnapshot;
use homelab_k8s::{K8sError, KubeconfigOptions, PsqlExec, PsqlTarget, connect_with_details};
use homelab_testkit::k8s::{EXEC_PROTOCOL_V5, ExecReply, ExecRequest, FakeApiServer, FakePod};

fn cnpg_pod(name: &str, role: &str) -> FakePod {
    FakePod {
        namespace: "dbaas".into(),
        name: name.into(),
        labels: BTreeMap::from([
            ("cnpg.io/cluster".to_owned(), "goldmane-pg".to_owned()),
            ("cnpg.io/instanceRole".to_owned(), role.to_owned()),
        ]),
        ready: true,
        logs: BTreeMap::from([
            ("postgres".to_owned(), String::new()),
            ("bootstrap-controller".to_owned(), String::new()),
        ]),
    }
}

async fn cluster() -> FakeApiServer {
    let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
    api.insert_pod(cnpg_pod("goldmane-pg-1", "primary"));
    api.insert_pod(cnpg_pod("goldmane-pg-2", "replica"));
    // Same labels in another namespace: must not be picked.
    api.insert_pod(FakePod {
        namespace: "other".into(),
        ..cnpg_pod("elsewhere-1", "primary")
    });
    api
}

async fn psql(api: &FakeApiServer) -> PsqlExec {
    PsqlExec::with_client(api.client().await, PsqlTarget::default())
}

fn assert_one_line(e: &K8sError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s}");
    s
}

/// A stand-in for psql: one output line per non-empty script line, upper-cased.
fn echo_psql(req: ExecRequest) -> ExecReply {
    let rows: Vec<String> = req
        .stdin
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{}|{}", req.pod, l.trim().to_uppercase()))
        .collect();
    ExecReply::stdout(rows.join("\n") + "\n")
}

#[tokio::test]
async fn script_round_trip_through_stdin() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(echo_psql);
        let script = "SELECT src_ns, dst_ns FROM edge WHERE src_ns = 'kube-system';\nSELECT count(*) FROM edge;\n";
        let out = psql(&api).await.run_script(script).await.expect("run_script");
        assert_eq!(
            out,
            "goldmane-pg-1|SELECT SRC_NS, DST_NS FROM EDGE WHERE SRC_NS = 'KUBE-SYSTEM';\n\
             goldmane-pg-1|SELECT COUNT(*) FROM EDGE;\n"
        );
        let requests = api.exec_requests();
        assert_eq!(requests.len(), 1);
        let req = &requests[0];
        assert_eq!(req.namespace, "dbaas");
        assert_eq!(req.pod, "goldmane-pg-1");
        assert_eq!(req.container, "postgres");
        assert_eq!(req.stdin, script, "the script arrives on stdin, verbatim");
        assert_eq!(req.protocol, EXEC_PROTOCOL_V5);
        // argv is the target's psql command and carries no part of the script.
        assert_eq!(req.command, PsqlTarget::default().command());
        for arg in &req.command {
            for line in script.lines().filter(|l| !l.is_empty()) {
                assert!(!arg.contains(line), "the script reached argv: {arg}");
            }
            assert!(!arg.contains("kube-system") && !arg.contains("SELECT"), "{arg}");
        }
    })
    .await;
}

#[tokio::test]
async fn large_output_and_input_stream_through() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(|req| {
            let n = req.stdin.len();
            ExecReply::stdout(format!("{n}\n{}", "x".repeat(300_000)))
        });
        // Well beyond every pipe and frame buffer on both sides.
        let script = format!("-- {}\nSELECT 1;\n", "y".repeat(200_000));
        let out = psql(&api).await.run_script(&script).await.expect("run_script");
        assert_eq!(out.len(), script.len().to_string().len() + 1 + 300_000);
        assert!(out.starts_with(&format!("{}\n", script.len())));
        assert_eq!(api.exec_requests()[0].stdin, script);
    })
    .await;
}

#[tokio::test]
async fn empty_output_is_an_empty_string() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(|_| ExecReply::default());
        assert_eq!(
            psql(&api).await.run_script("SELECT 1 WHERE false;\n").await.unwrap(),
            ""
        );
    })
    .await;
}

#[tokio::test]
async fn non_zero_exit_is_an_error_with_psqls_stderr() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(|_| ExecReply {
            stdout: "partial\n".into(),
            stderr: "psql:<stdin>:1: ERROR:  relation \"edge\" does not exist\nLINE 1: SELECT * FROM edge;\n                      ^\n"
                .into(),
            exit_code: 3,
        });
        let err = psql(&api).await.run_script("SELECT * FROM edge;\n").await.unwrap_err();
        let s = assert_one_line(&err);
        assert!(s.contains("psql exited with code 3"), "{s}");
        assert!(s.contains("ERROR: relation \"edge\" does not exist"), "{s}");
        assert!(s.contains("LINE 1: SELECT * FROM edge;"), "{s}");
        assert!(s.contains("dbaas/goldmane-pg-1"), "{s}");
        assert!(!s.contains("partial"), "{s}");
    })
    .await;
}

#[tokio::test]
async fn stderr_in_errors_is_bounded() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(|_| ExecReply::failed(1, "E: boom\n".repeat(50_000)));
        let s = assert_one_line(&psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err());
        assert!(s.contains("psql exited with code 1: E: boom / E: boom"), "{s}");
        assert!(s.len() < 1_000, "{} bytes: {s}", s.len());
    })
    .await;
}

#[tokio::test]
async fn no_primary_pod_is_a_clear_error() {
    bounded(async {
        let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
        api.insert_pod(cnpg_pod("goldmane-pg-2", "replica"));
        api.set_exec_handler(echo_psql);
        let s = assert_one_line(&psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err());
        assert!(s.contains("cnpg.io/instanceRole=primary"), "{s}");
        assert!(s.contains("namespace dbaas"), "{s}");
        assert!(s.contains("no pod matches"), "{s}");
        assert!(api.exec_requests().is_empty());
    })
    .await;
}

#[tokio::test]
async fn two_primary_pods_are_a_clear_error() {
    bounded(async {
        let api = cluster().await;
        api.insert_pod(cnpg_pod("goldmane-pg-3", "primary"));
        api.set_exec_handler(echo_psql);
        let s = assert_one_line(&psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err());
        assert!(s.contains("cnpg.io/instanceRole=primary"), "{s}");
        assert!(s.contains("namespace dbaas"), "{s}");
        assert!(
            s.contains("2 Running pods match (goldmane-pg-1, goldmane-pg-3); expected exactly one"),
            "{s}"
        );
        assert!(api.exec_requests().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_missing_container_is_named() {
    bounded(async {
        let api = cluster().await;
        let target = PsqlTarget {
            container: "pg".into(),
            ..PsqlTarget::default()
        };
        let err = PsqlExec::with_client(api.client().await, target)
            .run_script("SELECT 1;\n")
            .await
            .unwrap_err();
        let s = assert_one_line(&err);
        assert!(s.contains("goldmane-pg-1 has no container \"pg\""), "{s}");
        assert!(s.contains("bootstrap-controller, postgres"), "{s}");
    })
    .await;
}

#[tokio::test]
async fn exec_forbidden_is_an_api_error() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(echo_psql);
        api.fail_exec(403);
        let err = psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err();
        let s = assert_one_line(&err);
        assert!(matches!(err, K8sError::Api { code: 403, .. }), "{err:?}");
        assert!(s.contains("HTTP 403 Forbidden"), "{s}");
        assert!(s.contains("cannot create resource \"pods/exec\""), "{s}");
        assert!(
            s.contains("psql -d goldmane_edges in pod dbaas/goldmane-pg-1 container postgres"),
            "{s}"
        );
        assert!(api.exec_requests().is_empty());
    })
    .await;
}

#[tokio::test]
async fn listing_pods_forbidden_is_an_api_error() {
    bounded(async {
        let api = cluster().await;
        api.fail_all(403);
        let err = psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err();
        let s = assert_one_line(&err);
        assert!(matches!(err, K8sError::Api { code: 403, .. }), "{err:?}");
        assert!(s.contains("list pods -l cnpg.io/instanceRole=primary in dbaas"), "{s}");
    })
    .await;
}

#[tokio::test]
async fn a_slow_psql_times_out() {
    bounded(async {
        let api = cluster().await;
        // The handler blocks until released (after the assertion), so the runtime never
        // waits long for its blocking thread.
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        api.set_exec_handler(move |_| {
            let rx = released.lock().unwrap_or_else(|p| p.into_inner());
            let _ = rx.recv_timeout(Duration::from_secs(10));
            ExecReply::stdout("too late\n")
        });
        let exec = psql(&api).await.with_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let err = exec.run_script("SELECT pg_sleep(60);\n").await.unwrap_err();
        let elapsed = started.elapsed();
        let _ = release.send(());
        let s = assert_one_line(&err);
        assert!(matches!(err, K8sError::Timeout { .. }), "{err:?}");
        assert!(
            s.contains("psql -d goldmane_edges in pod dbaas/goldmane-pg-1 container postgres"),
            "{s}"
        );
        assert!(s.contains("within 0.5 s"), "{s}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    })
    .await;
}

#[tokio::test]
async fn a_v4_only_api_server_is_an_error_not_an_empty_result() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_v4_only(true);
        api.set_exec_handler(echo_psql);
        let err = psql(&api).await.run_script("SELECT 1;\n").await.unwrap_err();
        let s = assert_one_line(&err);
        assert!(s.contains("ended without an exit status"), "{s}");
        assert!(s.contains("v5.channel.k8s.io"), "{s}");
    })
    .await;
}

#[tokio::test]
async fn through_a_kubeconfig_connection_errors_name_the_api_server() {
    bounded(async {
        let api = cluster().await;
        api.set_exec_handler(|_| ExecReply::failed(2, "psql: error: connection to server failed"));
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = KubeconfigOptions {
            kubeconfig: Some(api.write_kubeconfig(dir.path())),
            context: None,
        };
        let connection = connect_with_details(&opts).await.expect("connect");
        let exec = PsqlExec::new(&connection, PsqlTarget::default());
        assert!(format!("{exec:?}").contains("PsqlExec"));
        let s = assert_one_line(&exec.run_script("SELECT 1;\n").await.unwrap_err());
        assert!(s.contains(&api.url()), "{s}");
        assert!(
            s.contains("psql exited with code 2: psql: error: connection to server failed"),
            "{s}"
        );
    })
    .await;
}
