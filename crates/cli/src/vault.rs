//! `homelab vault kv get|list|put`: Vault/OpenBao KV v2 with the caller's own token
//! (`$VAULT_TOKEN`, then `~/.vault-token`; never the scoped Vaultwarden token).
//!
//! Exit codes: 0 ok; 1 failed (Vault error, not found, 403, unreachable, refused to print
//! to a terminal, empty value); 2 usage, malformed path or configuration (no address).

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use homelab_cli::fail::Failure;
use homelab_core::secret::output::{self, Emission, REFUSE_KV_JSON, REFUSE_SECRET};
use homelab_core::secret::{KvPath, TokenPurpose};
use homelab_vault::emit::{ClipboardClear, emit_secret, terminal_facts};
use homelab_vault::input::read_secret_value;
use homelab_vault::kv::DEFAULT_TIMEOUT;
use homelab_vault::token::{TokenEnv, discover_token, require_token};
use homelab_vault::{ErrorKind, KvClient, SecretError};

use crate::args::{KvCmd, KvGetArgs, KvListArgs, KvPutArgs};

/// Exit code: the operation failed or was refused.
pub(crate) const FAILED: u8 = 1;
/// Exit code: bad usage, a malformed path/reference/template, or missing configuration.
pub(crate) const USAGE: u8 = 2;

/// How long a whole command may wait on its backends.
const OVERALL_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn usage(line: &str) -> Failure {
    Failure::new(USAGE, anyhow!("usage: {line}"))
}

/// A [`SecretError`] as a failure: configuration problems are exit 2, the rest exit 1.
pub(crate) fn secret_failure(e: SecretError) -> Failure {
    let code = if e.kind() == ErrorKind::NotConfigured {
        USAGE
    } else {
        FAILED
    };
    Failure::new(code, e)
}

pub(crate) fn load_config() -> Result<homelab_cli::config::Config, Failure> {
    homelab_cli::config::load().map_err(|e| Failure::new(USAGE, e))
}

/// Runs `f` on a current-thread runtime, bounded by [`OVERALL_TIMEOUT`].
pub(crate) fn block_on<T>(f: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(FAILED, anyhow!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        match tokio::time::timeout(OVERALL_TIMEOUT, f).await {
            Ok(r) => r,
            Err(_) => Err(Failure::new(
                FAILED,
                anyhow!("no answer within {} s", OVERALL_TIMEOUT.as_secs()),
            )),
        }
    })
}

/// A KV client for the `kv` verbs and `vault://` references: the address from
/// `$VAULT_ADDR` or `[vault] addr`, the token per [`TokenPurpose::Kv`].
pub(crate) fn kv_client(config: &homelab_vault::VaultConfig) -> Result<KvClient, SecretError> {
    let env_addr = std::env::var("VAULT_ADDR").ok();
    let (addr, addr_source) = config.address(env_addr.as_deref())?;
    let decision = discover_token(TokenPurpose::Kv, config, &TokenEnv::from_process());
    tracing::debug!(%addr, ?addr_source, token_source = decision.tag(), "vault kv connection");
    for line in decision.explain() {
        tracing::debug!("vault token: {line}");
    }
    let token = require_token(&decision)?;
    KvClient::new(&addr, &token, DEFAULT_TIMEOUT)
}

/// Fails before fetching anything when the output rules would refuse a single value.
pub(crate) fn refuse_early(facts: &output::TerminalFacts) -> Result<(), Failure> {
    if output::decide(facts) == Emission::Refuse {
        return Err(Failure::new(FAILED, anyhow!(REFUSE_SECRET)));
    }
    Ok(())
}

pub fn kv(cmd: KvCmd) -> Result<u8, Failure> {
    match cmd {
        KvCmd::Get(a) => get(a),
        KvCmd::List(a) => list(a),
        KvCmd::Put(a) => put(a),
    }
}

fn parse_path(path: &str, allow_root: bool) -> Result<KvPath, Failure> {
    KvPath::parse_cli(path, allow_root).map_err(|e| Failure::new(USAGE, e))
}

fn get(a: KvGetArgs) -> Result<u8, Failure> {
    crate::vaultwarden::harden();
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
    let config = load_config()?;
    let client = kv_client(&config.vault).map_err(secret_failure)?;
    match a.field {
        Some(field) => {
            let value = block_on(async { client.read_key(&path, &field).await.map_err(secret_failure) })?;
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            emit_secret(&value, &facts, &mut out, &mut err, ClipboardClear::default()).map_err(secret_failure)?;
        }
        None => {
            let data = block_on(async { client.read(&path).await.map_err(secret_failure) })?;
            let json = data.to_json();
            let mut out = std::io::stdout().lock();
            out.write_all(json.expose().as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(FAILED, anyhow!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(0)
}

fn list(a: KvListArgs) -> Result<u8, Failure> {
    let Some(path) = a.path else {
        return Err(usage("homelab vault kv list <path>"));
    };
    let path = parse_path(&path, true)?;
    let config = load_config()?;
    let client = kv_client(&config.vault).map_err(secret_failure)?;
    let keys = block_on(async { client.list(&path).await.map_err(secret_failure) })?;
    let mut out = std::io::stdout().lock();
    for k in keys {
        let _ = writeln!(out, "{k}");
    }
    Ok(0)
}

fn put(a: KvPutArgs) -> Result<u8, Failure> {
    crate::vaultwarden::harden();
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
    let config = load_config()?;
    let client = kv_client(&config.vault).map_err(secret_failure)?;
    let value = read_secret_value(&format!("Value for {key}: ")).map_err(secret_failure)?;
    let outcome = block_on(async {
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
