//! The simulator's stream semantics (`start_time_gte`, backfill, live, restart, burst,
//! ground truth), read through the real client over mTLS.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use homelab_core::flows::{Action, FlowRecord};
use homelab_flows::goldmane::{FlowSource, FlowStream, GoldmaneClient, GoldmaneError};
use homelab_flows::sim::{SimConfig, SimHandle, SimMode, SimServer, Topology};
use homelab_testkit::flows::edges_from_flows;
use homelab_testkit::pki::TestPki;
use tokio::time::timeout;

use crate::support::now;

const LIMIT: Duration = Duration::from_secs(20);

/// One-second buckets so live tests are quick.
const LIVE: &str = r#"
bucket_seconds: 1
history_buckets: 30
edges:
  - {src: frontend/web, dst: backend/api, port: 8080, connections: 2}
  - {src: frontend/web, dst: dbaas/pg, port: 5432, verdict: deny-at-dst}
  - {src: "-/pub", dst: frontend/web, port: 443}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    sim: SimHandle,
    client: GoldmaneClient,
}

async fn fixture(topology: Topology, mode: SimMode, rate_limit: Option<u64>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let mut config = SimConfig::new(topology).with_tls(pki.sim_tls()).with_mode(mode);
    config.rate_limit = rate_limit;
    let sim = SimServer::start(config).await.unwrap();
    let client = GoldmaneClient::new(pki.goldmane_config(&sim)).unwrap();
    Fixture { _dir: dir, sim, client }
}

async fn live(prefill: usize) -> Fixture {
    fixture(
        Topology::from_yaml_str(LIVE).unwrap(),
        SimMode::Live {
            prefill_buckets: prefill,
        },
        None,
    )
    .await
}

async fn next(stream: &mut FlowStream) -> Result<FlowRecord, GoldmaneError> {
    match timeout(LIMIT, stream.next())
        .await
        .expect("timed out waiting for a flow")
    {
        Some(r) => r,
        None => panic!("stream ended without an error"),
    }
}

/// Reads whole buckets until `n` buckets are complete; returns flows grouped by bucket
/// start, in arrival order.
async fn read_buckets(sim: &SimHandle, stream: &mut FlowStream, n: usize) -> Vec<(i64, Vec<FlowRecord>)> {
    let mut buckets: Vec<(i64, Vec<FlowRecord>)> = Vec::new();
    loop {
        let complete = buckets
            .iter()
            .filter(|(s, f)| f.len() as u64 == sim.topology().flows_in_bucket(*s))
            .count();
        if complete >= n {
            return buckets;
        }
        let f = next(stream).await.unwrap();
        match buckets.last_mut() {
            Some((s, flows)) if *s == f.start_time => flows.push(f),
            _ => buckets.push((f.start_time, vec![f])),
        }
    }
}

/// Consecutive, complete, each bucket once, every flow key once per bucket.
fn assert_gap_and_duplicate_free(sim: &SimHandle, buckets: &[(i64, Vec<FlowRecord>)]) {
    let b = sim.bucket_seconds();
    for w in buckets.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].0 + b,
            "gap or repeat between buckets {} and {}",
            w[0].0,
            w[1].0
        );
    }
    for (start, flows) in buckets {
        assert_eq!(
            flows.len() as u64,
            sim.topology().flows_in_bucket(*start),
            "bucket {start} incomplete"
        );
        let keys: HashSet<_> = flows.iter().collect();
        assert_eq!(keys.len(), flows.len(), "duplicate flow in bucket {start}");
        assert!(flows.iter().all(|f| f.end_time == start + b));
    }
}

