//! `homelab vault setup|status|list|search|get|code|lock`: the operator's own Vaultwarden
//! vault through the official `bw` CLI (see `homelab_vault::vaultwarden`).
//!
//! Every verb that touches a secret first turns core dumps off and takes the per-user
//! lock; the per-user creds are read from Vault KV with the Vaultwarden token precedence
//! (`$VAULT_TOKEN`, the scoped token file, `~/.vault-token`). `get`, `get --all` and `code`
//! write an op-log line (never the item name); `code` also the TOTP marker.
//!
//! Exit codes: 0 ok; 1 failed or refused (not set up, bw failed, terminal refusal,
//! unhealthy `status`); 2 usage or configuration.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;
use homelab_cli::ctx::{Ctx, emit, harden, print, refuse_early, write_stdout};
use homelab_cli::exit::secrets::{FAILED, USAGE};
use homelab_cli::fail::{self, Failure};
use homelab_core::secret::SecretString;
use homelab_core::secret::output;
use homelab_core::vaultwarden::{self as vw, Field, Status};
use homelab_vault::ErrorKind;
use homelab_vault::ProcessEnv;
use homelab_vault::emit::terminal_facts;
use homelab_vault::hardening::{self, UserLock};
use homelab_vault::vaultwarden::{
    BwSettings, Creds, Fetched, ProcessRunner, Session, Setup, Vaultwarden, VaultwardenError,
};

use crate::args::{VwCodeArgs, VwGetArgs, VwListArgs, VwSearchArgs};

/// `homelab vault` with no verb: the two stores, first.
pub const HELP: &str = "\
homelab vault — two different secret stores under one command:
  Vaultwarden                 your personal PASSWORD MANAGER (logins / passwords / TOTP)
  HashiCorp Vault / OpenBao   platform INFRA secrets (the secret/ KV store): `vault kv …`

Vaultwarden (reads YOUR OWN vault; no prompts after the one-time setup)
  homelab vault setup                 one-time: store your master password + API key in your Vault path
  homelab vault status                configured / unlocked / reachable (no secrets)
  homelab vault list [--search Q]     list your item names (no secrets)
  homelab vault search <query>        search your item names
  homelab vault get <name> [--field password|username|uri|notes|totp] [--json]
                                      terminal: clipboard (auto-clears); piped: stdout
  homelab vault get <name> --all      all fields (incl. custom) as JSON; piped only.
                                      TOTP shown as a presence flag: use `vault code`
  homelab vault code <name>           the current TOTP code
  homelab vault lock                  lock / log out the local bw session

HashiCorp Vault / OpenBao (infra secrets; uses your own Vault token, never the scoped one)
  homelab vault kv get <path> [--field K]   read an infra KV secret
  homelab vault kv list <path>              list sub-paths
  homelab vault kv put <path> <key>         write one key (value via stdin or a hidden prompt; merges)

Your Vaultwarden creds live only in your own Vault path ([vault] creds_path); the admin
never sees them. Security model: anything running as your user can decrypt your vault —
the accepted trade for unattended fetches. Secrets never go to a terminal's scrollback,
argv or logs; `get`/`code` are recorded in syslog (user, verb, pid, parent — never the item).

Configuration (~/.config/homelab/config.toml):
  [vault] addr, vaultwarden_server, creds_path, scoped_token_file    ($VAULT_ADDR wins over addr)
Exit codes: 0 ok, 1 failed or refused, 2 usage or configuration.
";

/// The refusal for `get --json` on a terminal.
pub const REFUSE_GET_JSON: &str =
    "refusing to print a secret as JSON to a terminal; pipe it (e.g. | cat) or drop --json";
/// The refusal for `get --all` on a terminal.
pub const REFUSE_GET_ALL: &str = "refusing to print all fields as JSON to a terminal; pipe it (e.g. | jq)";

/// A Vaultwarden verb's client: the creds store and where `bw` runs, built from config
/// and environment by `homelab_vault::vaultwarden::setup`.
fn context(ctx: &Ctx) -> Result<Setup, Failure> {
    let config = ctx.config(USAGE)?;
    homelab_vault::vaultwarden::setup(&config.vault, &ProcessEnv::from_process()).map_err(fail::secret)
}

fn vw_failure(e: VaultwardenError) -> Failure {
    Failure::new(FAILED, e)
}

fn lock(s: &BwSettings) -> Result<UserLock, Failure> {
    UserLock::acquire(&s.runtime_dir).map_err(|e| {
        Failure::new(
            FAILED,
            anyhow!(
                "cannot take the per-user vault lock: {e} (is {} a writable runtime dir?)",
                s.runtime_dir.display()
            ),
        )
    })
}

