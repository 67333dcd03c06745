//! Choosing and loading the client configuration.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::error::{K8sError, one_line, redact_url};

/// The service-account token a pod gets mounted.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How long one response from the API server may take (set on clients from [`connect`]).
pub const API_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigOptions {
    /// `--kubeconfig FILE`: wins over everything else.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`: a context of the kubeconfig (the current context otherwise).
    pub context: Option<String>,
}

/// Where the client configuration came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    /// `--kubeconfig FILE`.
    Flag(PathBuf),
    /// The pod's service account (`KUBERNETES_SERVICE_HOST` + mounted token).
    InCluster,
    /// The `KUBECONFIG` variable, verbatim (it may list several files, separated like
    /// `PATH`; they are merged the way kubectl merges them).
    Env(PathBuf),
    /// `~/.kube/config` (the full path).
    Home(PathBuf),
}

impl fmt::Display for KubeconfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(p) => write!(f, "--kubeconfig {}", p.display()),
            Self::InCluster => f.write_str("the in-cluster service account"),
            Self::Env(p) => write!(f, "KUBECONFIG={}", p.display()),
            Self::Home(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The configuration source to use, in order of precedence: an explicit `--kubeconfig`;
/// the in-cluster service account; `KUBECONFIG` (when it names at least one file);
/// `~/.kube/config` (given the home directory). `None` when nothing applies.
///
/// Pure: the caller passes in what the environment says, so the decision is testable.
pub fn choose_kubeconfig_source(
    flag: Option<&Path>,
    in_cluster_available: bool,
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Option<KubeconfigSource> {
    if let Some(p) = flag {
        return Some(KubeconfigSource::Flag(p.to_path_buf()));
    }
    if in_cluster_available {
        return Some(KubeconfigSource::InCluster);
    }
    if let Some(v) = kubeconfig_env
        && std::env::split_paths(v).any(|p| !p.as_os_str().is_empty())
    {
        return Some(KubeconfigSource::Env(PathBuf::from(v)));
    }
    home.filter(|h| !h.as_os_str().is_empty())
        .map(|h| KubeconfigSource::Home(h.join(".kube").join("config")))
}

/// A connected client plus what it is connected to (for messages).
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    /// The API server URL, without user info.
    pub api_url: String,
    pub source: KubeconfigSource,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.api_url)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Builds a client from the environment (see [`choose_kubeconfig_source`]), honouring
/// `opts.context`. Does not contact the API server.
pub async fn connect(opts: &KubeconfigOptions) -> Result<kube::Client, K8sError> {
    connect_with_details(opts).await.map(|c| c.client)
}

/// Like [`connect`], and also says which API server and which source were used.
pub async fn connect_with_details(opts: &KubeconfigOptions) -> Result<Connection, K8sError> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let kubeconfig_env = std::env::var_os("KUBECONFIG");
    let source = choose_kubeconfig_source(
        opts.kubeconfig.as_deref(),
        in_cluster_available(),
        kubeconfig_env.as_deref(),
        home.as_deref(),
    );
    let Some(source) = source else {
        return Err(K8sError::NoConfig {
            tried: "no --kubeconfig, not running in a pod, KUBECONFIG unset and no home directory".into(),
        });
    };
    if let KubeconfigSource::Home(path) = &source
        && !path.exists()
    {
        return Err(K8sError::NoConfig {
            tried: format!(
                "no --kubeconfig, not running in a pod, KUBECONFIG unset and {} does not exist",
                path.display()
            ),
        });
    }
    tracing::debug!(source = %source, context = ?opts.context, "loading Kubernetes client configuration");
    let mut config = load_config(&source, opts).await?;
    tune(&mut config);
    let api_url = redact_url(&config.cluster_url.to_string());
    let client = client_from_config(config, &api_url)?;
    Ok(Connection {
        client,
        api_url,
        source,
    })
}

/// Settings for every client this crate builds: a read timeout, and no kube-level
/// retries (kube's default retries 429/503/504 for minutes; the collector retries a
/// few times itself, within its request timeout).
pub(crate) fn tune(config: &mut kube::Config) {
    config.read_timeout = Some(API_READ_TIMEOUT);
    config.reset_reader_on_write = true;
    config.default_retry = false;
}

/// Makes sure the process has a rustls crypto provider: installs `ring` as the process
/// default unless one is already installed (then it is a no-op, so the caller's choice
/// wins).
///
/// The homelab binaries call this once at start (`homelab_cli::ctx::init`). The
/// workspace's library entry points that build a TLS client (`connect`,
/// [`PrometheusClient::new`](crate::PrometheusClient::new), `homelab_vault::kv::KvClient::new`,
/// `homelab_flows::digest::post`) call it too, as a fallback for other Rust tools and
/// tests linking these crates: without a provider, kube, reqwest and vaultrs panic deep
/// inside their client builders instead of returning an error. This function is the one
/// place that chooses the provider.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `kube::Client::try_from` with the crypto provider in place and errors mapped.
pub(crate) fn client_from_config(config: kube::Config, api_url: &str) -> Result<kube::Client, K8sError> {
    ensure_crypto_provider();
    kube::Client::try_from(config).map_err(|e| K8sError::Client {
        url: api_url.to_owned(),
        cause: one_line(&e.to_string(), 300),
    })
}

