//! Property tests for the edge model: whatever the order of flows inside a bucket, the
//! flush points, failed flushes, or where the stream breaks and resumes from the cursor,
//! the edges equal an independent reference count.

use std::collections::BTreeMap;

use homelab_core::flows::assembler::{AssemblerConfig, BucketAssembler};
use homelab_core::flows::{Action, EdgeDelta, EndpointType, FlowRecord, Reporter};
use proptest::prelude::*;

const NS: [&str; 5] = ["web", "api", "db", "-", ""];

#[derive(Debug, Clone)]
struct Conn {
    src: usize,
    dst: usize,
    pod: u8,
    /// (src report, dst report): None = that side did not report.
    src_action: Option<Action>,
    dst_action: Option<Action>,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![4 => Just(Action::Allow), 2 => Just(Action::Deny), 1 => Just(Action::Pass)]
}

fn conn() -> impl Strategy<Value = Conn> {
    (
        0usize..5,
        0usize..5,
        0u8..3,
        prop::option::of(action()),
        prop::option::of(action()),
    )
        .prop_filter("someone reports", |c| c.3.is_some() || c.4.is_some())
        .prop_map(|(src, dst, pod, src_action, dst_action)| Conn {
            src,
            dst,
            pod,
            src_action,
            dst_action,
        })
}

/// Buckets of connections; bucket i starts at 1000 + 15 i.
fn buckets() -> impl Strategy<Value = Vec<Vec<Conn>>> {
    prop::collection::vec(prop::collection::vec(conn(), 0..8), 1..6)
}

fn flows_of(buckets: &[Vec<Conn>]) -> Vec<Vec<FlowRecord>> {
    buckets
        .iter()
        .enumerate()
        .map(|(i, conns)| {
            let start = 1000 + 15 * i as i64;
            let mut out = Vec::new();
            for c in conns {
                for (reporter, act) in [(Reporter::Src, c.src_action), (Reporter::Dst, c.dst_action)] {
                    let Some(action) = act else { continue };
                    let ty = |n: usize| {
                        if NS[n] == "-" || NS[n].is_empty() {
                            EndpointType::Network
                        } else {
                            EndpointType::WorkloadEndpoint
                        }
                    };
                    out.push(FlowRecord {
                        source_namespace: NS[c.src].into(),
                        source_name: format!("p{}-*", c.pod),
                        source_type: ty(c.src),
                        dest_namespace: NS[c.dst].into(),
                        dest_name: "svc-*".into(),
                        dest_type: ty(c.dst),
                        dest_port: 443,
                        proto: "tcp".into(),
                        reporter,
                        action,
                        start_time: start,
                        end_time: start + 15,
                        num_connections_started: 1,
                    });
                }
            }
            out
        })
        .collect()
}

type Edges = BTreeMap<(String, String, Action), EdgeDelta>;

/// The reference: per bucket, per distinct connection, the strongest verdict, once.
fn reference(buckets: &[Vec<Conn>]) -> Edges {
    let mut out = Edges::new();
    for (i, conns) in buckets.iter().enumerate() {
        let start = 1000 + 15 * i as i64;
        let mut per_conn: BTreeMap<(usize, usize, u8), Action> = BTreeMap::new();
        for c in conns {
            if NS[c.src].is_empty() || NS[c.src] == "-" || NS[c.dst].is_empty() || NS[c.dst] == "-" || c.src == c.dst {
                continue;
            }
            for a in [c.src_action, c.dst_action].into_iter().flatten() {
                let e = per_conn.entry((c.src, c.dst, c.pod)).or_insert(a);
                let rank = |a: Action| match a {
                    Action::Deny => 3,
                    Action::Allow => 2,
                    Action::Pass => 1,
                    Action::Unspecified => 0,
                };
                if rank(a) > rank(*e) {
                    *e = a;
                }
            }
        }
        for ((s, d, _), a) in per_conn {
            let delta = EdgeDelta {
                first_seen: start,
                last_seen: start + 15,
                flow_count: 1,
            };
            out.entry((NS[s].into(), NS[d].into(), a))
                .and_modify(|x| x.merge(&delta))
                .or_insert(delta);
        }
    }
    out
}

fn drain(a: &mut BucketAssembler, into: &mut Edges) {
    for (k, d) in a.take_flush().edges {
        into.entry((k.src_ns, k.dst_ns, k.action))
            .and_modify(|x| x.merge(&d))
            .or_insert(d);
    }
}

fn finish(a: &mut BucketAssembler, into: &mut Edges) {
    a.tick(i64::MAX / 2);
    drain(a, into);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any order of the flows inside each bucket gives the reference edges.
    #[test]
    fn any_interleaving_same_edges(b in buckets(), seed in any::<u64>()) {
        let mut stream = flows_of(&b);
        for (i, bucket) in stream.iter_mut().enumerate() {
            let n = bucket.len();
            if n > 1 {
                let k = (seed as usize).wrapping_add(i) % n;
                bucket.rotate_left(k);
                if seed % 2 == 0 { bucket.reverse(); }
            }
        }
        let mut a = BucketAssembler::new(AssemblerConfig::default(), 0);
        let mut got = Edges::new();
        for f in stream.iter().flatten() {
            a.accept(f, 0);
        }
        finish(&mut a, &mut got);
        prop_assert_eq!(got, reference(&b));
    }

    /// Flushing at arbitrary points, with some flushes failing and restored, changes nothing.
    #[test]
    fn flush_points_and_failures_do_not_matter(b in buckets(), flush_mask in any::<u64>(), fail_mask in any::<u64>()) {
        let stream: Vec<FlowRecord> = flows_of(&b).into_iter().flatten().collect();
        let mut a = BucketAssembler::new(AssemblerConfig::default(), 0);
        let mut got = Edges::new();
        for (i, f) in stream.iter().enumerate() {
            a.accept(f, 0);
            if flush_mask >> (i % 64) & 1 == 1 {
                let batch = a.take_flush();
                if fail_mask >> (i % 64) & 1 == 1 {
                    a.restore(batch);
                } else {
                    for (k, d) in batch.edges {
                        got.entry((k.src_ns, k.dst_ns, k.action)).and_modify(|x| x.merge(&d)).or_insert(d);
                    }
                }
            }
        }
        finish(&mut a, &mut got);
        prop_assert_eq!(got, reference(&b));
    }

    /// The stream breaks after any flow; the client reconnects with start_time_gte =
    /// resume_from() and the server backfills every flow of buckets at or after it, as
    /// Goldmane does. Nothing is lost and nothing counted twice.
    #[test]
    fn reconnect_with_backfill_is_exactly_once(b in buckets(), cut_at in any::<prop::sample::Index>(), flush_before_cut in any::<bool>()) {
        let stream: Vec<FlowRecord> = flows_of(&b).into_iter().flatten().collect();
        let mut a = BucketAssembler::new(AssemblerConfig::default(), 0);
        let mut got = Edges::new();
        let cut = if stream.is_empty() { 0 } else { cut_at.index(stream.len()) };
        for f in &stream[..cut] {
            a.accept(f, 0);
        }
        if flush_before_cut {
            drain(&mut a, &mut got);
        }
        // `now` consistent with the flows' times (within Goldmane's hour of history).
        let from = a.resume_from(1200, 0);
        for f in stream.iter().filter(|f| f.start_time >= from) {
            a.accept(f, 0);
        }
        finish(&mut a, &mut got);
        prop_assert_eq!(got, reference(&b));
    }
}
