//! The edge aggregator: Goldmane stream in, edge table out.
//!
//! Two tasks share a [`BucketAssembler`] behind a mutex held only for in-memory work:
//! - the **receiver** opens `Flows.Stream` at the assembler's resume cursor, feeds every
//!   flow in, and on any stream end or error reconnects with capped exponential backoff
//!   (a new channel each time, so DNS is re-resolved). It never waits on the database.
//! - the **flusher** wakes every `FLUSH_INTERVAL`, takes the closed buckets' edge deltas
//!   and writes them with their cursor in one statement and one transaction. A failed
//!   write puts the batch back (deltas merge commutatively) and is retried next time;
//!   meanwhile the stream keeps flowing into bounded memory (unique edges, not flows).
//!
//! If the buffer of unique edges ever exceeds its cap, the receiver stops reading and
//! reconnects from the cursor once the flusher has drained it: Goldmane backfills up to
//! an hour, so backpressure loses nothing. On shutdown the closed buckets are flushed;
//! open buckets are not closed early (they may be partial) — the stored cursor makes the
//! next process backfill them, so a restart neither loses nor double-counts.

mod http;
mod metrics;
mod service;
pub(crate) mod settings;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use homelab_core::flows::FlushBatch;
use homelab_core::flows::assembler::{AssemblerConfig, BucketAssembler, GOLDMANE_HISTORY_SECONDS};
use thiserror::Error;
use tokio::sync::watch;

pub use http::serve;
pub use metrics::Metrics;
pub use service::{ServeError, serve_and_run};
pub use settings::{Lookup, Settings, SettingsError};

use crate::goldmane::{Backoff, FlowSource};
use crate::store::{EdgeStore, StoreError};

/// Tuning, from the environment in the binary.
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// `FLUSH_INTERVAL`, default 15 s.
    pub flush_interval: Duration,
    /// Close open buckets after this long without a flow (default 30 s).
    pub quiet_close: Duration,
    /// Stop reading the stream above this many buffered unique edges.
    pub max_buffered_edges: usize,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(15),
            quiet_close: Duration::from_secs(30),
            max_buffered_edges: 1_000_000,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
        }
    }
}

