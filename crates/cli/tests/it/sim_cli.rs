//! The new-user path: `homelab sim` prints the exports, the aggregator binary uses them,
//! edges land in SQLite.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
use homelab_flows::store::{self, EdgeStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_exports_drive_the_aggregator() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_homelab"))
        .args(["sim", "--listen", "127.0.0.1:0", "--prefill", "4", "--certs"])
        .arg(&certs)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut env = Vec::new();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(kv) = line.strip_prefix("export ") {
            let (k, v) = kv.split_once('=').unwrap();
            env.push((k.to_owned(), v.to_owned()));
        }
        if line.starts_with("goldmane-edge-aggregator aggregate") {
            break;
        }
    }
    assert!(env.iter().any(|(k, _)| k == "GOLDMANE_HOST"), "{env:?}");
    let db_url = env.iter().find(|(k, _)| k == "DATABASE_URL").unwrap().1.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut agg = Command::new(env!("CARGO_BIN_EXE_goldmane-edge-aggregator"))
        .envs(env.iter().cloned())
        .env("FLUSH_INTERVAL", "1s")
        .env("BUCKET_QUIET_CLOSE", "1s")
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        if let Ok(s) = store::connect(&db_url).await
            && let Ok(rows) = s
                .edges(&EdgeQuery {
                    limit: MAX_LIMIT,
                    ..EdgeQuery::default()
                })
                .await
            && rows.len() > 10
        {
            break rows;
        }
        assert!(Instant::now() < deadline, "no edges within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = Command::new("kill").args(["-TERM", &agg.id().to_string()]).status();
    let _ = Command::new("kill").args(["-INT", &sim.id().to_string()]).status();
    assert!(agg.wait().unwrap().success());
    assert!(sim.wait().unwrap().success(), "homelab sim stops cleanly on Ctrl-C");
    assert!(rows.iter().all(|r| r.src_ns != r.dst_ns && r.src_ns != "-"));
}
