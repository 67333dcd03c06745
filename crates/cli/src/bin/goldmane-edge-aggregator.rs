//! `goldmane-edge-aggregator`: the flow trail's Deployment (`aggregate`, the default)
//! and daily CronJob (`digest`). A drop-in for the original image: same modes, same
//! environment, same `edge` table.
//!
//! Environment:
//! - `GOLDMANE_HOST`, `GOLDMANE_SERVER_NAME`, `GOLDMANE_TLS_INSECURE`, `GOLDMANE_CA_FILE`,
//!   `GOLDMANE_CERT_FILE`, `GOLDMANE_KEY_FILE` — the Goldmane mTLS client;
//! - `DATABASE_URL` — `postgres://…` or `sqlite:///abs/path.db`; unset = a local SQLite file;
//! - `FLUSH_INTERVAL` (default `15s`), `BUCKET_QUIET_CLOSE` (default `30s`), `METRICS_ADDR`
//!   (default `0.0.0.0:9090`);
//! - digest: `SLACK_WEBHOOK_URL` (empty = print), `DRY_RUN=1`, `DIGEST_WINDOW` (default `24h`).
//!
//! The settings are read by `homelab_flows::aggregator::Settings` and
//! `homelab_flows::digest::Settings`; this binary only wires them.
//!
//! Exit codes: 0 clean shutdown / digest done (posted, printed or nothing new);
//! 1 failure (configuration, store, Slack rejected the post); 2 bad arguments.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use homelab_cli::exit;
use homelab_flows::aggregator::{self, unix_now};
use homelab_flows::digest::{self, DigestOutcome};
use homelab_flows::goldmane::GoldmaneConfig;

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
    homelab_cli::ctx::init();
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
    std::env::var(name).ok()
}

async fn aggregate() -> anyhow::Result<()> {
    // Validate every setting before touching the network.
    let settings = aggregator::Settings::from_env(&env)?;
    let store = Arc::new(settings.open_store_lazy()?);
    let goldmane = GoldmaneConfig::from_env().context("Goldmane client configuration")?;
    aggregator::serve_and_run(&settings, store, goldmane, wait_for_signal()).await?;
    Ok(())
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
    let settings = digest::Settings::from_env(&env)?;
    let store = settings.open_store().await?;
    let config = settings.config;
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
