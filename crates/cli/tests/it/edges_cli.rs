//! `homelab edges` end to end: filters, formats, `--json` shape, injection attempts, and
//! both sources — a database URL, and the default CNPG-pod path (Kubernetes exec API,
//! here the fake API server running the real `psql` against a real PostgreSQL).

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::*;
use homelab_core::flows::{Action, EdgeDelta, EdgeKey, FlushBatch};
use homelab_flows::store::{self, EdgeStore};
use homelab_testkit::k8s::{ExecReply, FakeApiServer, FakePod};
use homelab_testkit::postgres::TempPostgres;

use crate::support::now;

const HOUR: i64 = 3600;

fn batch(now: i64) -> FlushBatch {
    let e = |s: &str, d: &str, a: Action, first: i64, count: i64| {
        (
            EdgeKey {
                src_ns: s.into(),
                dst_ns: d.into(),
                action: a,
            },
            EdgeDelta {
                first_seen: first,
                last_seen: now - 60,
                flow_count: count,
            },
        )
    };
    let mut edges = vec![
        e("web", "api", Action::Allow, now - 10 * 24 * HOUR, 500),
        e("web", "db", Action::Deny, now - 2 * HOUR, 3),
        e("api", "web", Action::Allow, now - 5 * 24 * HOUR, 40),
        e("api", "db", Action::Allow, now - 9 * 24 * HOUR, 900),
        e("monitoring", "web", Action::Allow, now - 30 * 60, 7),
        e("batch", "api", Action::Deny, now - 3 * 24 * HOUR, 1),
    ];
    edges.sort_by(|a, b| a.0.cmp(&b.0));
    FlushBatch {
        edges,
        cursor: Some(now - 60),
    }
}

async fn sqlite_db(dir: &std::path::Path, now: i64) -> String {
    let url = format!("sqlite://{}", dir.join("edges.db").display());
    let s = store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    s.apply(&batch(now)).await.unwrap();
    url
}

fn edges(home: &std::path::Path, url: &str, extra: &[&str]) -> Run {
    let mut c = homelab(home);
    c.args(["edges", "--database-url", url]).args(extra);
    run(c)
}

#[tokio::test]
async fn filters_order_and_limit() {
    let home = tempfile::tempdir().unwrap();
    let url = sqlite_db(home.path(), now()).await;
    let h = home.path();

    let r = edges(h, &url, &["--ns", "web"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("src_ns      dst_ns  action  flow_count  first_seen"),
        "{}",
        lines[0]
    );
    let pairs: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        pairs,
        ["monitoring web allow", "web db deny", "api web allow", "web api allow"],
        "newest first_seen first"
    );

    let r = edges(h, &url, &["--src", "web", "--denied"]);
    assert_eq!(r.stdout.lines().count(), 2);
    assert!(r.stdout.contains("web     db      deny    3"), "{}", r.stdout);

    let r = edges(h, &url, &["--new-since", "24h"]);
    let pairs: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(pairs, ["monitoring", "web"]);

    let r = edges(h, &url, &["--limit", "1"]);
    assert_eq!(r.stdout.lines().count(), 2);

    let r = edges(h, &url, &["--peers-of", "api"]);
    assert_eq!(r.stdout, "peer   action\nbatch  deny\ndb     allow\nweb    allow\n");
}

