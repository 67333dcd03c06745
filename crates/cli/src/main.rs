//! `homelab`: the operator's command line. Thin by design: parse arguments, build the
//! adapters (`homelab-k8s`), call the pure logic (`homelab-core`), print, exit.
//!
//! Exit codes are a contract (README "Exit codes"): `upgrade gate` 0 safe / 2 actionable
//! block / 3 gate error / 4 held; `upgrade snapshot` 0 / 3; `upgrade apis` 0 clean /
//! 1 found / 2 error; `vault kv` and `secret` 0 ok / 1 failed or refused / 2 usage;
//! `ingress lint` 0 clean / 1 violations / 2 error; `policy check` 0 clean / 1 findings /
//! 2 error (whatever the format); everything else 0 / 2.

mod args;
mod demo;
mod edges;
mod ingress;
mod inputs;
mod policy;
mod secret;
mod sim;
mod upgrade;
mod vault;
mod vaultwarden;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Cmd, IngressCmd, PolicyCmd, UpgradeCmd, VaultCmd};
use homelab_cli::fail::{self, Failure};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return fail::usage(e, &argv),
    };
    homelab_cli::logging::init(cli.verbose);
    let result = match cli.cmd {
        Cmd::Upgrade { cmd } => match cmd {
            UpgradeCmd::Gate(a) => upgrade::gate(a),
            UpgradeCmd::Snapshot(a) => upgrade::snapshot(a),
            UpgradeCmd::Apis(a) => upgrade::apis(a),
        },
        Cmd::Edges(a) => edges::run(*a),
        Cmd::Policy { cmd } => match cmd {
            PolicyCmd::Check(a) => policy::check(a),
        },
        Cmd::Sim(a) => sim::run(a),
        Cmd::Vault { cmd } => match cmd {
            None => {
                print!("{}", vaultwarden::HELP);
                Ok(0)
            }
            Some(VaultCmd::Kv { cmd }) => vault::kv(cmd),
            Some(VaultCmd::Setup) => vaultwarden::setup(),
            Some(VaultCmd::Status) => vaultwarden::status(),
            Some(VaultCmd::List(a)) => vaultwarden::list(a),
            Some(VaultCmd::Search(a)) => vaultwarden::search(a),
            Some(VaultCmd::Get(a)) => vaultwarden::get(a),
            Some(VaultCmd::Code(a)) => vaultwarden::code(a),
            Some(VaultCmd::Lock) => vaultwarden::lock_verb(),
        },
        Cmd::Secret { cmd } => secret::run(cmd),
        Cmd::Ingress { cmd } => match cmd {
            IngressCmd::Render(a) => ingress::render(a),
            IngressCmd::Lint(a) => ingress::lint(a),
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
