//! From a stream of Goldmane flows to edge deltas, counting each connection once and
//! keeping the resume cursor.
//!
//! Goldmane emits, per 15 s bucket, one message per flow key *per reporter*: a
//! pod-to-pod connection is normally reported by the Felix at each end. The assembler
//! groups a bucket's flows by connection (the flow key without reporter and action),
//! combines their verdicts (any deny wins: allowed at the source but denied at the
//! destination is a deny), and counts one flow per connection per bucket.
//!
//! A bucket *closes* when a flow of a later bucket arrives, or when the stream has brought
//! nothing new for the grace period (an idle cluster sends nothing; there is no
//! end-of-bucket marker). "Nothing new" means no new bucket, connection or verdict: a
//! server that re-sends the same bucket again and again cannot keep it open. Closing on
//! quiet time rather than on the bucket's age matters: a backfill delivers old buckets
//! quickly, and closing one by its age while its flows are still arriving would lose them.
//!
//! The **cursor** is the end of the newest closed bucket: every flow with
//! `start_time < cursor` is already accounted for and is skipped, so a reconnect with
//! `start_time_gte = cursor` (Goldmane backfills from there) neither loses nor
//! double-counts. Open buckets survive a reconnect: a bucket counts a *set* of
//! connections, so the backfill's re-sent flows add only what the broken stream had not
//! delivered yet. All times are passed in: this module has no clock.

use std::collections::{BTreeMap, HashMap};

use super::{Action, EdgeDelta, EdgeKey, Exclusion, FlowRecord, FlushBatch, edge_of};

/// How long Goldmane keeps history: a resume cursor older than this is clamped.
pub const GOLDMANE_HISTORY_SECONDS: i64 = 3600;

/// Tuning; the defaults match Goldmane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Close open buckets after this many seconds without any flow.
    pub quiet_close_seconds: i64,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        Self {
            quiet_close_seconds: 30,
        }
    }
}

/// Counters for metrics and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    pub flows_received: u64,
    pub flows_before_cursor: u64,
    pub excluded_self: u64,
    pub excluded_no_namespace: u64,
    pub excluded_not_workload: u64,
    /// Distinct connections counted into edges (one per connection per bucket).
    pub connections_counted: u64,
    pub buckets_closed: u64,
}

/// A connection: the flow key without reporter and verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConnKey {
    src_ns: String,
    src_name: String,
    dst_ns: String,
    dst_name: String,
    dst_port: i64,
    proto: String,
}

#[derive(Debug, Default)]
struct OpenBucket {
    end: i64,
    connections: HashMap<ConnKey, Action>,
}

/// Groups flows into buckets and buckets into pending edge deltas.
#[derive(Debug)]
pub struct BucketAssembler {
    config: AssemblerConfig,
    cursor: i64,
    open: BTreeMap<i64, OpenBucket>,
    pending: HashMap<EdgeKey, EdgeDelta>,
    pending_cursor: Option<i64>,
    /// Wall-clock time the stream last brought something new (or was reopened).
    last_activity: Option<i64>,
    /// Whether a stream is open. Buckets never close by time while it is not: the part
    /// a broken stream did not deliver comes with the next backfill.
    connected: bool,
    stats: AssemblerStats,
}

impl BucketAssembler {
    /// Starts after `cursor` (the stored cursor; 0 when there is none).
    pub fn new(config: AssemblerConfig, cursor: i64) -> Self {
        Self {
            config,
            cursor,
            open: BTreeMap::new(),
            pending: HashMap::new(),
            pending_cursor: None,
            last_activity: None,
            connected: true,
            stats: AssemblerStats::default(),
        }
    }

    /// Every flow with `start_time` below this is accounted for.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// Unique edges waiting for a flush: the buffer that must stay bounded.
    pub fn pending_edges(&self) -> usize {
        self.pending.len()
    }

    /// Connections held in open buckets.
    pub fn open_connections(&self) -> usize {
        self.open.values().map(|b| b.connections.len()).sum()
    }

    /// `start_time_gte` for the next `Flows.Stream`: the cursor (absolute), clamped to
    /// Goldmane's history; before any bucket closed, the oldest open bucket; with neither,
    /// `initial` (0 = live only, or a negative relative backfill such as -3600).
    pub fn resume_from(&self, now: i64, initial: i64) -> i64 {
        let from = if self.cursor > 0 {
            Some(self.cursor)
        } else {
            self.open.keys().next().copied()
        };
        match from {
            Some(t) => t.max(now - GOLDMANE_HISTORY_SECONDS),
            None => initial,
        }
    }

