//! The Deployment's whole run: the Goldmane client, the `/healthz` `/readyz` `/metrics`
//! listener and the aggregator loop, until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::watch;

use super::{AggregatorError, Metrics, Settings, run, serve, unix_now};
use crate::goldmane::{GoldmaneClient, GoldmaneConfig, GoldmaneError};
use crate::store::EdgeStore;

/// Why the service could not start or stopped with an error. The text is the step; the
/// cause is the error's source (one line each, as `{:#}` prints them).
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("Goldmane client")]
    Goldmane(#[source] GoldmaneError),
    #[error("cannot listen on METRICS_ADDR {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Aggregator(#[from] AggregatorError),
}

/// Builds the Goldmane client from `goldmane`, listens on `settings.metrics_addr`, and
/// runs the aggregator into `store` until `shutdown` completes; then flushes the closed
/// buckets and stops the listener. Needs a rustls crypto provider installed for the
/// process (the binaries install one at start).
pub async fn serve_and_run<St: EdgeStore + 'static>(
    settings: &Settings,
    store: Arc<St>,
    goldmane: GoldmaneConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let source = GoldmaneClient::new(goldmane).map_err(ServeError::Goldmane)?;
    let metrics_addr = settings.metrics_addr;
    let listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: metrics_addr,
            source,
        })?;
    let metrics = Arc::new(Metrics::new(unix_now()));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested; flushing");
        let _ = stop_tx.send(true);
    });
    let http = tokio::spawn(serve(listener, Arc::clone(&metrics), stop_rx.clone()));
    tracing::info!(%metrics_addr, flush_interval = ?settings.flush_interval, "goldmane-edge-aggregator starting");
    let result = run(source, store, settings.aggregator_config(), metrics, stop_rx).await;
    let _ = http.await;
    result.map_err(Into::into)
}
