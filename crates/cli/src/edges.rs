//! `homelab edges` and `homelab edges policy`: read the flow trail's `edge` table.
//!
//! Source: `--database-url`/`DATABASE_URL` (parameterised queries through
//! `homelab_flows::store`), or by default the CNPG primary pod through the Kubernetes
//! exec API (psql inside the pod, the script on stdin, values as psql variables): both are
//! a `homelab_flows::store::EdgeReader` from `open_reader`. Every namespace value is
//! validated to the Kubernetes name charset before any query exists.
//!
//! Exit codes: 0 ok; 2 bad flags, unreachable database or cluster ([`exit::ERROR`]).

use anyhow::anyhow;
use homelab_cli::ctx::{Ctx, OVERALL_TIMEOUT, unix_now, write_stdout};
use homelab_cli::exit;
use homelab_cli::fail::Failure;
use homelab_core::flows::Action;
use homelab_core::flows::netpol::{PolicyRequest, derive, dns_cidr};
use homelab_core::flows::query::{self, EdgeQuery, MAX_LIMIT, PeersQuery};
use homelab_core::flows::render::{self, Format};
use homelab_flows::store::{AnyReader, EdgeReader, ReaderOptions, open_reader};

use crate::args::{EdgeSourceArgs, EdgesArgs, EdgesCmd, PolicyArgs};

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::new(exit::ERROR, e)
}

pub fn run(ctx: &Ctx, a: EdgesArgs) -> Result<u8, Failure> {
    match a.cmd {
        Some(EdgesCmd::Policy(p)) => policy(ctx, p),
        None => list(ctx, a),
    }
}

fn ns_flag(flag: &'static str, v: &Option<String>) -> Result<Option<String>, Failure> {
    v.as_deref()
        .map(|v| query::namespace(flag, v))
        .transpose()
        .map_err(fail)
}

async fn open(a: &EdgeSourceArgs) -> Result<AnyReader, Failure> {
    open_reader(&ReaderOptions {
        database_url: a.database_url.clone(),
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        cnpg_namespace: a.cnpg_namespace.clone(),
        cnpg_selector: a.cnpg_selector.clone(),
        database: a.database.clone(),
    })
    .await
    .map_err(fail)
}

fn list(ctx: &Ctx, a: EdgesArgs) -> Result<u8, Failure> {
    let now = unix_now().map_err(fail)?;
    let new_since = a
        .new_since
        .as_deref()
        .map(|v| query::new_since(v, now))
        .transpose()
        .map_err(fail)?;
    let limit = query::limit(a.limit).map_err(fail)?;
    let action = a.denied.then_some(Action::Deny);
    let format = if a.json {
        Format::Json
    } else {
        Format::parse(&a.format).unwrap_or(Format::Table)
    };
    let peers_of = ns_flag("--peers-of", &a.peers_of)?;
    let q = EdgeQuery {
        ns: ns_flag("--ns", &a.ns)?,
        src: ns_flag("--src", &a.src)?,
        dst: ns_flag("--dst", &a.dst)?,
        new_since,
        action,
        limit,
    };
    let text = ctx.block_on_within(exit::ERROR, OVERALL_TIMEOUT, async {
        let reader = open(&a.source).await?;
        Ok(match peers_of {
            Some(of) => {
                let pq = PeersQuery {
                    of: of.clone(),
                    new_since,
                    action,
                    limit,
                };
                render::peers(&of, &reader.peers(&pq).await.map_err(fail)?, format)
            }
            None => render::edges(&reader.edges(&q).await.map_err(fail)?, format),
        })
    })?;
    let _ = write_stdout(&text);
    Ok(0)
}

fn policy(ctx: &Ctx, p: PolicyArgs) -> Result<u8, Failure> {
    let ns = query::namespace("--ns", &p.ns).map_err(fail)?;
    let dns_cidrs = p
        .dns_ips
        .iter()
        .map(|c| dns_cidr(c).ok_or_else(|| fail(anyhow!("--dns-ip {c:?} is not an IPv4/IPv6 address or CIDR"))))
        .collect::<Result<Vec<_>, _>>()?;
    let now = unix_now().map_err(fail)?;
    let (rows, observed_since) = ctx.block_on_within(exit::ERROR, OVERALL_TIMEOUT, async {
        let reader = open(&p.source).await?;
        let q = EdgeQuery {
            src: Some(ns.clone()),
            limit: MAX_LIMIT,
            ..EdgeQuery::default()
        };
        let rows = reader.edges(&q).await.map_err(fail)?;
        Ok((rows, reader.observed_since().await.map_err(fail)?))
    })?;
    let derived = derive(
        &PolicyRequest {
            namespace: ns,
            staged: p.staged,
            dns_cidrs,
            observed_since,
            now,
        },
        &rows,
    );
    for w in &derived.warnings {
        eprintln!("homelab: warning: {w}");
    }
    let text = if p.format == "json" {
        let mut s = serde_json::to_string_pretty(&derived.object).map_err(fail)?;
        s.push('\n');
        s
    } else {
        serde_saphyr::to_string(&derived.object).map_err(|e| fail(anyhow!("rendering YAML: {e}")))?
    };
    let _ = write_stdout(&text);
    Ok(0)
}