    /// Takes one flow received at wall-clock time `now`.
    pub fn accept(&mut self, flow: &FlowRecord, now: i64) {
        self.stats.flows_received += 1;
        if flow.start_time < self.cursor {
            self.stats.flows_before_cursor += 1;
            return;
        }
        // A flow of a later bucket closes every earlier open bucket.
        let earlier: Vec<i64> = self.open.range(..flow.start_time).map(|(s, _)| *s).collect();
        for start in earlier {
            self.close(start);
        }
        let key = match edge_of(flow) {
            Ok(k) => k,
            Err(e) => {
                match e {
                    Exclusion::SelfEdge => self.stats.excluded_self += 1,
                    Exclusion::NoNamespace => self.stats.excluded_no_namespace += 1,
                    Exclusion::NotAWorkload => self.stats.excluded_not_workload += 1,
                }
                return;
            }
        };
        let new_bucket = !self.open.contains_key(&flow.start_time);
        let bucket = self.open.entry(flow.start_time).or_default();
        bucket.end = bucket.end.max(flow.end_time.max(flow.start_time));
        let conn = ConnKey {
            src_ns: key.src_ns,
            src_name: flow.source_name.clone(),
            dst_ns: key.dst_ns,
            dst_name: flow.dest_name.clone(),
            dst_port: flow.dest_port,
            proto: flow.proto.clone(),
        };
        let changed = match bucket.connections.get_mut(&conn) {
            Some(a) => {
                let combined = a.combine(flow.action);
                let changed = combined != *a;
                *a = combined;
                changed
            }
            None => {
                bucket.connections.insert(conn, flow.action);
                true
            }
        };
        if new_bucket || changed {
            self.last_activity = Some(now);
        }
    }

    /// A stream (re)opened at `now`: the quiet clock restarts, since its backfill is about
    /// to re-send the open buckets.
    pub fn stream_opened(&mut self, now: i64) {
        self.connected = true;
        self.last_activity = Some(now);
    }

    /// The stream ended or broke: open buckets wait for the next stream's backfill.
    pub fn stream_closed(&mut self) {
        self.connected = false;
    }

    /// Closes the open buckets when an open stream has been quiet long enough.
    pub fn tick(&mut self, now: i64) {
        if !self.connected {
            return;
        }
        let quiet = self
            .last_activity
            .is_none_or(|t| now.saturating_sub(t) >= self.config.quiet_close_seconds);
        if quiet && !self.open.is_empty() {
            let starts: Vec<i64> = self.open.keys().copied().collect();
            for s in starts {
                self.close(s);
            }
        }
    }

    fn close(&mut self, start: i64) {
        let Some(bucket) = self.open.remove(&start) else { return };
        let end = bucket.end.max(start);
        for (conn, action) in bucket.connections {
            let key = EdgeKey {
                src_ns: conn.src_ns,
                dst_ns: conn.dst_ns,
                action,
            };
            let delta = EdgeDelta {
                first_seen: start,
                last_seen: end,
                flow_count: 1,
            };
            self.pending.entry(key).and_modify(|d| d.merge(&delta)).or_insert(delta);
            self.stats.connections_counted += 1;
        }
        self.stats.buckets_closed += 1;
        self.cursor = self.cursor.max(end);
        self.pending_cursor = Some(self.pending_cursor.map_or(end, |c| c.max(end)));
    }

    /// Everything closed since the last flush, sorted by key; the pending buffer is
    /// emptied. Hand it back with [`restore`](Self::restore) if the write fails.
    pub fn take_flush(&mut self) -> FlushBatch {
        let mut edges: Vec<(EdgeKey, EdgeDelta)> = self.pending.drain().collect();
        edges.sort_by(|a, b| a.0.cmp(&b.0));
        FlushBatch {
            edges,
            cursor: self.pending_cursor.take(),
        }
    }

