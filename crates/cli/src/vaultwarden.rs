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
use homelab_cli::fail::Failure;
use homelab_core::secret::output::{self, REFUSE_SECRET};
use homelab_core::secret::{KvPath, SecretString, TokenPurpose};
use homelab_core::vaultwarden::{self as vw, Field, Status};
use homelab_vault::emit::{ClipboardClear, emit_secret, terminal_facts};
use homelab_vault::hardening::{self, UserLock};
use homelab_vault::token::{TokenEnv, discover_token, require_token};
use homelab_vault::vaultwarden::{
    BwBackend, BwSettings, Creds, CredsStore, ProcessRunner, Session, Vaultwarden, VaultwardenError, appdata_dir,
};
use homelab_vault::{ErrorKind, KvClient, SecretError, VaultConfig};

use crate::args::{VwCodeArgs, VwGetArgs, VwListArgs, VwSearchArgs};
use crate::vault::{FAILED, USAGE, load_config, secret_failure};

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

/// Everything a Vaultwarden verb needs: the client and the identity.
struct Ctx {
    vw: Vaultwarden<ProcessRunner, KvCreds>,
    user: String,
    runtime_dir: std::path::PathBuf,
}

/// The per-user creds in Vault KV, read and merged with the Vaultwarden token.
#[derive(Debug)]
pub struct KvCreds {
    rt: tokio::runtime::Runtime,
    client: KvClient,
    path: KvPath,
}

fn kv_error(e: SecretError) -> VaultwardenError {
    VaultwardenError::Creds(e.to_string())
}

impl CredsStore for KvCreds {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        let data = match self.rt.block_on(self.client.read(&self.path)) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(kv_error(e)),
        };
        Ok(Some(homelab_vault::vaultwarden::creds_from(&data)))
    }

    fn write_creds(&self, creds: &Creds) -> Result<(), VaultwardenError> {
        let entries = [
            (vw::creds_keys::EMAIL, SecretString::new(creds.email.clone())),
            (vw::creds_keys::CLIENT_ID, SecretString::new(creds.client_id.clone())),
            (vw::creds_keys::MASTER_PASSWORD, creds.master_password.clone()),
            (vw::creds_keys::CLIENT_SECRET, creds.client_secret.clone()),
        ];
        // Each write is a read + check-and-set merge: sibling keys at the path (e.g. the
        // auth-sync's own) survive, and a policy without `patch` suffices.
        for (key, value) in &entries {
            self.rt
                .block_on(self.client.put_key(&self.path, key, value))
                .map_err(kv_error)?;
        }
        Ok(())
    }
}

fn not_configured(msg: impl Into<String>) -> SecretError {
    SecretError::new(ErrorKind::NotConfigured, msg)
}

fn vw_failure(e: VaultwardenError) -> Failure {
    Failure::new(FAILED, e)
}

/// The OS user (`$USER`, else `$LOGNAME`): names the creds path.
fn current_user() -> Result<String, SecretError> {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| not_configured("cannot tell who you are: $USER is not set"))
}

/// What every Vaultwarden use needs: the KV client holding the Vaultwarden token, the
/// user's creds path and where `bw` runs.
struct Parts {
    client: KvClient,
    path: KvPath,
    settings: BwSettings,
}

fn parts(vcfg: &VaultConfig) -> Result<Parts, SecretError> {
    let server = vcfg
        .vaultwarden_server()?
        .ok_or_else(|| {
            not_configured("no Vaultwarden server: set [vault] vaultwarden_server in ~/.config/homelab/config.toml")
        })?
        .to_owned();
    let user = current_user()?;
    let template = vcfg
        .creds_path
        .as_deref()
        .unwrap_or(homelab_vault::config::DEFAULT_CREDS_PATH);
    let creds_path = vw::creds_path(template, &user).map_err(|e| not_configured(e.to_string()))?;
    let path = KvPath::parse_cli(&creds_path, false)
        .map_err(|e| not_configured(format!("invalid [vault] creds_path {creds_path:?}: {e}")))?;
    let env_addr = std::env::var("VAULT_ADDR").ok();
    let (addr, _) = vcfg.address(env_addr.as_deref())?;
    let decision = discover_token(TokenPurpose::Vaultwarden, vcfg, &TokenEnv::from_process());
    for line in decision.explain() {
        tracing::debug!("vault token: {line}");
    }
    let token = require_token(&decision)?;
    let client = KvClient::new(&addr, &token, homelab_vault::kv::DEFAULT_TIMEOUT)?;
    let runtime_dir = hardening::runtime_dir(hardening::current_uid());
    Ok(Parts {
        client,
        path,
        settings: BwSettings {
            server_url: server,
            runtime_dir,
            home: std::env::var("HOME").unwrap_or_default(),
            path: std::env::var("PATH").ok(),
            runner: ProcessRunner::default(),
            user,
        },
    })
}

