//! `homelab edges` and `homelab edges policy`: read the flow trail's `edge` table.
//!
//! Source: `--database-url`/`DATABASE_URL` (parameterised queries through
//! `homelab_flows::store`), or by default the CNPG primary pod through the Kubernetes
//! exec API (psql inside the pod, the script on stdin, values as psql variables). Every
//! namespace value is validated to the Kubernetes name charset before any query exists.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, anyhow};
use homelab_cli::fail::Failure;
use homelab_core::flows::policy::{PolicyRequest, derive, dns_cidr};
use homelab_core::flows::query::{self, EdgeQuery, MAX_LIMIT, PeerRow, PeersQuery};
use homelab_core::flows::render::{self, Format};
use homelab_core::flows::{Action, EdgeRow};
use homelab_flows::aggregator::unix_now;
use homelab_flows::store::{self, AnyStore, EdgeStore};
use homelab_k8s::{KubeconfigOptions, PsqlExec, PsqlTarget};

use crate::args::{EdgeSourceArgs, EdgesArgs, EdgesCmd, PolicyArgs};

/// Bad flags, unreachable database or cluster: exit 2.
const ERROR: u8 = 2;

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::new(ERROR, e)
}

pub fn run(a: EdgesArgs) -> Result<u8, Failure> {
    match a.cmd {
        Some(EdgesCmd::Policy(p)) => policy(p),
        None => list(a),
    }
}

fn ns_flag(flag: &'static str, v: &Option<String>) -> Result<Option<String>, Failure> {
    v.as_deref()
        .map(|v| query::namespace(flag, v))
        .transpose()
        .map_err(fail)
}

fn list(a: EdgesArgs) -> Result<u8, Failure> {
    let now = unix_now();
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
    let text = block_on(async {
        let source = Source::open(&a.source).await?;
        Ok::<_, anyhow::Error>(match peers_of {
            Some(of) => {
                let rows = source
                    .peers(&PeersQuery {
                        of: of.clone(),
                        new_since,
                        action,
                        limit,
                    })
                    .await?;
                render::peers(&of, &rows, format)
            }
            None => render::edges(&source.edges(&q).await?, format),
        })
    })?;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(0)
}

fn policy(p: PolicyArgs) -> Result<u8, Failure> {
    let ns = query::namespace("--ns", &p.ns).map_err(fail)?;
    let dns_cidrs = p
        .dns_ips
        .iter()
        .map(|c| dns_cidr(c).ok_or_else(|| fail(anyhow!("--dns-ip {c:?} is not an IPv4/IPv6 address or CIDR"))))
        .collect::<Result<Vec<_>, _>>()?;
    let now = unix_now();
    let (rows, observed_since) = block_on(async {
        let source = Source::open(&p.source).await?;
        let rows = source
            .edges(&EdgeQuery {
                src: Some(ns.clone()),
                limit: MAX_LIMIT,
                ..EdgeQuery::default()
            })
            .await?;
        Ok::<_, anyhow::Error>((rows, source.observed_since().await?))
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
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(0)
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> Result<T, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(fail)?;
    rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(60), f).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("no answer within 60 s")),
        }
    })
    .map_err(fail)
}

/// The edge table, read directly or through the CNPG primary pod.
enum Source {
    Store(AnyStore),
    Pod(PsqlExec),
}

impl Source {
    async fn open(a: &EdgeSourceArgs) -> anyhow::Result<Source> {
        if let Some(url) = a.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            return Ok(Source::Store(store::connect(url).await.context("--database-url")?));
        }
        // The database name is validated by PsqlExec; the namespace goes into an API path.
        if !homelab_core::flows::is_valid_namespace(&a.cnpg_namespace) {
            return Err(anyhow!(
                "--cnpg-namespace {:?} is not a valid namespace name",
                a.cnpg_namespace
            ));
        }
        let connection = homelab_k8s::connect_with_details(&KubeconfigOptions {
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
        })
        .await?;
        Ok(Source::Pod(PsqlExec::new(
            &connection,
            PsqlTarget {
                namespace: a.cnpg_namespace.clone(),
                selector: a.cnpg_selector.clone(),
                container: "postgres".into(),
                database: a.database.clone(),
            },
        )))
    }

    async fn edges(&self, q: &EdgeQuery) -> anyhow::Result<Vec<EdgeRow>> {
        match self {
            Source::Store(s) => Ok(s.edges(q).await?),
            Source::Pod(p) => {
                let out = p.run_script(&store::psql::edges_script(q)).await?;
                Ok(store::psql::parse_edges(&out)?)
            }
        }
    }

    async fn peers(&self, q: &PeersQuery) -> anyhow::Result<Vec<PeerRow>> {
        match self {
            Source::Store(s) => Ok(s.peers(q).await?),
            Source::Pod(p) => {
                let out = p.run_script(&store::psql::peers_script(q)).await?;
                Ok(store::psql::parse_peers(&out)?)
            }
        }
    }

    async fn observed_since(&self) -> anyhow::Result<Option<i64>> {
        match self {
            Source::Store(s) => Ok(s.observed_since().await?),
            Source::Pod(p) => {
                let out = p.run_script(store::psql::OBSERVED_SINCE_SCRIPT).await?;
                Ok(store::psql::parse_optional_i64(&out)?)
            }
        }
    }
}
