//! The simulator's gRPC service, bucket ring, clock and control handle.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::topology::{CompiledTopology, ExpectedEdges};
use super::{SimConfig, SimError, SimMode};
use crate::goldmane::proto;
use crate::goldmane::proto::flows_server::{Flows, FlowsServer};

/// Namespace for [`SimServer::start`].
#[derive(Debug)]
pub struct SimServer;

/// Controls a running simulator. Dropping it shuts the server down (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown_tx: Option<oneshot::Sender<()>>,
    serve: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    ticker: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    topology: CompiledTopology,
    mode: SimMode,
    rate_limit: Option<u64>,
    max_streams: usize,
    state: Mutex<State>,
    flows_sent: AtomicU64,
    flows_dropped: AtomicU64,
    open_streams: AtomicUsize,
    /// Bumped by `disconnect_all`, `restart` and `shutdown`: streams opened under an
    /// older epoch end with `Unavailable`.
    epoch: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    /// Start times of the closed buckets still available for backfill, oldest first.
    ring: VecDeque<i64>,
    /// Live streams waiting for the next closed bucket.
    subscribers: Vec<mpsc::Sender<i64>>,
    /// `[first bucket start, last bucket end)` generated so far (contiguous).
    generated: Option<(i64, i64)>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump_epoch(&self) {
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Appends a closed bucket to the ring and hands it to every live stream.
    fn close_bucket(&self, start: i64) {
        let b = self.topology.bucket_seconds();
        let mut st = self.lock();
        st.ring.push_back(start);
        while st.ring.len() > self.topology.spec().history_buckets {
            st.ring.pop_front();
        }
        st.generated = Some(match st.generated {
            Some((first, _)) => (first, start + b),
            None => (start, start + b),
        });
        let flows = self.topology.flows_in_bucket(start);
        st.subscribers.retain(|tx| match tx.try_send(start) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Goldmane drops what a slow stream cannot take; so do we.
                self.flows_dropped.fetch_add(flows, Ordering::Relaxed);
                tracing::warn!(bucket_start = start, "simulator: slow stream, bucket dropped");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}

impl SimServer {
    /// Binds `config.bind`, starts serving `goldmane.Flows` and (in live mode) the bucket
    /// clock. Must be called inside a Tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let topology = config.topology.compile()?;
        let b = topology.bucket_seconds();
        let mut ring = VecDeque::new();
        let mut generated = None;
        let mut next_live_end = None;
        match &config.mode {
            SimMode::Live { prefill_buckets } => {
                let current = now_secs().div_euclid(b) * b;
                let n = (*prefill_buckets).min(topology.spec().history_buckets) as i64;
                ring.extend((0..n).map(|k| current - (n - k) * b));
                if n > 0 {
                    generated = Some((current - n * b, current));
                }
                next_live_end = Some(current + b);
            }
            SimMode::Burst { t0, buckets } => {
                ring.extend((0..*buckets as i64).map(|k| t0 + k * b));
                if *buckets > 0 {
                    generated = Some((*t0, t0 + *buckets as i64 * b));
                }
            }
        }
        let (epoch, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            topology,
            mode: config.mode.clone(),
            rate_limit: config.rate_limit.filter(|r| *r > 0),
            max_streams: config.max_streams,
            state: Mutex::new(State {
                ring,
                subscribers: Vec::new(),
                generated,
            }),
            flows_sent: AtomicU64::new(0),
            flows_dropped: AtomicU64::new(0),
            open_streams: AtomicUsize::new(0),
            epoch,
        });

        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;

        let mut builder = Server::builder();
        if let Some(tls) = &config.tls {
            let mut server_tls = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
            if let Some(ca) = &tls.client_ca_pem {
                server_tls = server_tls.client_ca_root(Certificate::from_pem(ca));
            }
            builder = builder
                .tls_config(server_tls)
                .map_err(|e| SimError::Tls(e.to_string()))?;
        }
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let service =
            FlowsServer::new(FlowsService { shared: shared.clone() }).max_encoding_message_size(16 * 1024 * 1024);
        let router = builder.add_service(service);
        let serve = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = shutdown_rx.await;
                })
                .await
        });
        let ticker = next_live_end.map(|end| tokio::spawn(tick(shared.clone(), end)));
        tracing::info!(%addr, tls = config.tls.is_some(), "goldmane simulator listening");
        Ok(SimHandle {
            addr,
            shared,
            shutdown_tx: Some(shutdown_tx),
            serve: Some(serve),
            ticker,
        })
    }
}