/// The client with the creds read now (under the lock), on the one runtime; `bw` then
/// runs on this thread.
fn client(ctx: &Ctx, s: &Setup) -> Result<Vaultwarden<ProcessRunner, Fetched>, Failure> {
    let fetched = ctx.block_on(FAILED, s.creds.fetch())?;
    Ok(s.settings.client(fetched))
}

fn open(vw: &Vaultwarden<ProcessRunner, Fetched>) -> Result<Session, Failure> {
    let session = vw.open_session().map_err(vw_failure)?;
    for w in &session.warnings {
        eprintln!("{w}");
    }
    Ok(session)
}

fn op_log(s: &BwSettings, verb: &'static str, item: &str) -> vw::OpRecord {
    let record = hardening::op_record(&s.user, verb, item);
    if !hardening::write_op_log(&record) {
        tracing::debug!("op-log not written (no `logger`?)");
    }
    record
}

/// One JSON document and a newline on stdout.
fn print_json(json: &SecretString) -> Result<(), Failure> {
    print(SecretString::new(format!("{}\n", json.expose())).expose(), FAILED)
}

/// `homelab vault get <name> [--field F] [--json] [--all]`.
pub fn get(ctx: &Ctx, a: VwGetArgs) -> Result<u8, Failure> {
    harden();
    let field: Field = if a.all {
        Field::Password
    } else {
        a.field
            .as_deref()
            .unwrap_or("password")
            .parse()
            .map_err(|e: vw::InvalidField| Failure::new(USAGE, e))?
    };
    let stdout_tty = std::io::stdout().is_terminal();
    if a.all && stdout_tty {
        // Before any fetch: the whole item must never reach a terminal.
        return Err(Failure::new(FAILED, anyhow!(REFUSE_GET_ALL)));
    }
    if !a.all && !a.json {
        // The value could not be delivered anyway: do not read it.
        refuse_early(&terminal_facts())?;
    }
    let s = context(ctx)?;
    let _lock = lock(&s.settings)?;
    let vw = client(ctx, &s)?;
    let session = open(&vw)?;
    if a.all {
        let item = vw.get_item(&session, &a.name).map_err(vw_failure)?;
        let json = SecretString::new(
            serde_json::to_string(&item).map_err(|e| Failure::new(FAILED, anyhow!("cannot encode the item: {e}")))?,
        );
        op_log(&s.settings, "get-all", &a.name);
        return print_json(&json).map(|()| 0);
    }
    let value = vw.get(&session, field, &a.name).map_err(vw_failure)?;
    // The read happened: it is logged whether or not the output rules let it out.
    op_log(&s.settings, "get", &a.name);
    if a.json {
        if let Some(msg) = output::json_refusal(stdout_tty, REFUSE_GET_JSON) {
            return Err(Failure::new(FAILED, anyhow!(msg)));
        }
        let mut obj = serde_json::Map::new();
        obj.insert(
            field.as_str().to_owned(),
            serde_json::Value::String(value.expose().to_owned()),
        );
        let json = SecretString::new(serde_json::Value::Object(obj).to_string());
        return print_json(&json).map(|()| 0);
    }
    emit(&value, &terminal_facts())?;
    Ok(0)
}

/// `homelab vault code <name>`: the current TOTP code.
pub fn code(ctx: &Ctx, a: VwCodeArgs) -> Result<u8, Failure> {
    harden();
    refuse_early(&terminal_facts())?;
    let s = context(ctx)?;
    let _lock = lock(&s.settings)?;
    let vw = client(ctx, &s)?;
    let session = open(&vw)?;
    let value = vw.get(&session, Field::Totp, &a.name).map_err(vw_failure)?;
    let record = op_log(&s.settings, "code", &a.name);
    hardening::write_totp_marker(&record);
    emit(&value, &terminal_facts())?;
    Ok(0)
}

/// `homelab vault list [--search Q]`.
pub fn list(ctx: &Ctx, a: VwListArgs) -> Result<u8, Failure> {
    list_names(ctx, a.search.as_deref())
}

/// `homelab vault search <query…>`.
pub fn search(ctx: &Ctx, a: VwSearchArgs) -> Result<u8, Failure> {
    let q = a.query.join(" ");
    if q.trim().is_empty() {
        return Err(Failure::new(USAGE, anyhow!("usage: homelab vault search <query>")));
    }
    list_names(ctx, Some(&q))
}

