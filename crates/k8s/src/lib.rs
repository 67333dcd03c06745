//! `homelab-k8s`: homelab's kube-rs adapters — the compat gate's live [`ClusterSnapshot`]
//! (with Prometheus's deprecated-API requests), psql pod exec, Secrets, the Whisker watchdog.
//!
//! ```no_run
//! # async fn run(matrix: &homelab_core::upgrade::CompatMatrix) -> Result<(), Box<dyn std::error::Error>> {
//! use homelab_k8s::{KubeconfigOptions, PrometheusClient, ApiClient};
//!
//! let client = homelab_k8s::connect(&KubeconfigOptions::default()).await?;
//! let prometheus = PrometheusClient::new("http://prometheus.monitoring:9090")?;
//! let snapshot = ApiClient::new(client).collect(matrix, Some(&prometheus)).await?;
//! println!("{}", snapshot.to_json_pretty());
//! # Ok(()) }
//! ```
//!
//! * Configuration: [`choose_kubeconfig_source`] decides (explicit `--kubeconfig`, then the
//!   in-cluster service account, then `KUBECONFIG`, then `~/.kube/config`); [`connect`]
//!   applies it and honours a `--context`.
//! * Collection: [`ApiClient::collect`] fetches the node list and every matrix
//!   workload concurrently; a missing workload is left out (the gate reports it
//!   unreadable), any other API failure is a [`K8sError`]. Prometheus failures never fail
//!   the collection: they become `deprecated_api_requests: None` with the reason.
//! * [`collect_snapshot`]: connect and collect under one overall deadline (what the
//!   `homelab upgrade` verbs run).
//! * Whisker self-heal: [`WhiskerWatchdog`] reads the Whisker backend's log and
//!   Goldmane's readiness, and deletes the Whisker pod when told to;
//!   [`WhiskerWatchdog::run_once`] is one CronJob round (observe, decide, act).
//! * Secrets: [`SecretReader::read_key`] reads one key of a core/v1 Secret,
//!   base64-decoded, as a redacted [`homelab_core::secret::SecretString`].
//! * Errors are typed and display as one line naming the endpoint and the cause, without
//!   credentials.
//! * Every call goes through [`ApiClient`] (bounded, retried, one-line errors); the
//!   in-process fakes the tests use live in the dev-only `homelab-testkit` crate.
//!
//! # Kubernetes API version
//!
//! This crate enables the `v1_33` feature of `k8s-openapi` (the oldest API server this
//! adapter targets), and every crate that depends on `homelab-k8s` inherits it:
//! `k8s-openapi` allows exactly one version feature per build, so another crate in the
//! same build must not enable a different one. The fields read here (`Node.status.nodeInfo`,
//! node labels, the pod templates of `apps/v1` workloads) are stable across all versions.
//!
//! # TLS
//!
//! kube and reqwest use rustls, which needs a process-wide crypto provider: install one
//! first (the homelab binaries do, through [`ensure_crypto_provider`], at start). As a
//! fallback for other tools and tests linking this crate, [`connect`] and
//! [`PrometheusClient::new`] call [`ensure_crypto_provider`] too, which installs `ring`
//! only when no provider is installed yet.

mod collect;
mod error;
mod exec;
mod kubeconfig;
mod prometheus;
mod secrets;
mod whisker;

pub use collect::{
    ApiClient, CONTROL_PLANE_LABEL, DEFAULT_REQUEST_TIMEOUT, LEGACY_MASTER_LABEL, MAX_CONCURRENT_REQUESTS,
    NO_PROMETHEUS_CONFIGURED, collect_snapshot,
};
pub use error::{K8sError, PromError};
pub use exec::{DEFAULT_EXEC_TIMEOUT, MAX_PSQL_OUTPUT, PsqlExec, PsqlTarget};
pub use kubeconfig::{
    API_READ_TIMEOUT, Connection, KubeconfigOptions, KubeconfigSource, SERVICE_ACCOUNT_TOKEN, choose_kubeconfig_source,
    connect, connect_with_details, ensure_crypto_provider,
};
pub use prometheus::{DEPRECATED_APIS_QUERY, PROMETHEUS_TIMEOUT, PrometheusClient};
pub use secrets::{SecretKeyError, SecretReader};
pub use whisker::{OBSERVE_LIMIT, WatchdogAction, WatchdogOutcome, WhiskerObservation, WhiskerTarget, WhiskerWatchdog};

// Re-exported so callers name the same version this crate was built with.
pub use homelab_core::upgrade::ClusterSnapshot;
