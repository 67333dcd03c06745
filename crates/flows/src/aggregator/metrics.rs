//! The aggregator's health and Prometheus metrics (the original had none).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use homelab_core::flows::assembler::BucketAssembler;

/// Counters and gauges, updated by the aggregator tasks and read by `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    flows_received: AtomicU64,
    edges_upserted: AtomicU64,
    flushes: AtomicU64,
    flush_errors: AtomicU64,
    reconnects: AtomicU64,
    last_flush: AtomicI64,
    last_flow: AtomicI64,
    disconnected_since: AtomicI64,
    buffered_edges: AtomicU64,
    open_connections: AtomicU64,
    cursor: AtomicI64,
    excluded_self: AtomicU64,
    excluded_no_namespace: AtomicU64,
    excluded_not_workload: AtomicU64,
    before_cursor: AtomicU64,
    connected: AtomicBool,
    store_ok: AtomicBool,
    backpressure: AtomicBool,
}

impl Metrics {
    pub fn new(now: i64) -> Self {
        let m = Self::default();
        m.disconnected_since.store(now, Relaxed);
        m
    }

    pub(crate) fn flow_received(&self, now: i64) {
        self.flows_received.fetch_add(1, Relaxed);
        self.last_flow.store(now, Relaxed);
    }

    pub(crate) fn flushed(&self, edges: u64, now: i64) {
        self.edges_upserted.fetch_add(edges, Relaxed);
        self.flushes.fetch_add(1, Relaxed);
        self.last_flush.store(now, Relaxed);
        self.store_ok.store(true, Relaxed);
    }

    pub(crate) fn flush_failed(&self) {
        self.flush_errors.fetch_add(1, Relaxed);
        self.store_ok.store(false, Relaxed);
    }

    pub(crate) fn reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub(crate) fn set_connected(&self, up: bool) {
        let was = self.connected.swap(up, Relaxed);
        if was && !up {
            self.disconnected_since.store(super::unix_now(), Relaxed);
        }
    }

    pub(crate) fn set_store_ok(&self, ok: bool) {
        self.store_ok.store(ok, Relaxed);
    }

    pub(crate) fn set_backpressure(&self, on: bool) {
        self.backpressure.store(on, Relaxed);
    }

    pub(crate) fn observe_assembler(&self, a: &BucketAssembler) {
        let s = a.stats();
        self.buffered_edges.store(a.pending_edges() as u64, Relaxed);
        self.open_connections.store(a.open_connections() as u64, Relaxed);
        self.cursor.store(a.cursor(), Relaxed);
        self.excluded_self.store(s.excluded_self, Relaxed);
        self.excluded_no_namespace.store(s.excluded_no_namespace, Relaxed);
        self.excluded_not_workload.store(s.excluded_not_workload, Relaxed);
        self.before_cursor.store(s.flows_before_cursor, Relaxed);
    }

    pub fn flows_received(&self) -> u64 {
        self.flows_received.load(Relaxed)
    }

    pub fn edges_upserted(&self) -> u64 {
        self.edges_upserted.load(Relaxed)
    }

    pub fn flush_errors(&self) -> u64 {
        self.flush_errors.load(Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Relaxed)
    }

    pub fn buffered_edges(&self) -> u64 {
        self.buffered_edges.load(Relaxed)
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Relaxed)
    }

    /// Ready: the store answers, and the stream is up or has been down for less than
    /// five minutes (a Goldmane restart is normal; a long outage means no edges land).
    pub fn ready(&self, now: i64) -> Result<(), &'static str> {
        if !self.store_ok.load(Relaxed) {
            return Err("edge store unreachable");
        }
        if !self.connected() && now - self.disconnected_since.load(Relaxed) > 300 {
            return Err("no Goldmane stream for more than 5 minutes");
        }
        Ok(())
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        let c = |a: &AtomicU64| a.load(Relaxed).to_string();
        let g = |a: &AtomicI64| a.load(Relaxed).to_string();
        let b = |a: &AtomicBool| u8::from(a.load(Relaxed)).to_string();
        metric(
            "goldmane_edges_flows_received_total",
            "counter",
            "Flows received from Goldmane.",
            c(&self.flows_received),
        );
        metric(
            "goldmane_edges_edges_upserted_total",
            "counter",
            "Edge deltas written to the store.",
            c(&self.edges_upserted),
        );
        metric(
            "goldmane_edges_flushes_total",
            "counter",
            "Successful flushes.",
            c(&self.flushes),
        );
        metric(
            "goldmane_edges_flush_errors_total",
            "counter",
            "Failed flushes (the batch is kept and retried).",
            c(&self.flush_errors),
        );
        metric(
            "goldmane_edges_reconnects_total",
            "counter",
            "Goldmane stream reconnects.",
            c(&self.reconnects),
        );
        metric(
            "goldmane_edges_last_flush_timestamp_seconds",
            "gauge",
            "Unix time of the last successful flush.",
            g(&self.last_flush),
        );
        metric(
            "goldmane_edges_last_flow_timestamp_seconds",
            "gauge",
            "Unix time the last flow was received.",
            g(&self.last_flow),
        );
        metric(
            "goldmane_edges_buffered_edges",
            "gauge",
            "Unique edge deltas waiting for a flush.",
            c(&self.buffered_edges),
        );
        metric(
            "goldmane_edges_open_connections",
            "gauge",
            "Connections held in open buckets.",
            c(&self.open_connections),
        );
        metric(
            "goldmane_edges_cursor_timestamp_seconds",
            "gauge",
            "End of the newest closed bucket.",
            g(&self.cursor),
        );
        metric(
            "goldmane_edges_stream_connected",
            "gauge",
            "1 while a Goldmane stream is open.",
            b(&self.connected),
        );
        metric(
            "goldmane_edges_store_up",
            "gauge",
            "1 when the last store operation succeeded.",
            b(&self.store_ok),
        );
        metric(
            "goldmane_edges_backpressure",
            "gauge",
            "1 while reading is paused for a full buffer.",
            b(&self.backpressure),
        );
        let _ = writeln!(
            out,
            "# HELP goldmane_edges_flows_excluded_total Flows that make no edge, by reason.\n# TYPE goldmane_edges_flows_excluded_total counter"
        );
        for (reason, v) in [
            ("self_edge", &self.excluded_self),
            ("no_namespace", &self.excluded_no_namespace),
            ("not_workload", &self.excluded_not_workload),
            ("before_cursor", &self.before_cursor),
        ] {
            let _ = writeln!(
                out,
                "goldmane_edges_flows_excluded_total{{reason=\"{reason}\"}} {}",
                v.load(Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_judges_readiness() {
        let m = Metrics::new(1000);
        assert_eq!(m.ready(1000), Err("edge store unreachable"));
        m.set_store_ok(true);
        assert_eq!(m.ready(1200), Ok(()));
        assert!(m.ready(1301).is_err(), "disconnected for more than 5 minutes");
        m.set_connected(true);
        assert_eq!(m.ready(5000), Ok(()));
        m.flow_received(1001);
        m.flushed(3, 1002);
        let text = m.render();
        assert!(text.contains("goldmane_edges_flows_received_total 1\n"));
        assert!(text.contains("goldmane_edges_edges_upserted_total 3\n"));
        assert!(text.contains("# TYPE goldmane_edges_stream_connected gauge\ngoldmane_edges_stream_connected 1\n"));
        assert!(text.contains("goldmane_edges_flows_excluded_total{reason=\"self_edge\"} 0\n"));
    }
}
