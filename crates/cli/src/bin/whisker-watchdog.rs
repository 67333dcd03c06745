//! `whisker-watchdog`: self-heal a wedged Whisker backend (CronJob, every 10 minutes).
//!
//! Restarts (deletes) the Whisker pod only when its backend logged at least THRESHOLD
//! Goldmane-connection errors in the window AND Goldmane is Ready. Exit 0 when it
//! decided (healthy, held, restarted); 1 when the Kubernetes API failed; 2 on bad
//! arguments. RBAC it needs, in the Whisker namespace only: pods get/list/delete,
//! pods/log get (see deploy/whisker-watchdog/).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use homelab_cli::exit;
use homelab_core::watchdog::{DEFAULT_THRESHOLD, DEFAULT_WINDOW_SECONDS};
use homelab_k8s::{KubeconfigOptions, WhiskerTarget, WhiskerWatchdog};

#[derive(Debug, Parser)]
#[command(
    name = "whisker-watchdog",
    version,
    about = "Restart Whisker when its backend is wedged and Goldmane is Ready"
)]
struct Args {
    /// Namespace of Whisker and Goldmane.
    #[arg(long, env = "WHISKER_NAMESPACE", default_value = "calico-system")]
    namespace: String,
    /// Errors in the window that make the backend wedged.
    #[arg(long, env = "WATCHDOG_THRESHOLD", default_value_t = DEFAULT_THRESHOLD as u64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    threshold: u64,
    /// Log window in seconds.
    #[arg(long, env = "WATCHDOG_WINDOW_SECONDS", default_value_t = DEFAULT_WINDOW_SECONDS, value_parser = clap::value_parser!(i64).range(60..=86_400))]
    window_seconds: i64,
    /// Decide and print, but do not delete anything (DRY_RUN=1).
    #[arg(long, env = "DRY_RUN", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    dry_run: bool,
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    #[arg(long)]
    context: Option<String>,
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    homelab_cli::ctx::init();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return homelab_cli::fail::usage_with(e, exit::service::USAGE, "whisker-watchdog"),
    };
    homelab_cli::logging::init(args.verbose);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("whisker-watchdog: error: {e:#}");
            ExitCode::from(exit::service::FAILED)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let rt = homelab_cli::ctx::runtime()?;
    rt.block_on(async {
        let connection = homelab_k8s::connect_with_details(&KubeconfigOptions {
            kubeconfig: args.kubeconfig,
            context: args.context,
        })
        .await?;
        let target = WhiskerTarget {
            namespace: args.namespace,
            window_seconds: args.window_seconds,
            ..WhiskerTarget::default()
        };
        let outcome = WhiskerWatchdog::new(&connection, target)
            .run_once(args.threshold as usize, args.dry_run)
            .await?;
        for line in outcome.lines() {
            println!("{line}");
        }
        match outcome.error() {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    })
}