fn list_names(ctx: &Ctx, search: Option<&str>) -> Result<u8, Failure> {
    harden();
    let s = context(ctx)?;
    let _lock = lock(&s.settings)?;
    let vw = client(ctx, &s)?;
    let session = open(&vw)?;
    let names = vw.list(&session, search).map_err(vw_failure)?;
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    // As before: a closed stdout ends the listing quietly.
    let _ = write_stdout(&text);
    Ok(0)
}

/// `homelab vault status`: one line; exit 0 only when configured, unlocked and reachable.
pub fn status(ctx: &Ctx) -> Result<u8, Failure> {
    harden();
    let s = context(ctx)?;
    let _lock = lock(&s.settings)?;
    let status = client(ctx, &s)?.status();
    println!("{}", status.summary());
    Ok(if status == Status::Ok { 0 } else { FAILED })
}

/// `homelab vault lock`: `bw lock` + `bw logout` with no secret in the environment and no
/// creds store. Always exits 0; prints `locked` when the logout worked.
pub fn lock_verb(ctx: &Ctx) -> Result<u8, Failure> {
    let config = ctx.config(USAGE)?;
    let settings = BwSettings::for_lock(&config.vault, &ProcessEnv::from_process());
    let vw = settings.client(());
    let _lock = UserLock::acquire(&settings.runtime_dir)
        .map_err(|e| Failure::new(FAILED, anyhow!("cannot take the per-user vault lock: {e}")))?;
    if vw.lock() {
        println!("locked");
    }
    Ok(0)
}

/// Reads the setup answers: prompts on a terminal, lines from stdin otherwise.
struct Answers {
    tty: bool,
    lines: std::io::StdinLock<'static>,
}

impl Answers {
    fn line(&mut self, prompt: &str) -> Result<String, Failure> {
        if self.tty {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        let mut s = String::new();
        self.lines
            .read_line(&mut s)
            .map_err(|e| Failure::new(FAILED, anyhow!("cannot read your answer: {e}")))?;
        Ok(s.trim().to_owned())
    }

    fn secret(&mut self, prompt: &str) -> Result<SecretString, Failure> {
        if self.tty {
            return match homelab_vault::input::prompt_no_echo(prompt) {
                Ok(s) => Ok(s),
                Err(e) if e.kind() == ErrorKind::Invalid => Ok(SecretString::default()),
                Err(e) => Err(fail::secret(e)),
            };
        }
        let mut s = String::new();
        let read = self.lines.read_line(&mut s);
        let value = SecretString::new(homelab_core::secret::trim_input(&s).to_owned());
        zeroize::Zeroize::zeroize(&mut s);
        read.map_err(|e| Failure::new(FAILED, anyhow!("cannot read your answer: {e}")))?;
        Ok(value)
    }
}

/// `homelab vault setup`: store the creds in your own Vault path, then prove they unlock.
pub fn setup(ctx: &Ctx) -> Result<u8, Failure> {
    harden();
    let s = context(ctx)?;
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprintln!("One-time setup. Stored ONLY in your own Vault path; the admin never sees it.");
        eprintln!(
            "Get your API key at {} → Settings → Security → Keys → View API key.",
            s.settings.server_url
        );
    }
    let mut answers = Answers {
        tty,
        lines: std::io::stdin().lock(),
    };
    let email = answers.line("Vaultwarden email: ")?;
    let client_id = answers.line("API key client_id (user.xxxx): ")?;
    let client_secret = answers.secret("API key client_secret: ")?;
    let master_password = answers.secret("Master password: ")?;
    if master_password.is_empty() || client_id.is_empty() || client_secret.is_empty() {
        return Err(Failure::new(
            FAILED,
            anyhow!("all fields are required (nothing written)"),
        ));
    }
    let creds = Creds {
        email,
        client_id,
        master_password,
        client_secret,
    };
    ctx.block_on(FAILED, s.creds.write(&creds))?.map_err(|e| {
        Failure::new(
            FAILED,
            anyhow!(
                "writing creds to your Vault path failed (scoped token present?): {}",
                VaultwardenError::from(e)
            ),
        )
    })?;
    eprintln!("Stored. Verifying unlock…");
    let _lock = lock(&s.settings)?;
    let session = client(ctx, &s)?.open_session().map_err(|e| {
        Failure::new(
            FAILED,
            anyhow!("stored, but verification failed — double-check master password / API key: {e}"),
        )
    })?;
    for w in &session.warnings {
        eprintln!("{w}");
    }
    eprintln!("✓ Verified. Fetches are now AFK.");
    Ok(0)
}