#[tokio::test]
async fn zero_streams_only_buckets_closing_after_the_open() {
    let mut f = live(5).await;
    assert!(f.sim.history().len() >= 5);
    // Everything in the ring before the open is history: none of it may be streamed.
    let closed_before_open = *f.sim.history().last().unwrap();
    let mut stream = timeout(LIMIT, f.client.open(0)).await.unwrap().unwrap();
    let buckets = read_buckets(&f.sim, &mut stream, 2).await;
    assert!(
        buckets[0].0 > closed_before_open,
        "bucket {} closed before the open",
        buckets[0].0
    );
    assert_gap_and_duplicate_free(&f.sim, &buckets[..2]);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn negative_start_time_backfills_relative_seconds_then_goes_live() {
    let mut f = live(10).await;
    let before = now();
    let mut stream = timeout(LIMIT, f.client.open(-5)).await.unwrap().unwrap();
    let after = now();
    let last_prefilled = *f.sim.history().last().unwrap();
    // Backfill (4 or 5 buckets) plus at least 2 live ones.
    let buckets = read_buckets(&f.sim, &mut stream, 8).await;
    let first = buckets[0].0;
    assert!(
        first >= before - 5 && first <= after - 5 + 1,
        "first bucket {first}, opened at {before}..{after}"
    );
    assert!(buckets.iter().any(|(s, _)| *s > last_prefilled), "never went live");
    assert_gap_and_duplicate_free(&f.sim, &buckets[..8]);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn absolute_start_time_backfills_from_that_bucket() {
    let mut f = live(10).await;
    let history = f.sim.history();
    let from = history[3];
    let mut stream = timeout(LIMIT, f.client.open(from)).await.unwrap().unwrap();
    let buckets = read_buckets(&f.sim, &mut stream, 9).await;
    assert_eq!(buckets[0].0, from);
    assert_gap_and_duplicate_free(&f.sim, &buckets[..9]);

    // Older than the ring: silently starts at the oldest bucket still held.
    let mut stream = timeout(LIMIT, f.client.open(history[0] - 3600)).await.unwrap().unwrap();
    let first = next(&mut stream).await.unwrap();
    assert_eq!(first.start_time, f.sim.history()[0]);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn restart_drops_history_and_ends_streams() {
    let mut f = live(10).await;
    let mut before = timeout(LIMIT, f.client.open(-60)).await.unwrap().unwrap();
    next(&mut before).await.unwrap();
    let old_history = f.sim.history();
    f.sim.restart();
    let restarted_at = now();
    assert!(f.sim.history().is_empty());
    let err = loop {
        match next(&mut before).await {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err}");

    let mut after = timeout(LIMIT, f.client.open(-60)).await.unwrap().unwrap();
    let first = next(&mut after).await.unwrap();
    assert!(
        first.start_time > *old_history.last().unwrap() && first.start_time >= restarted_at - 1,
        "bucket {} predates the restart at {restarted_at}: history survived",
        first.start_time
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn live_flows_match_the_ground_truth() {
    let mut f = live(3).await;
    let mut stream = timeout(LIMIT, f.client.open(1)).await.unwrap().unwrap();
    let buckets = read_buckets(&f.sim, &mut stream, 5).await;
    let (first, last) = (buckets[0].0, buckets[4].0);
    let flows: Vec<_> = buckets.into_iter().take(5).flat_map(|(_, f)| f).collect();
    let expected = f.sim.expected_edges(first, last + 1);
    assert_eq!(edges_from_flows(&flows), expected);
    let key = |s: &str, d: &str, a| (s.to_owned(), d.to_owned(), a);
    assert_eq!(expected[&key("frontend", "backend", Action::Allow)].flow_count, 10);
    assert_eq!(expected[&key("frontend", "dbaas", Action::Deny)].flow_count, 5);
    assert_eq!(expected.len(), 2);
    f.sim.shutdown().await;
}

const T0: i64 = 1_700_000_000;

#[tokio::test]
async fn burst_streams_a_known_total_that_adds_up_to_the_ground_truth() {
    const BUCKETS: usize = 480; // two hours of 15 s buckets: hourly edges appear twice
    let mut f = fixture(
        crate::support::topology("homelab.yaml"),
        SimMode::Burst {
            t0: T0,
            buckets: BUCKETS,
        },
        None,
    )
    .await;
    let total = f.sim.total_flows().unwrap();
    let mut stream = timeout(LIMIT, f.client.open(0)).await.unwrap().unwrap();
    let mut flows = Vec::with_capacity(total as usize);
    for _ in 0..total {
        flows.push(next(&mut stream).await.unwrap());
    }
    assert!(
        timeout(Duration::from_millis(100), stream.next()).await.is_err(),
        "more flows than announced"
    );
    assert_eq!(f.sim.flows_sent(), total);
    assert_eq!(f.sim.generated_range(), Some((T0, T0 + 15 * BUCKETS as i64)));

    let expected = f.sim.expected_edges(T0, T0 + 15 * BUCKETS as i64);
    assert_eq!(edges_from_flows(&flows), expected);

    // The homelab's ground truth: only namespaced workloads, no self-edges, denies kept.
    let namespaces: HashSet<&str> = expected.keys().flat_map(|(s, d, _)| [s.as_str(), d.as_str()]).collect();
    assert!(namespaces.len() >= 18, "{namespaces:?}");
    assert!(!namespaces.contains("-"));
    assert!(expected.keys().all(|(s, d, _)| s != d));
    let key = |s: &str, d: &str, a| (s.to_owned(), d.to_owned(), a);
    let backup = expected[&key("backup", "dbaas", Action::Deny)];
    assert_eq!(backup.flow_count, 2, "hourly edge");
    assert_eq!(
        expected[&key("jellyfin", "dbaas", Action::Deny)].flow_count,
        BUCKETS as i64
    );
    assert!(
        !expected.contains_key(&key("jellyfin", "dbaas", Action::Allow)),
        "deny at dst must not count as allow"
    );
    assert!(!namespaces.contains("lan"), "a namespaced NetworkSet is not a workload");
    let whole = expected[&key("ingress-nginx", "nextcloud", Action::Allow)];
    assert_eq!((whole.first_seen, whole.last_seen), (T0, T0 + 15 * BUCKETS as i64));

    // A window: buckets whose start lies in [from, to).
    let window = f.sim.expected_edges(T0 + 15 * 10, T0 + 15 * 20);
    let part = window[&key("ingress-nginx", "nextcloud", Action::Allow)];
    assert_eq!(
        part,
        homelab_flows::sim::ExpectedEdge {
            flow_count: 30,
            first_seen: T0 + 150,
            last_seen: T0 + 300
        }
    );
    let in_window: Vec<_> = flows
        .iter()
        .filter(|f| (T0 + 150..T0 + 300).contains(&f.start_time))
        .cloned()
        .collect();
    assert_eq!(edges_from_flows(&in_window), window);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn burst_resumes_from_an_absolute_time() {
    let mut f = fixture(
        crate::support::topology("homelab.yaml"),
        SimMode::Burst { t0: T0, buckets: 6 },
        None,
    )
    .await;
    let mut stream = timeout(LIMIT, f.client.open(T0 + 45)).await.unwrap().unwrap();
    let buckets = read_buckets(&f.sim, &mut stream, 3).await;
    assert_eq!(
        buckets.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [T0 + 45, T0 + 60, T0 + 75]
    );
    assert_gap_and_duplicate_free(&f.sim, &buckets);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn burst_rate_limit_paces_the_stream() {
    let topology = Topology::from_yaml_str(LIVE).unwrap();
    let mut f = fixture(topology, SimMode::Burst { t0: T0, buckets: 100 }, Some(1000)).await;
    let mut stream = timeout(LIMIT, f.client.open(0)).await.unwrap().unwrap();
    next(&mut stream).await.unwrap();
    let started = tokio::time::Instant::now();
    for _ in 0..300 {
        next(&mut stream).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "300 flows at 1000/s took only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn shipped_topologies_have_sensible_ground_truth() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/topologies");
    let mut counts = BTreeMap::new();
    for name in ["small.yaml", "homelab.yaml", "mesh.json"] {
        let t = Topology::from_path(&dir.join(name)).unwrap().compile().unwrap();
        let edges = t.expected_edges((0..240).map(|k| T0 + 15 * k));
        assert!(!edges.is_empty(), "{name}");
        assert!(edges.keys().all(|(s, d, _)| s != d && s != "-" && d != "-"), "{name}");
        counts.insert(name, (edges.len(), t.flows_in_bucket(T0)));
    }
    assert_eq!(counts["mesh.json"].1, 1216);
}