#[tokio::test]
async fn json_csv_dot_mermaid() {
    let home = tempfile::tempdir().unwrap();
    let url = sqlite_db(home.path(), now()).await;
    let h = home.path();
    let r = edges(h, &url, &["--dst", "web", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json is a JSON array");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let keys: Vec<&str> = rows[0].as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["src_ns", "dst_ns", "action", "flow_count", "first_seen", "last_seen"] {
        assert!(keys.contains(&k), "missing {k}");
    }
    assert!(rows[0]["first_seen"].as_str().unwrap().ends_with('Z'));
    let r = edges(h, &url, &["--peers-of", "web", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0], serde_json::json!({"peer": "api", "action": "allow"}));
    assert!(
        edges(h, &url, &["--format", "csv"])
            .stdout
            .starts_with("src_ns,dst_ns,action,flow_count,first_seen,last_seen\n")
    );
    assert!(
        edges(h, &url, &["--format", "dot"])
            .stdout
            .contains("\"web\" -> \"db\" [label=\"deny 3\"")
    );
    assert!(
        edges(h, &url, &["--format", "mermaid"])
            .stdout
            .starts_with("graph LR\n")
    );
    let r = edges(h, &url, &["--json", "--format", "csv"]);
    assert_eq!(r.code, 2, "--json and --format conflict");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_query() {
    let home = tempfile::tempdir().unwrap();
    let url = sqlite_db(home.path(), now()).await;
    let h = home.path();
    for (args, needle) in [
        (vec!["--ns", "x'; DROP TABLE edge; --"], "is not a valid namespace name"),
        (vec!["--src", "Web"], "is not a valid namespace name"),
        (vec!["--peers-of", "a b"], "is not a valid namespace name"),
        (vec!["--new-since", "yesterday"], "--new-since"),
        (vec!["--limit", "0"], "--limit"),
        (vec!["--bogus"], "unexpected argument"),
    ] {
        let r = edges(h, &url, &args);
        assert_eq!(r.code, 2, "{args:?}");
        assert_one_error_line(&r);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    // The table survived.
    assert_eq!(edges(h, &url, &[]).stdout.lines().count(), 7);
    let r = edges(h, "mysql://root@127.0.0.1/edges", &[]);
    assert_eq!(r.code, 2);
    assert_one_error_line(&r);
}

#[tokio::test]
async fn database_url_from_env_and_policy() {
    let home = tempfile::tempdir().unwrap();
    let url = sqlite_db(home.path(), now()).await;
    let mut c = homelab(home.path());
    c.args(["edges", "policy", "--ns", "web", "--format", "json"])
        .env("DATABASE_URL", &url);
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["kind"], "NetworkPolicy");
    let egress = p["spec"]["egress"].as_array().unwrap();
    assert_eq!(
        egress.last().unwrap()["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["api"]),
        "only observed allow peers; the denied db is not allowed"
    );
    assert!(r.stderr.contains("warning: apply it staged first"), "{}", r.stderr);
    let mut c = homelab(home.path());
    c.args(["edges", "policy", "--ns", "web", "--staged", "--dns-ip", "10.96.0.10"])
        .env("DATABASE_URL", &url);
    let r = run(c);
    assert!(
        r.stdout.contains("kind: StagedNetworkPolicy") && r.stdout.contains("10.96.0.10/32"),
        "{}",
        r.stdout
    );
    let mut c = homelab(home.path());
    c.args(["edges", "policy", "--ns", "web", "--dns-ip", "not-an-ip"])
        .env("DATABASE_URL", &url);
    assert_eq!(run(c).code, 2);
}

/// The default source: the CNPG primary pod, through the exec API. The fake API server
/// runs the real psql (the script arrives on stdin) against a real PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cnpg_pod_path_matches_the_database_url_path() {
    if !TempPostgres::available_or_skip("cnpg_pod_path_matches_the_database_url_path") {
        return;
    }
    let pg = tokio::task::spawn_blocking(TempPostgres::start)
        .await
        .unwrap()
        .expect("postgres");
    let now = now();
    let s = store::connect(&pg.url()).await.unwrap();
    s.migrate().await.unwrap();
    s.apply(&batch(now)).await.unwrap();

    let api = FakeApiServer::start(&Default::default()).await;
    api.insert_pod(FakePod {
        namespace: "dbaas".into(),
        name: "pg-cluster-1".into(),
        labels: BTreeMap::from([("cnpg.io/instanceRole".to_owned(), "primary".to_owned())]),
        ready: true,
        logs: BTreeMap::from([("postgres".to_owned(), String::new())]),
    });
    let psql = pg.bin_dir_in_use().join("psql");
    let pg_url = pg.url();
    api.set_exec_handler(move |req| {
        // Run exactly the requested argv, pointing -d at the test server.
        let mut args = req.command[1..].to_vec();
        if let Some(i) = args.iter().position(|a| a == "-d") {
            args[i + 1] = pg_url.clone();
        }
        let mut child = Command::new(&psql)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(req.stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        ExecReply {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit_code: out.status.code().unwrap_or(1),
        }
    });
    let home = tempfile::tempdir().unwrap();
    let kc = api.write_kubeconfig(home.path());
    for args in [
        vec!["--ns", "web"],
        vec!["--peers-of", "api", "--json"],
        vec!["--denied", "--new-since", "7d"],
        vec![],
    ] {
        let mut pod = homelab(home.path());
        pod.arg("edges").arg("--kubeconfig").arg(&kc).args(&args);
        let mut direct = homelab(home.path());
        direct.args(["edges", "--database-url", &pg.url()]).args(&args);
        let (a, b) = tokio::task::spawn_blocking(move || (run(pod), run(direct)))
            .await
            .unwrap();
        assert_eq!(a.code, 0, "{args:?}: {}", a.stderr);
        assert_eq!(
            a.stdout, b.stdout,
            "{args:?}: the pod path and the direct path disagree"
        );
        assert!(!a.stdout.is_empty());
    }
    let reqs = api.exec_requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(
            (r.namespace.as_str(), r.pod.as_str(), r.container.as_str()),
            ("dbaas", "pg-cluster-1", "postgres")
        );
        assert!(
            r.command.iter().all(|a| !a.contains("web") && !a.contains("SELECT")),
            "values and SQL stay out of argv: {:?}",
            r.command
        );
    }
    drop(pg);
}