    /// Returns a batch that could not be written; merging is commutative, so edges that
    /// closed in the meantime combine with it correctly.
    pub fn restore(&mut self, batch: FlushBatch) {
        for (k, d) in batch.edges {
            self.pending.entry(k).and_modify(|p| p.merge(&d)).or_insert(d);
        }
        if let Some(c) = batch.cursor {
            self.pending_cursor = Some(self.pending_cursor.map_or(c, |p| p.max(c)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EndpointType, Reporter};
    use super::*;

    pub(crate) fn flow(src: &str, dst: &str, reporter: Reporter, action: Action, start: i64) -> FlowRecord {
        let (sn, sp) = src.split_once('/').unwrap_or((src, "pod"));
        let (dn, dp) = dst.split_once('/').unwrap_or((dst, "pod"));
        FlowRecord {
            source_namespace: sn.into(),
            source_name: format!("{sp}-*"),
            source_type: if sn == "-" {
                EndpointType::Network
            } else {
                EndpointType::WorkloadEndpoint
            },
            dest_namespace: dn.into(),
            dest_name: format!("{dp}-*"),
            dest_type: if dn == "-" {
                EndpointType::Network
            } else {
                EndpointType::WorkloadEndpoint
            },
            dest_port: 8080,
            proto: "tcp".into(),
            reporter,
            action,
            start_time: start,
            end_time: start + 15,
            num_connections_started: 1,
        }
    }

    fn edges(a: &mut BucketAssembler) -> Vec<(String, String, Action, i64, i64, i64)> {
        a.take_flush()
            .edges
            .into_iter()
            .map(|(k, d)| (k.src_ns, k.dst_ns, k.action, d.flow_count, d.first_seen, d.last_seen))
            .collect()
    }

    #[test]
    fn one_connection_two_reporters_counts_once_and_deny_wins() {
        let mut a = BucketAssembler::new(AssemblerConfig::default(), 0);
        a.accept(&flow("web/a", "api/b", Reporter::Src, Action::Allow, 1000), 1000);
        a.accept(&flow("web/a", "api/b", Reporter::Dst, Action::Allow, 1000), 1000);
        a.accept(&flow("web/a", "db/c", Reporter::Src, Action::Allow, 1000), 1000);
        a.accept(&flow("web/a", "db/c", Reporter::Dst, Action::Deny, 1000), 1000);
        a.accept(&flow("web/x", "web/y", Reporter::Src, Action::Allow, 1000), 1000);
        a.accept(&flow("-/pub", "web/a", Reporter::Dst, Action::Allow, 1000), 1000);
        assert!(edges(&mut a).is_empty(), "the bucket is still open");
        a.accept(&flow("web/a", "api/b", Reporter::Src, Action::Allow, 1015), 1016);
        assert_eq!(
            edges(&mut a),
            vec![
                ("web".into(), "api".into(), Action::Allow, 1, 1000, 1015),
                ("web".into(), "db".into(), Action::Deny, 1, 1000, 1015),
            ]
        );
        let s = a.stats();
        assert_eq!((s.excluded_self, s.excluded_no_namespace, s.buckets_closed), (1, 1, 1));
        assert_eq!(a.cursor(), 1015);
    }

    #[test]
    fn quiet_stream_closes_and_cursor_skips_replays() {
        let mut a = BucketAssembler::new(
            AssemblerConfig {
                quiet_close_seconds: 30,
            },
            0,
        );
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1000), 1020);
        a.tick(1049);
        assert_eq!(a.pending_edges(), 0, "not quiet long enough");
        a.tick(1050);
        assert_eq!(a.pending_edges(), 1);
        assert_eq!(a.resume_from(1060, 0), 1015);
        // A backfill re-sends the closed bucket: skipped.
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1000), 1061);
        assert_eq!(a.stats().flows_before_cursor, 1);
        let batch = a.take_flush();
        assert_eq!(batch.edges[0].1.flow_count, 1);
        assert_eq!(batch.cursor, Some(1015));
    }

    #[test]
    fn resends_are_idempotent_and_do_not_hold_a_bucket_open() {
        let mut a = BucketAssembler::new(
            AssemblerConfig {
                quiet_close_seconds: 30,
            },
            0,
        );
        let f = flow("web", "api", Reporter::Src, Action::Allow, 1000);
        a.accept(&f, 1020);
        assert_eq!(
            a.resume_from(1025, 0),
            1000,
            "before any close: resume at the oldest open bucket"
        );
        // A server that keeps re-sending the same bucket brings nothing new.
        for t in 1021..1060 {
            a.accept(&f, t);
        }
        a.tick(1050);
        let b = a.take_flush();
        assert_eq!(b.edges.len(), 1, "closed 30 s after the last new information");
        assert_eq!(b.edges[0].1.flow_count, 1, "re-sent flows are not counted again");
    }

    #[test]
    fn a_broken_stream_never_closes_a_bucket_by_time() {
        let mut a = BucketAssembler::new(
            AssemblerConfig {
                quiet_close_seconds: 30,
            },
            0,
        );
        a.stream_opened(1000);
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1000), 1016);
        a.stream_closed();
        a.tick(5000);
        assert_eq!(a.pending_edges(), 0, "partial bucket kept while disconnected");
        a.stream_opened(5001);
        a.accept(&flow("web", "db", Reporter::Src, Action::Allow, 1000), 5002);
        a.tick(5031);
        assert_eq!(a.pending_edges(), 0, "quiet clock restarted at the reconnect");
        a.tick(5032);
        assert_eq!(a.pending_edges(), 2);
    }

    #[test]
    fn failed_flush_is_restored_and_merged() {
        let mut a = BucketAssembler::new(AssemblerConfig::default(), 0);
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1000), 1000);
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1015), 1015);
        let failed = a.take_flush();
        a.accept(&flow("web", "api", Reporter::Src, Action::Allow, 1030), 1030);
        a.restore(failed);
        let b = a.take_flush();
        assert_eq!(b.edges.len(), 1);
        assert_eq!(
            b.edges[0].1,
            EdgeDelta {
                first_seen: 1000,
                last_seen: 1030,
                flow_count: 2
            }
        );
        assert_eq!(b.cursor, Some(1030));
    }

    #[test]
    fn resume_clamps_to_history_and_uses_initial_without_cursor() {
        let a = BucketAssembler::new(AssemblerConfig::default(), 1000);
        assert_eq!(a.resume_from(10_000, 0), 10_000 - GOLDMANE_HISTORY_SECONDS);
        let fresh = BucketAssembler::new(AssemblerConfig::default(), 0);
        assert_eq!(fresh.resume_from(10_000, -3600), -3600);
    }
}
