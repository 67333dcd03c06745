//! `goldmane-edge-aggregator`: the flow trail's Deployment (`aggregate`, the default)
//! and daily CronJob (`digest`). A drop-in for the original image: same modes, same
//! environment, same `edge` table.
//!
//! Environment:
//! - `GOLDMANE_HOST`, `GOLDMANE_SERVER_NAME`, `GOLDMANE_TLS_INSECURE`, `GOLDMANE_CA_FILE`,
//!   `GOLDMANE_CERT_FILE`, `GOLDMANE_KEY_FILE` — the Goldmane mTLS client;
//! - `DATABASE_URL` — `postgres://…` or `sqlite:///abs/path.db`; unset = a local SQLite file;
//! - `FLUSH_INTERVAL` (default `15s`), `METRICS_ADDR` (default `0.0.0.0:9090`);
//! - digest: `SLACK_WEBHOOK_URL` (empty = print), `DRY_RUN=1`, `DIGEST_WINDOW` (default `24h`).
//!
//! Exit codes: 0 clean shutdown / digest done (posted, printed or nothing new);
//! 1 failure (configuration, store, Slack rejected the post); 2 bad arguments.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use homelab_cli::exit;
use homelab_core::time::parse_duration;
use homelab_flows::aggregator::{self, AggregatorConfig, Metrics, unix_now};
use homelab_flows::digest::{self, DigestConfig, DigestOutcome};
use homelab_flows::goldmane::{GoldmaneClient, GoldmaneConfig};
use homelab_flows::store::{self, AnyStore};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "goldmane-edge-aggregator",
    version,
    about = "Keep Goldmane's who-talks-to-whom edges in a database"
)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Stream Goldmane's flows and upsert namespace edges (the Deployment). Default.
    Aggregate,
    /// Post the edges first seen in the window to Slack (the CronJob).
    Digest,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return homelab_cli::fail::usage_with(e, exit::service::USAGE, "goldmane-edge-aggregator"),
    };
    // The Deployment's logs are the first thing an operator reads: info by default.
    homelab_cli::logging::init(args.verbose.max(1));
    let rt = match homelab_cli::ctx::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goldmane-edge-aggregator: error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::service::FAILED);
        }
    };
    let result = rt.block_on(async {
        match args.mode.unwrap_or(Mode::Aggregate) {
            Mode::Aggregate => aggregate().await,
            Mode::Digest => run_digest().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goldmane-edge-aggregator: error: {e:#}");
            ExitCode::from(exit::service::FAILED)
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn duration_env(name: &str, default: &str) -> anyhow::Result<Duration> {
    let raw = env(name).unwrap_or_else(|| default.to_owned());
    let secs = raw
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .or_else(|| parse_duration(raw.trim()))
        .ok_or_else(|| anyhow!("{name}={raw:?} is not a duration (e.g. 15s, 1m, 24h)"))?;
    Ok(Duration::from_secs(secs as u64))
}

async fn open_store() -> anyhow::Result<AnyStore> {
    let url = env("DATABASE_URL").unwrap_or_else(store::default_sqlite_url);
    store::connect(&url).await.context("DATABASE_URL")
}

async fn aggregate() -> anyhow::Result<()> {
    // Validate every setting before touching the network.
    let flush_interval = duration_env("FLUSH_INTERVAL", "15s")?;
    let quiet_close = duration_env("BUCKET_QUIET_CLOSE", "30s")?;
    let metrics_addr: SocketAddr = env("METRICS_ADDR")
        .unwrap_or_else(|| "0.0.0.0:9090".into())
        .parse()
        .context("METRICS_ADDR must be host:port")?;
    let url = env("DATABASE_URL").unwrap_or_else(store::default_sqlite_url);
    // Lazy: a database that is down at startup is retried (not ready meanwhile), not a
    // crash loop. The URL itself is checked now.
    let store = Arc::new(store::connect_lazy(&url).context("DATABASE_URL")?);
    let goldmane = GoldmaneConfig::from_env().context("Goldmane client configuration")?;
    let source = GoldmaneClient::new(goldmane).context("Goldmane client")?;
    let listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("cannot listen on METRICS_ADDR {metrics_addr}"))?;
    let metrics = Arc::new(Metrics::new(unix_now()));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; flushing");
        let _ = stop_tx.send(true);
    });
    let http = tokio::spawn(aggregator::serve(listener, Arc::clone(&metrics), stop_rx.clone()));
    tracing::info!(%metrics_addr, ?flush_interval, "goldmane-edge-aggregator starting");
    let config = AggregatorConfig {
        flush_interval,
        quiet_close,
        ..AggregatorConfig::default()
    };
    let result = aggregator::run(source, store, config, metrics, stop_rx).await;
    let _ = http.await;
    result.map_err(Into::into)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn run_digest() -> anyhow::Result<()> {
    let window = duration_env("DIGEST_WINDOW", "24h")?;
    let label = env("DIGEST_WINDOW").unwrap_or_else(|| "24h".into());
    let dry_run = env("DRY_RUN").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let store = open_store().await?;
    let config = DigestConfig {
        window_seconds: window.as_secs() as i64,
        window_label: label,
        webhook: env("SLACK_WEBHOOK_URL"),
        dry_run,
    };
    match digest::run(&store, &config, unix_now()).await? {
        DigestOutcome::Quiet => tracing::info!("no new edges in the last {}; nothing to post", config.window_label),
        DigestOutcome::DryRun(text) => {
            if config.webhook.is_none() {
                tracing::info!("SLACK_WEBHOOK_URL is empty: printing instead of posting");
            }
            print!("{text}");
        }
        DigestOutcome::Posted { edges } => tracing::info!(edges, "digest posted to Slack"),
    }
    Ok(())
}
