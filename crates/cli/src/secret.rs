//! `homelab secret get REF` and `homelab secret inject [-i TEMPLATE] [-o FILE]`: typed
//! references resolved through the `homelab-vault` resolver. Fail closed: every
//! reference must resolve before anything is written.
//!
//! Exit codes: 0 ok; 1 failed (backend error, missing key, refused, I/O); 2 usage,
//! malformed reference or template, missing configuration.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::anyhow;
use homelab_cli::fail::Failure;
use homelab_core::secret::output::{self, REFUSE_RENDERED};
use homelab_core::secret::{Scheme, SecretRef, SecretString, Template};
use homelab_k8s::{KubeconfigOptions, SecretReader};
use homelab_vault::emit::{ClipboardClear, emit_secret, terminal_facts};
use homelab_vault::{EnvBackend, K8sBackend, Resolver, Unavailable, VaultBackend, VaultConfig};

use crate::args::{InjectArgs, SecretCmd, SecretGetArgs, SecretK8sArgs};
use crate::vault::{FAILED, USAGE, block_on, kv_client, load_config, refuse_early, secret_failure};

pub fn run(cmd: SecretCmd) -> Result<u8, Failure> {
    match cmd {
        SecretCmd::Get(a) => get(a),
        SecretCmd::Inject(a) => inject(a),
    }
}

/// A resolver with a backend for each scheme in `schemes` (and `env://`). A backend that
/// cannot be built is registered as [`Unavailable`] with the reason, so the error names
/// the reference that needed it. `bw://` is left to the Vaultwarden backend: without it
/// the resolver fails closed.
async fn build_resolver(schemes: &BTreeSet<Scheme>, vault: &VaultConfig, k8s: &SecretK8sArgs) -> Resolver {
    let mut resolver = Resolver::new();
    resolver.register(Box::new(EnvBackend::new()));
    if schemes.contains(&Scheme::Vault) {
        match kv_client(vault) {
            Ok(client) => resolver.register(Box::new(VaultBackend::new(client))),
            Err(e) => resolver.register(Box::new(Unavailable::from_error(Scheme::Vault, e))),
        };
    }
    if schemes.contains(&Scheme::K8s) {
        let opts = KubeconfigOptions {
            kubeconfig: k8s.kubeconfig.clone(),
            context: k8s.context.clone(),
        };
        match homelab_k8s::connect_with_details(&opts).await {
            Ok(c) => resolver.register(Box::new(K8sBackend::new(
                SecretReader::new(c.client).with_api_url(&c.api_url),
            ))),
            Err(e) => resolver.register(Box::new(Unavailable::new(Scheme::K8s, e.to_string()))),
        };
    }
    if schemes.contains(&Scheme::Bw) {
        match crate::vaultwarden::bw_backend(vault) {
            Ok(b) => resolver.register(Box::new(b)),
            Err(e) => resolver.register(Box::new(Unavailable::from_error(Scheme::Bw, e))),
        };
    }
    resolver
}

fn get(a: SecretGetArgs) -> Result<u8, Failure> {
    crate::vaultwarden::harden();
    let reference = SecretRef::parse(&a.reference).map_err(|e| Failure::new(USAGE, e))?;
    let facts = terminal_facts();
    refuse_early(&facts)?;
    let config = load_config()?;
    let schemes = BTreeSet::from([reference.scheme()]);
    let value = block_on(async {
        let resolver = build_resolver(&schemes, &config.vault, &a.k8s).await;
        resolver.resolve(&reference).await.map_err(secret_failure)
    })?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    emit_secret(&value, &facts, &mut out, &mut err, ClipboardClear::default()).map_err(secret_failure)?;
    Ok(0)
}

fn inject(a: InjectArgs) -> Result<u8, Failure> {
    crate::vaultwarden::harden();
    let text = match &a.input {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Failure::new(FAILED, anyhow!("cannot read template {}: {e}", p.display())))?,
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    USAGE,
                    anyhow!("no template: pass -i TEMPLATE or pipe it on stdin"),
                ));
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::new(FAILED, anyhow!("cannot read the template from stdin: {e}")))?;
            s
        }
    };
    let template = Template::parse(&text).map_err(|e| Failure::new(USAGE, e))?;
    if a.output.is_none()
        && let Some(msg) = output::json_refusal(terminal_facts().stdout_tty, REFUSE_RENDERED)
    {
        return Err(Failure::new(FAILED, anyhow!(msg)));
    }
    let config = load_config()?;
    let schemes: BTreeSet<Scheme> = template.references().iter().map(|r| r.scheme()).collect();
    let values = block_on(async {
        let resolver = build_resolver(&schemes, &config.vault, &a.k8s).await;
        resolver
            .resolve_all(template.references())
            .await
            .map_err(secret_failure)
    })?;
    let rendered = template
        .render(|r| values.iter().find(|(k, _)| k == r).map(|(_, v)| v))
        .map_err(|e| Failure::new(FAILED, e))?;
    match &a.output {
        Some(path) => write_atomic_0600(path, &rendered),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.expose().as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(FAILED, anyhow!("cannot write to stdout: {e}")))
        }
    }?;
    Ok(0)
}

/// Writes `content` to `path` through a 0600 temporary file in the same directory and a
/// rename: readers never see a partial file, and on failure nothing is left behind.
fn write_atomic_0600(path: &Path, content: &SecretString) -> Result<(), Failure> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| Failure::new(FAILED, anyhow!("cannot {what} {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".homelab-inject-")
        .tempfile_in(dir)
        .map_err(|e| fail("create a temporary file next to", &e))?;
    tmp.write_all(content.expose().as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", &e))?;
    tmp.persist(path)
        .map_err(|e| fail("rename the temporary file to", &e.error))?;
    Ok(())
}
