//! `goldmane-edge-aggregator` end to end: the real binary against the Goldmane simulator
//! (mTLS) and SQLite — health endpoints, a real SIGTERM's final flush — and `digest`
//! against a fake Slack webhook (quiet, dry run, window, HTTP 404 `channel_not_found`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use homelab_core::flows::{Action, EdgeDelta, EdgeKey, FlushBatch};
use homelab_flows::sim::{SimConfig, SimMode, SimServer, Topology};
use homelab_flows::store::{self, EdgeStore};
use homelab_testkit::pki::TestPki;

use crate::support::now;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_goldmane-edge-aggregator"));
    for k in [
        "DATABASE_URL",
        "SLACK_WEBHOOK_URL",
        "DRY_RUN",
        "DIGEST_WINDOW",
        "RUST_LOG",
        "METRICS_ADDR",
        "FLUSH_INTERVAL",
    ] {
        c.env_remove(k);
    }
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET on loopback; (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_serves_health_and_flushes_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let t0 = (now() - 1800) / 15 * 15;
    let topology =
        Topology::from_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/testdata/topologies/homelab.yaml"))
            .unwrap();
    let sim = SimServer::start(
        SimConfig::new(topology)
            .with_tls(pki.sim_tls())
            .with_mode(SimMode::Burst { t0, buckets: 12 }),
    )
    .await
    .unwrap();
    let db = dir.path().join("edges.db");
    let port = free_port();
    let mut cmd = bin();
    cmd.envs(pki.goldmane_env(&sim))
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        // No periodic flush during the test: only SIGTERM's final flush writes.
        .env("FLUSH_INTERVAL", "1h")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let total = sim.total_flows().unwrap() as f64;

    let received = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let (Some((200, _)), Some((_, m))) = (get(port, "/healthz"), get(port, "/metrics"))
                && metric(&m, "goldmane_edges_flows_received_total") == Some(total)
            {
                let ready = get(port, "/readyz").unwrap();
                return (ready, m);
            }
            assert!(Instant::now() < deadline, "the aggregator never received every flow");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let (ready, metrics) = received;
    assert_eq!(ready.0, 200, "ready: store reachable and stream up ({})", ready.1);
    assert_eq!(metric(&metrics, "goldmane_edges_stream_connected"), Some(1.0));
    assert_eq!(
        metric(&metrics, "goldmane_edges_flushes_total"),
        Some(0.0),
        "nothing flushed yet"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                return (s, err);
            }
            assert!(Instant::now() < deadline, "no exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(out.0.success(), "clean exit after SIGTERM: {}", out.1);
    assert!(out.1.contains("shutdown requested; flushing"), "{}", out.1);

    // Every closed bucket was flushed; the last (still open) bucket is left for the
    // next process to backfill from the stored cursor.
    let s = store::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let last_closed_end = t0 + 11 * 15;
    assert_eq!(s.cursor().await.unwrap(), Some(last_closed_end));
    let got: BTreeMap<_, _> = homelab_testkit::flows::edge_table(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, e)| (k, (e.flow_count, e.first_seen, e.last_seen)))
        .collect();
    let want: BTreeMap<_, _> = sim
        .expected_edges(t0, t0 + 11 * 15)
        .into_iter()
        .map(|(k, e)| (k, (e.flow_count, e.first_seen, e.last_seen)))
        .collect();
    assert_eq!(got, want);
}

/// A one-shot fake Slack webhook: answers every POST with `status` and `body`, and keeps
/// what it received.
fn fake_slack(status: u16, body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            c.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then Content-Length bytes of body.
            let received = loop {
                let Ok(n) = c.read(&mut chunk) else { break String::new() };
                if n == 0 {
                    break String::new();
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text[..i]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        break String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).into_owned();
                    }
                }
            };
            s2.lock().unwrap().push(received);
            let _ = write!(
                c,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

async fn digest_db(dir: &Path, now: i64) -> String {
    let url = format!("sqlite://{}", dir.join("d.db").display());
    let s = store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    let e = |src: &str, dst: &str, a: Action, first: i64| {
        (
            EdgeKey {
                src_ns: src.into(),
                dst_ns: dst.into(),
                action: a,
            },
            EdgeDelta {
                first_seen: first,
                last_seen: now,
                flow_count: 2,
            },
        )
    };
    let mut edges = vec![
        e("web", "api", Action::Allow, now - 3 * 3600),
        e("backup", "dbaas", Action::Deny, now - 5 * 3600),
        e("old", "api", Action::Allow, now - 3 * 86_400),
    ];
    edges.sort_by(|a, b| a.0.cmp(&b.0));
    s.apply(&FlushBatch { edges, cursor: None }).await.unwrap();
    url
}

fn digest(url: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = bin();
    c.arg("digest").env("DATABASE_URL", url).envs(env.iter().copied());
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn digest_window_quiet_dry_run_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let url = digest_db(dir.path(), now()).await;

    // No webhook: print instead of posting; only edges first seen in the last 24 h.
    let (code, out, _) = digest(&url, &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Goldmane flow trail: 2 new namespace edges in the last 24h (1 denied)\n"),
        "{out}"
    );
    assert!(
        out.contains("backup → dbaas (deny") && out.contains("web → api (allow") && !out.contains("old → api"),
        "{out}"
    );

    // A window with nothing new: quiet, no output, success.
    let (code, out, _) = digest(&url, &[("DIGEST_WINDOW", "1h")]);
    assert_eq!((code, out.as_str()), (0, ""));

    // A working webhook gets one {"text": …} post.
    let (port, seen) = fake_slack(200, "ok");
    let hook = format!("http://127.0.0.1:{port}/services/T000/B000/secret-token");
    let (code, out, err) = digest(&url, &[("SLACK_WEBHOOK_URL", &hook)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    let posts = seen.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&posts[0]).unwrap();
    assert!(v["text"].as_str().unwrap().contains("backup → dbaas"));

    // DRY_RUN=1 prints and posts nothing.
    let (code, out, _) = digest(&url, &[("SLACK_WEBHOOK_URL", &hook), ("DRY_RUN", "1")]);
    assert_eq!(code, 0);
    assert!(out.contains("2 new namespace edges"));
    assert_eq!(seen.lock().unwrap().len(), 1);

    // Slack refusing the post (a channel override): non-zero, the reason shown, the URL (a credential) not.
    let (port, _) = fake_slack(404, "channel_not_found");
    let hook = format!("http://127.0.0.1:{port}/services/T000/B000/secret-token");
    let (code, _, err) = digest(&url, &[("SLACK_WEBHOOK_URL", &hook)]);
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 404") && err.contains("channel_not_found"), "{err}");
    assert!(!err.contains("secret-token"), "the webhook URL leaked: {err}");

    // Nothing listening: also a failure.
    let hook = format!("http://127.0.0.1:{}/hook", free_port());
    let (code, _, err) = digest(&url, &[("SLACK_WEBHOOK_URL", &hook)]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn bad_configuration_is_one_line_exit_1() {
    for (k, v, needle) in [
        ("FLUSH_INTERVAL", "soon", "FLUSH_INTERVAL"),
        ("METRICS_ADDR", "nowhere", "METRICS_ADDR"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
    ] {
        let mut c = bin();
        c.env(k, v).env("GOLDMANE_CA_FILE", "/nonexistent/ca.crt");
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{k}={v}: {err}");
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.starts_with("goldmane-edge-aggregator: error:") && err.contains(needle),
            "{k}={v}: {err}"
        );
    }
    let o = bin().arg("--bogus").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