/// The `bw://` backend for `homelab secret` (registered as unavailable, with the reason,
/// when Vaultwarden is not configured).
pub fn bw_backend(vcfg: &VaultConfig) -> Result<BwBackend, SecretError> {
    let p = parts(vcfg)?;
    Ok(BwBackend::new(p.client, p.path, p.settings))
}

fn context() -> Result<Ctx, Failure> {
    let config = load_config()?;
    let Parts { client, path, settings } = parts(&config.vault).map_err(secret_failure)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(FAILED, anyhow!("cannot start the async runtime: {e}")))?;
    Ok(Ctx {
        vw: Vaultwarden {
            runner: settings.runner,
            creds: KvCreds { rt, client, path },
            server_url: settings.server_url,
            appdata: appdata_dir(&settings.runtime_dir),
            home: settings.home,
            path: settings.path,
        },
        user: settings.user,
        runtime_dir: settings.runtime_dir,
    })
}

/// Core dumps off before any secret is in memory (best effort; a failure is logged).
pub(crate) fn harden() {
    if let Err(e) = hardening::disable_core_dumps() {
        tracing::warn!("cannot disable core dumps: {e}");
    }
}

fn lock(ctx: &Ctx) -> Result<UserLock, Failure> {
    UserLock::acquire(&ctx.runtime_dir).map_err(|e| {
        Failure::new(
            FAILED,
            anyhow!(
                "cannot take the per-user vault lock: {e} (is {} a writable runtime dir?)",
                ctx.runtime_dir.display()
            ),
        )
    })
}

fn open(ctx: &Ctx) -> Result<Session, Failure> {
    let session = ctx.vw.open_session().map_err(vw_failure)?;
    for w in &session.warnings {
        eprintln!("{w}");
    }
    Ok(session)
}

fn op_log(ctx: &Ctx, verb: &'static str, item: &str) -> vw::OpRecord {
    let record = hardening::op_record(&ctx.user, verb, item);
    if !hardening::write_op_log(&record) {
        tracing::debug!("op-log not written (no `logger`?)");
    }
    record
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(FAILED, anyhow!("cannot write to stdout: {e}")))
}

fn emit(value: &SecretString) -> Result<(), Failure> {
    let facts = terminal_facts();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    emit_secret(value, &facts, &mut out, &mut err, ClipboardClear::default()).map_err(secret_failure)?;
    Ok(())
}

/// `homelab vault get <name> [--field F] [--json] [--all]`.
pub fn get(a: VwGetArgs) -> Result<u8, Failure> {
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
        refuse_early()?;
    }
    let ctx = context()?;
    let _lock = lock(&ctx)?;
    let session = open(&ctx)?;
    if a.all {
        let item = ctx.vw.get_item(&session, &a.name).map_err(vw_failure)?;
        let json = SecretString::new(
            serde_json::to_string(&item).map_err(|e| Failure::new(FAILED, anyhow!("cannot encode the item: {e}")))?,
        );
        op_log(&ctx, "get-all", &a.name);
        return write_stdout(json.expose()).map(|()| 0);
    }
    let value = ctx.vw.get(&session, field, &a.name).map_err(vw_failure)?;
    // The read happened: it is logged whether or not the output rules let it out.
    op_log(&ctx, "get", &a.name);
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
        return write_stdout(json.expose()).map(|()| 0);
    }
    emit(&value)?;
    Ok(0)
}

