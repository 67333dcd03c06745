//! `homelab secret get REF` and `homelab secret inject [-i TEMPLATE] [-o FILE]`: typed
//! references resolved through the `homelab-vault` resolver. Fail closed: every
//! reference must resolve before anything is written.
//!
//! Exit codes ([`homelab_cli::exit::secrets`]): 0 ok; 1 failed (backend error, missing
//! key, refused, I/O); 2 usage, malformed reference or template, missing configuration.

use std::collections::BTreeSet;
use std::io::Read;

use anyhow::anyhow;
use homelab_cli::ctx::{Ctx, FileMode, OVERALL_TIMEOUT, emit, harden, print, refuse_early, write_atomic};
use homelab_cli::exit::secrets::{FAILED, USAGE};
use homelab_cli::fail::{self, Failure};
use homelab_core::secret::output::{self, REFUSE_RENDERED};
use homelab_core::secret::{Scheme, SecretRef, Template};
use homelab_k8s::KubeconfigOptions;
use homelab_vault::emit::terminal_facts;
use homelab_vault::{ProcessEnv, build_resolver};

use crate::args::{InjectArgs, SecretCmd, SecretGetArgs, SecretK8sArgs};

pub fn run(ctx: &Ctx, cmd: SecretCmd) -> Result<u8, Failure> {
    match cmd {
        SecretCmd::Get(a) => get(ctx, a),
        SecretCmd::Inject(a) => inject(ctx, a),
    }
}

fn kube(k8s: &SecretK8sArgs) -> KubeconfigOptions {
    KubeconfigOptions {
        kubeconfig: k8s.kubeconfig.clone(),
        context: k8s.context.clone(),
    }
}

fn get(ctx: &Ctx, a: SecretGetArgs) -> Result<u8, Failure> {
    harden();
    let reference = SecretRef::parse(&a.reference).map_err(|e| Failure::new(USAGE, e))?;
    let facts = terminal_facts();
    refuse_early(&facts)?;
    let config = ctx.config(USAGE)?;
    let schemes = BTreeSet::from([reference.scheme()]);
    let value = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
        let resolver = build_resolver(&schemes, &config.vault, &kube(&a.k8s), &ProcessEnv::from_process()).await;
        resolver.resolve(&reference).await.map_err(fail::secret)
    })?;
    emit(&value, &facts)?;
    Ok(0)
}

fn inject(ctx: &Ctx, a: InjectArgs) -> Result<u8, Failure> {
    harden();
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
    let config = ctx.config(USAGE)?;
    let schemes: BTreeSet<Scheme> = template.references().iter().map(|r| r.scheme()).collect();
    let values = ctx.block_on_within(FAILED, OVERALL_TIMEOUT, async {
        let resolver = build_resolver(&schemes, &config.vault, &kube(&a.k8s), &ProcessEnv::from_process()).await;
        resolver.resolve_all(template.references()).await.map_err(fail::secret)
    })?;
    let rendered = template
        .render(|r| values.iter().find(|(k, _)| k == r).map(|(_, v)| v))
        .map_err(|e| Failure::new(FAILED, e))?;
    match &a.output {
        Some(path) => {
            write_atomic(path, rendered.expose().as_bytes(), FileMode::Private).map_err(|e| Failure::new(FAILED, e))?
        }
        None => print(rendered.expose(), FAILED)?,
    }
    Ok(0)
}