/// Live clock: closes each wall-clock bucket right after it ends (catching up if late).
async fn tick(shared: Arc<Shared>, mut next_end: i64) {
    let b = shared.topology.bucket_seconds();
    loop {
        let wait_ms = next_end * 1000 - now_millis();
        if wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(wait_ms as u64 + 5)).await;
            continue;
        }
        shared.close_bucket(next_end - b);
        next_end += b;
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Flow messages handed to the transport so far, over all streams.
    pub fn flows_sent(&self) -> u64 {
        self.shared.flows_sent.load(Ordering::Relaxed)
    }

    /// Flow messages a too-slow live stream could not take (like Goldmane, dropped).
    pub fn flows_dropped(&self) -> u64 {
        self.shared.flows_dropped.load(Ordering::Relaxed)
    }

    /// Streams currently open.
    pub fn open_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` streams are open (tests: "the client is subscribed").
    pub async fn wait_for_open_streams(&self, n: usize) {
        while self.open_streams() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn bucket_seconds(&self) -> i64 {
        self.shared.topology.bucket_seconds()
    }

    pub fn topology(&self) -> &CompiledTopology {
        &self.shared.topology
    }

    /// Ends every open stream with `Unavailable` (the client sees an error and reconnects).
    /// Streams opened afterwards are unaffected.
    pub fn disconnect_all(&self) {
        self.shared.bump_epoch();
    }

    /// Simulates a Goldmane restart: the ring (history) is dropped and every stream ends.
    /// Live mode: the clock keeps running and new buckets fill the ring as they close.
    /// Burst mode: the burst is gone; new streams stay silent.
    pub fn restart(&self) {
        self.shared.lock().ring.clear();
        self.shared.bump_epoch();
    }

    /// `[first bucket start, last bucket end)` generated so far: live mode grows as
    /// buckets close; burst mode is fixed at start.
    pub fn generated_range(&self) -> Option<(i64, i64)> {
        self.shared.lock().generated
    }

    /// Start times of the buckets currently in the ring (available for backfill).
    pub fn history(&self) -> Vec<i64> {
        self.shared.lock().ring.iter().copied().collect()
    }

    /// Burst mode: the number of flow messages one stream from `T0` receives in total.
    pub fn total_flows(&self) -> Option<u64> {
        match &self.shared.mode {
            SimMode::Burst { t0, buckets } => {
                let b = self.bucket_seconds();
                Some(
                    (0..*buckets as i64)
                        .map(|k| self.shared.topology.flows_in_bucket(t0 + k * b))
                        .sum(),
                )
            }
            SimMode::Live { .. } => None,
        }
    }

    /// Ground truth for the generated buckets whose start lies in `[from, to)`.
    pub fn expected_edges(&self, from: i64, to: i64) -> ExpectedEdges {
        let b = self.bucket_seconds();
        let Some((first, end)) = self.generated_range() else {
            return ExpectedEdges::new();
        };
        let k0 = if from > first { (from - first + b - 1) / b } else { 0 };
        let starts = (k0..).map(|k| first + k * b).take_while(|s| *s < to && *s + b <= end);
        self.shared.topology.expected_edges(starts)
    }

    /// Ends every stream, stops accepting and waits (up to 5 s) for the server to stop.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(serve) = self.serve.take() {
            let abort = serve.abort_handle();
            match tokio::time::timeout(Duration::from_secs(5), serve).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "goldmane simulator stopped with an error"),
                Ok(Err(_)) => {}
                Err(_) => abort.abort(),
            }
        }
    }

    fn stop(&mut self) {
        self.shared.bump_epoch();
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.shared.lock().subscribers.clear();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

struct FlowsService {
    shared: Arc<Shared>,
}

type ResultStream = Pin<Box<dyn futures::Stream<Item = Result<proto::FlowResult, Status>> + Send>>;

#[tonic::async_trait]
impl Flows for FlowsService {
    async fn list(&self, _: Request<proto::FlowListRequest>) -> Result<Response<proto::FlowListResult>, Status> {
        Err(Status::unimplemented(
            "the goldmane simulator only implements Flows.Stream",
        ))
    }

    type StreamStream = ResultStream;

    async fn stream(&self, request: Request<proto::FlowStreamRequest>) -> Result<Response<ResultStream>, Status> {
        let shared = self.shared.clone();
        let guard = StreamGuard::acquire(&shared)
            .ok_or_else(|| Status::resource_exhausted("max number of streams reached, try again later"))?;
        let start_time_gte = request.get_ref().start_time_gte;
        let epoch_rx = shared.epoch.subscribe();
        let epoch = *epoch_rx.borrow();

        let (backfill, live) = {
            let mut st = shared.lock();
            match shared.mode {
                SimMode::Live { .. } => {
                    let from = match start_time_gte {
                        0 => None,
                        t if t < 0 => Some(now_secs() + t),
                        t => Some(t),
                    };
                    let backfill: VecDeque<i64> = match from {
                        Some(from) => st.ring.iter().copied().filter(|s| *s >= from).collect(),
                        None => VecDeque::new(),
                    };
                    let (tx, rx) = mpsc::channel(2 * shared.topology.spec().history_buckets.max(1));
                    st.subscribers.push(tx);
                    (backfill, Some(rx))
                }
                // Virtual clock: the whole burst is "history"; > 0 resumes from a time.
                SimMode::Burst { .. } => {
                    let backfill = st
                        .ring
                        .iter()
                        .copied()
                        .filter(|s| start_time_gte <= 0 || *s >= start_time_gte);
                    (backfill.collect(), None)
                }
            }
        };
        tracing::debug!(start_time_gte, backfill = backfill.len(), "simulator stream opened");
        let rate = shared.rate_limit.map(|per_sec| Pacer {
            per_sec,
            start: Instant::now(),
            sent: 0,
        });
        let state = StreamState {
            shared,
            epoch,
            epoch_rx,
            pending: backfill,
            current: Vec::new().into_iter(),
            live,
            rate,
            done: false,
            _guard: guard,
        };
        let stream = futures::stream::unfold(state, |mut s| async move { s.next().await.map(|item| (item, s)) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn filter_hints(
        &self,
        _: Request<proto::FilterHintsRequest>,
    ) -> Result<Response<proto::FilterHintsResult>, Status> {
        Err(Status::unimplemented(
            "the goldmane simulator only implements Flows.Stream",
        ))
    }
}

/// Counts open streams; enforces the cap.
struct StreamGuard {
    shared: Arc<Shared>,
}

impl StreamGuard {
    fn acquire(shared: &Arc<Shared>) -> Option<StreamGuard> {
        let max = shared.max_streams;
        shared
            .open_streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| StreamGuard { shared: shared.clone() })
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.shared.open_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Per-stream pacing to `per_sec` flows per second.
struct Pacer {
    per_sec: u64,
    start: Instant,
    sent: u64,
}

impl Pacer {
    fn due(&self) -> Instant {
        self.start + Duration::from_secs_f64(self.sent as f64 / self.per_sec as f64)
    }
}

struct StreamState {
    shared: Arc<Shared>,
    epoch: u64,
    epoch_rx: watch::Receiver<u64>,
    pending: VecDeque<i64>,
    current: std::vec::IntoIter<proto::FlowResult>,
    live: Option<mpsc::Receiver<i64>>,
    rate: Option<Pacer>,
    done: bool,
    _guard: StreamGuard,
}

impl StreamState {
    fn disconnected(&self) -> bool {
        *self.epoch_rx.borrow() != self.epoch
    }

    async fn next(&mut self) -> Option<Result<proto::FlowResult, Status>> {
        if self.done {
            return None;
        }
        loop {
            if self.disconnected() {
                self.done = true;
                return Some(Err(Status::unavailable("goldmane simulator: stream disconnected")));
            }
            if !self.current.as_slice().is_empty() {
                if let Some(pacer) = &self.rate {
                    let due = pacer.due();
                    if due > Instant::now() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(due) => {}
                            _ = self.epoch_rx.changed() => continue,
                        }
                    }
                }
                let item = self.current.next()?;
                if let Some(pacer) = &mut self.rate {
                    pacer.sent += 1;
                }
                self.shared.flows_sent.fetch_add(1, Ordering::Relaxed);
                return Some(Ok(item));
            }
            if let Some(start) = self.pending.pop_front() {
                self.current = self.shared.topology.bucket_results(start).into_iter();
                continue;
            }
            // Caught up: wait for the next live bucket (burst mode: idle like a quiet
            // cluster) or a disconnect.
            let live = self.live.as_mut();
            tokio::select! {
                changed = self.epoch_rx.changed() => {
                    if changed.is_err() {
                        // Sender gone: the simulator is shutting down.
                        self.epoch = self.epoch.wrapping_add(1);
                    }
                }
                bucket = recv_or_pending(live) => match bucket {
                    Some(start) => self.pending.push_back(start),
                    None => self.live = None,
                },
            }
        }
    }
}

async fn recv_or_pending(rx: Option<&mut mpsc::Receiver<i64>>) -> Option<i64> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
