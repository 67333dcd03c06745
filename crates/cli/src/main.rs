//! `homelab`: the operator's command line. Thin by design: parse arguments, build the
//! adapters (`homelab-k8s`), call the pure logic (`homelab-core`), print, exit.
//!
//! Each verb is `fn(&Ctx, args) -> Result<u8, Failure>`: parse, build adapters, call the
//! library, print. Exit codes are a contract (README "Exit codes"), all named in
//! `homelab_cli::exit`.

mod args;
mod demo;
mod edges;
mod ingress;
mod kv;
mod policy;
mod secret;
mod sim;
mod upgrade;
mod vaultwarden;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Cmd, IngressCmd, PolicyCmd, UpgradeCmd, VaultCmd};
use homelab_cli::ctx::Ctx;
use homelab_cli::fail::{self, Failure};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return fail::usage(e, &argv),
    };
    homelab_cli::logging::init(cli.verbose);
    let ctx = Ctx::new();
    let ctx = &ctx;
    let result = match cli.cmd {
        Cmd::Upgrade { cmd } => match cmd {
            UpgradeCmd::Gate(a) => upgrade::gate(ctx, a),
            UpgradeCmd::Snapshot(a) => upgrade::snapshot(ctx, a),
            UpgradeCmd::Apis(a) => upgrade::apis(a),
        },
        Cmd::Edges(a) => edges::run(ctx, *a),
        Cmd::Policy { cmd } => match cmd {
            PolicyCmd::Check(a) => policy::check(ctx, a),
        },
        Cmd::Sim(a) => sim::run(ctx, a),
        Cmd::Vault { cmd } => match cmd {
            None => {
                print!("{}", vaultwarden::HELP);
                Ok(0)
            }
            Some(VaultCmd::Kv { cmd }) => kv::run(ctx, cmd),
            Some(VaultCmd::Setup) => vaultwarden::setup(ctx),
            Some(VaultCmd::Status) => vaultwarden::status(ctx),
            Some(VaultCmd::List(a)) => vaultwarden::list(ctx, a),
            Some(VaultCmd::Search(a)) => vaultwarden::search(ctx, a),
            Some(VaultCmd::Get(a)) => vaultwarden::get(ctx, a),
            Some(VaultCmd::Code(a)) => vaultwarden::code(ctx, a),
            Some(VaultCmd::Lock) => vaultwarden::lock_verb(ctx),
        },
        Cmd::Secret { cmd } => secret::run(ctx, cmd),
        Cmd::Ingress { cmd } => match cmd {
            IngressCmd::Render(a) => ingress::render(ctx, a),
            IngressCmd::Lint(a) => ingress::lint(a),
        },
        Cmd::Demo => demo::run(ctx),
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
