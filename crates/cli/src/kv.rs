//! `homelab vault kv get|list|put`: Vault/OpenBao KV v2 with the caller's own token
//! (`$VAULT_TOKEN`, then `~/.vault-token`; never the scoped Vaultwarden token).
//!
//! Exit codes ([`homelab_cli::exit::secrets`]): 0 ok; 1 failed (Vault error, not found,
//! 403, unreachable, refused to print to a terminal, empty value); 2 usage, malformed path
//! or configuration (no address).

use anyhow::anyhow;
use homelab_cli::ctx::{Ctx, OVERALL_TIMEOUT, emit, harden, print, refuse_early};
use homelab_cli::exit::secrets::{FAILED, USAGE};
use homelab_cli::fail::{self, Failure};
use homelab_core::secret::output::{self, REFUSE_KV_JSON};
use homelab_core::secret::{KvPath, SecretString};
use homelab_vault::emit::terminal_facts;
use homelab_vault::input::read_secret_value;
use homelab_vault::{KvClient, ProcessEnv, kv_client};

use crate::args::{KvCmd, KvGetArgs, KvListArgs, KvPutArgs};

pub(crate) fn usage(line: &str) -> Failure {
    Failure::new(USAGE, anyhow!("usage: {line}"))
}

pub fn run(ctx: &Ctx, cmd: KvCmd) -> Result<u8, Failure> {
    match cmd {
        KvCmd::Get(a) => get(ctx, a),
        KvCmd::List(a) => list(ctx, a),
        KvCmd::Put(a) => put(ctx, a),
    }
}

fn parse_path(path: &str, allow_root: bool) -> Result<KvPath, Failure> {
    KvPath::parse_cli(path, allow_root).map_err(|e| Failure::new(USAGE, e))
}

fn client(ctx: &Ctx) -> Result<KvClient, Failure> {
    kv_client(&ctx.config(USAGE)?.vault, &ProcessEnv::from_process()).map_err(fail::secret)
}

fn get(ctx: &Ctx, a: KvGetArgs) -> Result<u8, Failure> {
    harden();
    let Some(path) = a.path else {
        return Err(usage("homelab vault kv get <path> [--field <key>]"));
    };
    let path = parse_path(&path, false)?;
    if a.field.as_deref() == Some("") {
        return Err(usage("homelab vault kv get <path> [--field <key>]"));
    }
    let facts = terminal_facts();
    match &a.field {
        Some(_) => refuse_early(&facts)?,
        None => {
            if let Some(msg) = output::json_refusal(facts.stdout_tty, REFUSE_KV_JSON) {
                return Err(Failure::new(FAILED, anyhow!(msg)));
            }
        }
    }
    let client = client(ctx)?;
    match a.field {
        Some(field) => {
            let value = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
                client.read_key(&path, &field).await.map_err(fail::secret)
            })?;
            emit(&value, &facts)?;
        }
        None => {
            let data = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
                client.read(&path).await.map_err(fail::secret)
            })?;
            let json = SecretString::new(format!("{}\n", data.to_json().expose()));
            print(json.expose(), FAILED)?;
        }
    }
    Ok(0)
}

fn list(ctx: &Ctx, a: KvListArgs) -> Result<u8, Failure> {
    let Some(path) = a.path else {
        return Err(usage("homelab vault kv list <path>"));
    };
    let path = parse_path(&path, true)?;
    let client = client(ctx)?;
    let keys = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
        client.list(&path).await.map_err(fail::secret)
    })?;
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    // As before: a closed stdout ends the listing quietly.
    let _ = homelab_cli::ctx::write_stdout(&text);
    Ok(0)
}

fn put(ctx: &Ctx, a: KvPutArgs) -> Result<u8, Failure> {
    harden();
    const USAGE_LINE: &str = "homelab vault kv put <path> <key> (value read from stdin)";
    if !a.rest.is_empty() {
        // Do not echo it: it is probably the secret.
        return Err(Failure::new(
            USAGE,
            anyhow!(
                "refusing a value on the command line (it stays in shell history and ps); pipe it instead: … | {USAGE_LINE}"
            ),
        ));
    }
    let (Some(path), Some(key)) = (a.path, a.key) else {
        return Err(usage(USAGE_LINE));
    };
    if key.is_empty() {
        return Err(usage(USAGE_LINE));
    }
    if key.contains('=') {
        return Err(Failure::new(
            USAGE,
            anyhow!("the key contains '=': values are read from stdin, never from the command line ({USAGE_LINE})"),
        ));
    }
    let path = parse_path(&path, false)?;
    let client = client(ctx)?;
    let value = read_secret_value(&format!("Value for {key}: ")).map_err(fail::secret)?;
    let outcome = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
        client.put_key(&path, &key, &value).await.map_err(|e| {
            Failure::new(
                FAILED,
                anyhow!("writing {key:?} to {path} failed (does your token have write access? path correct?): {e}"),
            )
        })
    })?;
    tracing::debug!(
        created = outcome.created,
        version = outcome.version,
        retries = outcome.retries,
        "kv put"
    );
    eprintln!("wrote {key} to {path}");
    Ok(0)
}