/// `homelab vault code <name>`: the current TOTP code.
pub fn code(a: VwCodeArgs) -> Result<u8, Failure> {
    harden();
    refuse_early()?;
    let ctx = context()?;
    let _lock = lock(&ctx)?;
    let session = open(&ctx)?;
    let value = ctx.vw.get(&session, Field::Totp, &a.name).map_err(vw_failure)?;
    let record = op_log(&ctx, "code", &a.name);
    hardening::write_totp_marker(&record);
    emit(&value)?;
    Ok(0)
}

/// Refuses before any fetch when the output rules would refuse the value anyway.
fn refuse_early() -> Result<(), Failure> {
    if output::decide(&terminal_facts()) == output::Emission::Refuse {
        return Err(Failure::new(FAILED, anyhow!(REFUSE_SECRET)));
    }
    Ok(())
}

/// `homelab vault list [--search Q]`.
pub fn list(a: VwListArgs) -> Result<u8, Failure> {
    list_names(a.search.as_deref())
}

/// `homelab vault search <query…>`.
pub fn search(a: VwSearchArgs) -> Result<u8, Failure> {
    let q = a.query.join(" ");
    if q.trim().is_empty() {
        return Err(Failure::new(USAGE, anyhow!("usage: homelab vault search <query>")));
    }
    list_names(Some(&q))
}

fn list_names(search: Option<&str>) -> Result<u8, Failure> {
    harden();
    let ctx = context()?;
    let _lock = lock(&ctx)?;
    let session = open(&ctx)?;
    let names = ctx.vw.list(&session, search).map_err(vw_failure)?;
    let mut out = std::io::stdout().lock();
    for n in names {
        let _ = writeln!(out, "{n}");
    }
    Ok(0)
}

/// `homelab vault status`: one line; exit 0 only when configured, unlocked and reachable.
pub fn status() -> Result<u8, Failure> {
    harden();
    let ctx = context()?;
    let _lock = lock(&ctx)?;
    let status = ctx.vw.status();
    println!("{}", status.summary());
    Ok(if status == Status::Ok { 0 } else { FAILED })
}

/// `homelab vault lock`: `bw lock` + `bw logout` with no secret in the environment.
/// Always exits 0; prints `locked` when the logout worked.
pub fn lock_verb() -> Result<u8, Failure> {
    let uid = hardening::current_uid();
    let runtime_dir = hardening::runtime_dir(uid);
    let config = load_config()?;
    let home = std::env::var("HOME").unwrap_or_default();
    let vw = Vaultwarden {
        runner: ProcessRunner::default(),
        creds: NoCreds,
        server_url: config.vault.vaultwarden_server.clone().unwrap_or_default(),
        appdata: appdata_dir(&runtime_dir),
        home,
        path: std::env::var("PATH").ok(),
    };
    let _lock = UserLock::acquire(&runtime_dir)
        .map_err(|e| Failure::new(FAILED, anyhow!("cannot take the per-user vault lock: {e}")))?;
    if vw.lock() {
        println!("locked");
    }
    Ok(0)
}

/// `lock` reads no creds.
#[derive(Debug)]
struct NoCreds;

impl CredsStore for NoCreds {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        Ok(None)
    }
    fn write_creds(&self, _: &Creds) -> Result<(), VaultwardenError> {
        Err(VaultwardenError::NotConfigured)
    }
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
                Err(e) => Err(secret_failure(e)),
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
pub fn setup() -> Result<u8, Failure> {
    harden();
    let ctx = context()?;
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprintln!("One-time setup. Stored ONLY in your own Vault path; the admin never sees it.");
        eprintln!(
            "Get your API key at {} → Settings → Security → Keys → View API key.",
            ctx.vw.server_url
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
    ctx.vw.creds.write_creds(&creds).map_err(|e| {
        Failure::new(
            FAILED,
            anyhow!("writing creds to your Vault path failed (scoped token present?): {e}"),
        )
    })?;
    eprintln!("Stored. Verifying unlock…");
    let _lock = lock(&ctx)?;
    let session = ctx.vw.open_session().map_err(|e| {
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