fn in_cluster_available() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
        && Path::new(SERVICE_ACCOUNT_TOKEN).is_file()
}

async fn load_config(source: &KubeconfigSource, opts: &KubeconfigOptions) -> Result<kube::Config, K8sError> {
    let origin = source.to_string();
    let config_err = |cause: String| K8sError::Config {
        origin: origin.clone(),
        cause,
    };
    let files: Vec<PathBuf> = match source {
        KubeconfigSource::InCluster => {
            if let Some(ctx) = &opts.context {
                return Err(config_err(format!(
                    "--context {ctx:?} needs a kubeconfig file; the in-cluster configuration has no contexts"
                )));
            }
            return kube::Config::incluster().map_err(|e| config_err(one_line(&e.to_string(), 300)));
        }
        KubeconfigSource::Flag(p) | KubeconfigSource::Home(p) => vec![p.clone()],
        KubeconfigSource::Env(raw) => std::env::split_paths(raw.as_os_str())
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
    };
    let mut merged: Option<Kubeconfig> = None;
    for file in &files {
        let kc = Kubeconfig::read_from(file).map_err(|e| config_err(describe_kubeconfig_error(&e, opts)))?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m
                .merge(kc)
                .map_err(|e| config_err(describe_kubeconfig_error(&e, opts)))?,
        });
    }
    let kubeconfig = merged.unwrap_or_default();
    let options = KubeConfigOptions {
        context: opts.context.clone(),
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| config_err(describe_kubeconfig_error(&e, opts)))
}

fn describe_kubeconfig_error(e: &KubeconfigError, opts: &KubeconfigOptions) -> String {
    match e {
        KubeconfigError::ReadConfig(io, path) => {
            format!("cannot read {}: {}", path.display(), one_line(&io.to_string(), 200))
        }
        KubeconfigError::LoadContext(name) if opts.context.is_some() => {
            format!("context {name:?} is not in the kubeconfig")
        }
        KubeconfigError::LoadContext(name) => {
            format!("the current context {name:?} is not in the kubeconfig")
        }
        KubeconfigError::CurrentContextNotSet => "no current-context is set (pass --context)".to_owned(),
        KubeconfigError::LoadClusterOfContext(name) => {
            format!("the cluster {name:?} of the context is not in the kubeconfig")
        }
        // Parse errors go on to quote the offending YAML over several lines: keep the
        // first, which has the position and the problem.
        KubeconfigError::Parse(_) => {
            let text = first_line(&e.to_string());
            one_line(&text, 300)
        }
        other => one_line(&other.to_string(), 300),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_flag_wins_over_everything() {
        let s = choose_kubeconfig_source(
            Some(Path::new("/etc/k.yaml")),
            true,
            Some(OsStr::new("/env/k")),
            Some(Path::new("/home/u")),
        );
        assert_eq!(s, Some(KubeconfigSource::Flag(PathBuf::from("/etc/k.yaml"))));
    }

    #[test]
    fn in_cluster_comes_before_kubeconfig_env_and_home() {
        let s = choose_kubeconfig_source(None, true, Some(OsStr::new("/env/k")), Some(Path::new("/home/u")));
        assert_eq!(s, Some(KubeconfigSource::InCluster));
    }

    #[test]
    fn kubeconfig_env_comes_before_home() {
        let s = choose_kubeconfig_source(None, false, Some(OsStr::new("/a:/b")), Some(Path::new("/home/u")));
        assert_eq!(s, Some(KubeconfigSource::Env(PathBuf::from("/a:/b"))));
    }

    #[test]
    fn empty_kubeconfig_env_is_ignored() {
        for empty in ["", ":", "::"] {
            let s = choose_kubeconfig_source(None, false, Some(OsStr::new(empty)), Some(Path::new("/home/u")));
            assert_eq!(
                s,
                Some(KubeconfigSource::Home(PathBuf::from("/home/u/.kube/config"))),
                "{empty:?}"
            );
        }
    }

    #[test]
    fn home_is_the_last_resort_and_nothing_is_none() {
        let s = choose_kubeconfig_source(None, false, None, Some(Path::new("/home/u")));
        assert_eq!(s, Some(KubeconfigSource::Home(PathBuf::from("/home/u/.kube/config"))));
        assert_eq!(choose_kubeconfig_source(None, false, None, None), None);
        assert_eq!(choose_kubeconfig_source(None, false, None, Some(Path::new(""))), None);
    }

    #[test]
    fn sources_display_for_messages() {
        assert_eq!(KubeconfigSource::Flag("/k".into()).to_string(), "--kubeconfig /k");
        assert_eq!(KubeconfigSource::Env("/a:/b".into()).to_string(), "KUBECONFIG=/a:/b");
        assert_eq!(
            KubeconfigSource::Home("/h/.kube/config".into()).to_string(),
            "/h/.kube/config"
        );
        assert_eq!(
            KubeconfigSource::InCluster.to_string(),
            "the in-cluster service account"
        );
    }
}