/// Why the aggregator could not start.
#[derive(Debug, Error)]
pub enum AggregatorError {
    #[error("edge store: {0}")]
    Store(#[from] StoreError),
}

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn lock(a: &Mutex<BucketAssembler>) -> MutexGuard<'_, BucketAssembler> {
    // A panic while holding the lock would be a bug in pure code; keep going with the
    // data rather than poisoning the whole aggregator.
    a.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs until `shutdown` turns true: migrates the store, reads the stored cursor, then
/// streams and flushes. Returns after the final flush.
pub async fn run<S, St>(
    source: S,
    store: Arc<St>,
    config: AggregatorConfig,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AggregatorError>
where
    S: FlowSource + 'static,
    St: EdgeStore + 'static,
{
    // The cursor decides where the stream resumes; without the store we cannot know it,
    // so wait for the store (not ready meanwhile) instead of guessing and double-counting.
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_cap);
    let (cursor, empty) = loop {
        match startup(store.as_ref()).await {
            Ok(v) => break v,
            Err(e) => {
                metrics.set_store_ok(false);
                tracing::warn!(error = %e, "edge store not available yet; retrying");
                if sleep_or_shutdown(backoff.next_delay(), &mut shutdown).await {
                    return Err(e.into());
                }
            }
        }
    };
    metrics.set_store_ok(true);
    // Nothing stored at all: backfill Goldmane's whole hour. Data but no cursor (a table
    // written by the original aggregator): start live, so nothing is counted twice.
    let initial = if cursor.is_some() || !empty {
        0
    } else {
        -GOLDMANE_HISTORY_SECONDS
    };
    tracing::info!(cursor = ?cursor, initial, "aggregator starting");
    let assembler = Arc::new(Mutex::new(BucketAssembler::new(
        AssemblerConfig {
            quiet_close_seconds: config.quiet_close.as_secs().max(1) as i64,
        },
        cursor.unwrap_or(0),
    )));

    let receiver = tokio::spawn(receive(
        source,
        Arc::clone(&assembler),
        config.clone(),
        initial,
        Arc::clone(&metrics),
        shutdown.clone(),
    ));

    let mut ticker = tokio::time::interval(config.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                flush_once(&assembler, store.as_ref(), &metrics, true).await;
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    // Final flush: closed buckets only. Retry briefly; what still fails is recovered by
    // the next process from the stored cursor (Goldmane keeps an hour).
    let _ = receiver.await;
    for attempt in 1..=3 {
        if flush_once(&assembler, store.as_ref(), &metrics, false).await {
            break;
        }
        tracing::warn!(attempt, "final flush failed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tracing::info!("aggregator stopped");
    Ok(())
}

async fn startup<St: EdgeStore>(store: &St) -> Result<(Option<i64>, bool), StoreError> {
    store.migrate().await?;
    let cursor = store.cursor().await?;
    let empty = store.observed_since().await?.is_none();
    Ok((cursor, empty))
}

/// Waits `d`; true when shutdown was requested meanwhile.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

async fn receive<S: FlowSource>(
    mut source: S,
    assembler: Arc<Mutex<BucketAssembler>>,
    config: AggregatorConfig,
    initial: i64,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_cap);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Backpressure: let the flusher drain before reading more.
        if lock(&assembler).pending_edges() >= config.max_buffered_edges {
            metrics.set_backpressure(true);
            if sleep_or_shutdown(Duration::from_millis(500), &mut shutdown).await {
                return;
            }
            continue;
        }
        metrics.set_backpressure(false);
        let from = lock(&assembler).resume_from(unix_now(), initial);
        tracing::debug!(start_time_gte = from, "opening Flows.Stream");
        let mut received = 0u64;
        match source.open(from).await {
            Ok(mut stream) => {
                metrics.set_connected(true);
                lock(&assembler).stream_opened(unix_now());
                tracing::info!(start_time_gte = from, "streaming flows from Goldmane");
                loop {
                    tokio::select! {
                        item = stream.next() => match item {
                            Some(Ok(flow)) => {
                                let now = unix_now();
                                let pending = {
                                    let mut a = lock(&assembler);
                                    a.accept(&flow, now);
                                    a.pending_edges()
                                };
                                received += 1;
                                metrics.flow_received(now);
                                if received == 1 {
                                    backoff.reset();
                                }
                                if pending >= config.max_buffered_edges {
                                    tracing::warn!(pending, "edge buffer full; pausing the stream until the store catches up");
                                    break;
                                }
                            }
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "Goldmane stream failed");
                                break;
                            }
                            None => {
                                tracing::info!("Goldmane closed the stream");
                                break;
                            }
                        },
                        changed = shutdown.changed() => {
                            if changed.is_err() || *shutdown.borrow() {
                                metrics.set_connected(false);
                                return;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open the Goldmane stream"),
        }
        metrics.set_connected(false);
        lock(&assembler).stream_closed();
        metrics.reconnect();
        let delay = backoff.next_delay();
        if sleep_or_shutdown(delay, &mut shutdown).await {
            return;
        }
    }
}

/// One flush. `close_quiet`: also close buckets of a quiet stream first (not at
/// shutdown). Returns whether the store has everything that was pending.
async fn flush_once<St: EdgeStore>(
    assembler: &Mutex<BucketAssembler>,
    store: &St,
    metrics: &Metrics,
    close_quiet: bool,
) -> bool {
    let batch: FlushBatch = {
        let mut a = lock(assembler);
        if close_quiet {
            a.tick(unix_now());
        }
        metrics.observe_assembler(&a);
        a.take_flush()
    };
    if batch.is_empty() {
        // Nothing to write; still tell readiness whether the store answers.
        let ok = store.ping().await.is_ok();
        metrics.set_store_ok(ok);
        return true;
    }
    let edges = batch.edges.len() as u64;
    match store.apply(&batch).await {
        Ok(()) => {
            metrics.flushed(edges, unix_now());
            tracing::debug!(edges, cursor = ?batch.cursor, "flushed");
            true
        }
        Err(e) => {
            metrics.flush_failed();
            tracing::warn!(error = %e, edges, "flush failed; keeping the batch in memory");
            let mut a = lock(assembler);
            a.restore(batch);
            metrics.observe_assembler(&a);
            false
        }
    }
}
