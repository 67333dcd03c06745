//! `homelab`: the operator's command line. Thin by design: parse arguments, build the
//! adapters (`homelab-k8s`), call the pure logic (`homelab-core`), print, exit.
//!
//! Exit codes are a contract (README "Exit codes"): `upgrade gate` 0 safe / 2 actionable
//! block / 3 gate error / 4 held; `upgrade snapshot` 0 / 3; `upgrade apis` 0 clean /
//! 1 found / 2 error; everything else 0 / 2.

mod args;
mod config;
mod demo;
mod fail;
mod inputs;
mod upgrade;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Cmd, UpgradeCmd};
use crate::fail::Failure;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return fail::usage(e, &argv),
    };
    init_tracing(cli.verbose);
    let result = match cli.cmd {
        Cmd::Upgrade { cmd } => match cmd {
            UpgradeCmd::Gate(a) => upgrade::gate(a),
            UpgradeCmd::Snapshot(a) => upgrade::snapshot(a),
            UpgradeCmd::Apis(a) => upgrade::apis(a),
        },
        Cmd::Demo => demo::run(),
        Cmd::Completions { shell } => {
            args::completions(shell);
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, error }) => {
            eprintln!("homelab: error: {error:#}");
            ExitCode::from(code)
        }
    }
}

fn init_tracing(verbose: u8) {
    // Our crates only by default: a dependency's own error log (kube-client logs every
    // failed connect) would add a second line to the one-line error contract.
    let default = match verbose {
        0 => "homelab=warn,homelab_k8s=warn,homelab_core=warn",
        1 => "homelab=info,homelab_k8s=info,homelab_core=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
