//! [`ApiClient`], the crate's Kubernetes API client (bounded, retried calls with one-line
//! errors naming the API server), and the live collection of a [`ClusterSnapshot`] through
//! it ([`ApiClient::collect`]): nodes, the matrix addons' workloads and the deprecated-API
//! requests Prometheus saw.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt};
use homelab_core::upgrade::{
    ClusterSnapshot, CompatMatrix, DeprecatedApiRequest, NodeFacts, WorkloadFacts, WorkloadKind,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PodTemplateSpec};
use kube::api::{Api, ListParams};

use crate::error::{K8sError, cause_of, one_line, redact_url};
use crate::kubeconfig::{Connection, KubeconfigOptions, connect_with_details};
use crate::prometheus::PrometheusClient;

/// Connects per `opts` and collects the live [`ClusterSnapshot`] for `matrix`
/// ([`ApiClient::collect`]), the whole of it — connecting included — bounded by
/// `deadline`; past it, [`K8sError::Deadline`]. What `homelab upgrade gate` (without
/// `--snapshot`) and `homelab upgrade snapshot` run. Needs a rustls crypto provider
/// installed for the process (see the crate docs, TLS).
pub async fn collect_snapshot(
    opts: &KubeconfigOptions,
    matrix: &CompatMatrix,
    prometheus: Option<&PrometheusClient>,
    deadline: Duration,
) -> Result<ClusterSnapshot, K8sError> {
    let work = async {
        let connection = connect_with_details(opts).await?;
        tracing::info!(api = %connection.api_url, source = %connection.source, "reading the live cluster");
        ApiClient::from_connection(&connection)
            .collect(matrix, prometheus)
            .await
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or(Err(K8sError::Deadline { limit: deadline }))
}

/// The label kubeadm puts on control-plane nodes.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// The pre-1.24 spelling of [`CONTROL_PLANE_LABEL`], still honoured.
pub const LEGACY_MASTER_LABEL: &str = "node-role.kubernetes.io/master";
/// The `deprecated_api_error` when no Prometheus URL was given.
pub const NO_PROMETHEUS_CONFIGURED: &str = "no Prometheus URL configured (--prometheus or PROM)";
/// At most this many API requests are in flight at once during [`ApiClient::collect`].
pub const MAX_CONCURRENT_REQUESTS: usize = 32;
/// Default upper bound for one API request, connection included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Nodes are listed in pages of this size.
const NODE_PAGE_SIZE: u32 = 500;
/// Pauses before retrying a 429/503/504 answer (then the error is returned).
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];
/// A guard against a server that keeps handing out continue tokens.
const MAX_NODE_PAGES: usize = 1_000;

/// The Kubernetes API client every adapter of this crate goes through (a [`kube::Client`]
/// plus the API server's name for errors and a per-request timeout; 429/503/504 are retried
/// a few times): [`collect`](Self::collect) builds cluster snapshots with it, and
/// [`PsqlExec`](crate::PsqlExec), [`SecretReader`](crate::SecretReader) and
/// [`WhiskerWatchdog`](crate::WhiskerWatchdog) make their calls through it.
#[derive(Clone)]
pub struct ApiClient {
    client: kube::Client,
    api_url: Option<String>,
    request_timeout: Duration,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("api_url", &self.api_url)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

enum Mode {
    Concurrent,
    Sequential,
}

impl ApiClient {
    /// A client over `client`. Errors say "the Kubernetes API" without an address;
    /// use [`with_api_url`](Self::with_api_url) or [`from_connection`](Self::from_connection)
    /// to name it.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            api_url: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// A client over a [`Connection`], naming its API server in errors.
    pub fn from_connection(connection: &Connection) -> Self {
        Self::new(connection.client.clone()).with_api_url(&connection.api_url)
    }

    /// Names the API server in error messages (user info is never shown).
    pub fn with_api_url(mut self, url: impl AsRef<str>) -> Self {
        self.api_url = Some(redact_url(url.as_ref()));
        self
    }

    pub(crate) fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Bounds each API request (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Collects nodes (kubelet and container runtime versions, control-plane role) and
    /// every matrix addon's workload (container and init-container images), with the API
    /// requests in flight concurrently, then the deprecated-API requests from Prometheus.
    ///
    /// A workload that does not exist (404) is simply absent from the snapshot (the gate
    /// then reports it unreadable). Any other API failure is an error. A Prometheus
    /// failure is not: it yields `deprecated_api_requests: None` and the reason in
    /// `deprecated_api_error`. Nodes are sorted by name, workloads follow matrix order
    /// (a workload named by several addons appears once).
    pub async fn collect(
        &self,
        matrix: &CompatMatrix,
        prometheus: Option<&PrometheusClient>,
    ) -> Result<ClusterSnapshot, K8sError> {
        self.run(matrix, prometheus, Mode::Concurrent).await
    }

    /// [`collect`](Self::collect) with every request made one after the other (the
    /// benchmark's baseline). Same result.
    pub async fn collect_sequential(
        &self,
        matrix: &CompatMatrix,
        prometheus: Option<&PrometheusClient>,
    ) -> Result<ClusterSnapshot, K8sError> {
        self.run(matrix, prometheus, Mode::Sequential).await
    }

    async fn run(
        &self,
        matrix: &CompatMatrix,
        prometheus: Option<&PrometheusClient>,
        mode: Mode,
    ) -> Result<ClusterSnapshot, K8sError> {
        let targets = workload_targets(matrix);
        tracing::debug!(workloads = targets.len(), api = ?self.api_url, "collecting cluster snapshot");
        let (mut nodes, found, prom) = match mode {
            Mode::Concurrent => {
                let workloads = futures::stream::iter(&targets)
                    .map(|(ns, kind, name)| self.workload(ns, *kind, name))
                    .buffered(MAX_CONCURRENT_REQUESTS)
                    .try_collect::<Vec<_>>();
                // Prometheus is queried alongside; a Kubernetes error ends everything.
                let prom = query_prometheus(prometheus).map(Ok::<_, K8sError>);
                futures::try_join!(self.nodes(), workloads, prom)?
            }
            Mode::Sequential => {
                let nodes = self.nodes().await?;
                let mut workloads = Vec::with_capacity(targets.len());
                for (ns, kind, name) in &targets {
                    workloads.push(self.workload(ns, *kind, name).await?);
                }
                (nodes, workloads, query_prometheus(prometheus).await)
            }
        };
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let (deprecated_api_requests, deprecated_api_error) = prom;
        Ok(ClusterSnapshot {
            nodes,
            workloads: found.into_iter().flatten().collect(),
            deprecated_api_requests,
            deprecated_api_error,
        })
    }

    /// Every node's facts, in the order the API returned them.
    pub async fn nodes(&self) -> Result<Vec<NodeFacts>, K8sError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut out = Vec::new();
        let mut params = ListParams::default().limit(NODE_PAGE_SIZE);
        for _ in 0..MAX_NODE_PAGES {
            let page = self.call("list nodes", || api.list(&params)).await?;
            out.extend(page.items.iter().filter_map(node_facts));
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = ListParams::default().limit(NODE_PAGE_SIZE).continue_token(&token),
                None => return Ok(out),
            }
        }
        Err(K8sError::Decode {
            api_url: self.api_url.clone(),
            what: "list nodes".into(),
            cause: format!("more than {MAX_NODE_PAGES} pages of nodes"),
        })
    }

    /// One workload's images (containers, then init containers; duplicates once), or
    /// `None` when it does not exist.
    pub async fn workload(
        &self,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Result<Option<WorkloadFacts>, K8sError> {
        let what = format!("get {kind} {namespace}/{name}");
        // `Some(None)`: the object exists but has no spec.
        let template: Option<Option<PodTemplateSpec>> = match kind {
            WorkloadKind::Deployment => {
                let api = Api::<Deployment>::namespaced(self.client.clone(), namespace);
                self.call(&what, || api.get_opt(name))
                    .await?
                    .map(|o| o.spec.map(|s| s.template))
            }
            WorkloadKind::DaemonSet => {
                let api = Api::<DaemonSet>::namespaced(self.client.clone(), namespace);
                self.call(&what, || api.get_opt(name))
                    .await?
                    .map(|o| o.spec.map(|s| s.template))
            }
            WorkloadKind::StatefulSet => {
                let api = Api::<StatefulSet>::namespaced(self.client.clone(), namespace);
                self.call(&what, || api.get_opt(name))
                    .await?
                    .map(|o| o.spec.map(|s| s.template))
            }
        };
        let Some(template) = template else {
            tracing::debug!(%what, "workload not found; it will be reported unreadable");
            return Ok(None);
        };
        Ok(Some(WorkloadFacts {
            namespace: namespace.to_owned(),
            kind,
            name: name.to_owned(),
            images: template.as_ref().map(template_images).unwrap_or_default(),
        }))
    }

    /// One API call, bounded by the request timeout; answers 429/503/504 (an overloaded or
    /// restarting API server) are retried a few times with a short backoff.
    pub(crate) async fn call<T, F, Fut>(&self, what: &str, mut request: F) -> Result<T, K8sError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let err = match tokio::time::timeout(self.request_timeout, request()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => self.map_error(what, e),
                Err(_) => {
                    return Err(K8sError::Timeout {
                        api_url: self.api_url.clone(),
                        what: what.to_owned(),
                        timeout: self.request_timeout,
                    });
                }
            };
            match (&err, delays.next()) {
                (
                    K8sError::Api {
                        code: 429 | 503 | 504, ..
                    },
                    Some(delay),
                ) => {
                    tracing::debug!(error = %err, ?delay, "retrying");
                    tokio::time::sleep(*delay).await;
                }
                _ => return Err(err),
            }
        }
    }

    fn map_error(&self, what: &str, e: kube::Error) -> K8sError {
        let api_url = self.api_url.clone();
        let what = what.to_owned();
        match e {
            kube::Error::Api(status) => {
                let code = status.code;
                let canonical = http_reason(code);
                // kube reconstructs a Status from a non-JSON error body with this reason.
                let unparsed = status.reason == "Failed to parse error data";
                let reason = if status.reason.is_empty() || unparsed {
                    canonical.to_owned()
                } else {
                    one_line(&status.reason, 80)
                };
                let message = one_line(&status.message, if unparsed { 120 } else { 300 });
                K8sError::Api {
                    api_url,
                    what,
                    code,
                    reason,
                    message,
                }
            }
            kube::Error::HyperError(ref inner) => transport_error(api_url, what, cause_of(inner)),
            kube::Error::Service(ref inner) => transport_error(api_url, what, cause_of(inner.as_ref())),
            kube::Error::SerdeError(inner) => K8sError::Decode {
                api_url,
                what,
                cause: one_line(&inner.to_string(), 300),
            },
            other => K8sError::Request {
                api_url,
                what,
                cause: one_line(&other.to_string(), 300),
            },
        }
    }
}

fn transport_error(api_url: Option<String>, what: String, cause: crate::error::Cause) -> K8sError {
    // A read timeout below HTTP names the request; other transport failures do not
    // depend on it.
    let cause = if cause.timed_out {
        format!("{what}: {}", cause.text)
    } else {
        cause.text
    };
    K8sError::Unreachable { api_url, cause }
}

fn http_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Error",
    }
}

/// The matrix's workloads in matrix order, each once.
fn workload_targets(matrix: &CompatMatrix) -> Vec<(String, WorkloadKind, String)> {
    let mut seen = HashSet::new();
    matrix
        .addons
        .iter()
        .map(|a| (a.namespace.clone(), a.kind, a.resource.clone()))
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

fn node_facts(node: &Node) -> Option<NodeFacts> {
    let Some(name) = node.metadata.name.clone().filter(|n| !n.is_empty()) else {
        tracing::warn!("skipping a node without a name");
        return None;
    };
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let control_plane = node
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(CONTROL_PLANE_LABEL) || l.contains_key(LEGACY_MASTER_LABEL));
    Some(NodeFacts {
        name,
        kubelet_version: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
        container_runtime_version: info.map(|i| i.container_runtime_version.clone()).unwrap_or_default(),
        control_plane,
    })
}

fn template_images(template: &PodTemplateSpec) -> Vec<String> {
    let Some(spec) = &template.spec else {
        return Vec::new();
    };
    let mut images: Vec<String> = Vec::new();
    for container in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        if let Some(image) = container.image.as_deref().map(str::trim).filter(|i| !i.is_empty())
            && !images.iter().any(|known| known == image)
        {
            images.push(image.to_owned());
        }
    }
    images
}

/// `(deprecated_api_requests, deprecated_api_error)` for the snapshot.
async fn query_prometheus(
    prometheus: Option<&PrometheusClient>,
) -> (Option<Vec<DeprecatedApiRequest>>, Option<String>) {
    let Some(prom) = prometheus else {
        return (None, Some(NO_PROMETHEUS_CONFIGURED.to_owned()));
    };
    match prom.deprecated_api_requests().await {
        Ok(requests) => (Some(requests), None),
        Err(e) => {
            tracing::warn!(error = %e, "deprecated-API requests unknown");
            (None, Some(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, NodeStatus, NodeSystemInfo, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn node(name: Option<&str>, label: Option<&str>, info: bool) -> Node {
        Node {
            metadata: ObjectMeta {
                name: name.map(str::to_owned),
                labels: label.map(|l| BTreeMap::from([(l.to_owned(), String::new())])),
                ..ObjectMeta::default()
            },
            spec: None,
            status: info.then(|| NodeStatus {
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "v1.35.6".into(),
                    container_runtime_version: "containerd://2.0.4".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }

    #[test]
    fn control_plane_from_current_or_legacy_label() {
        let cp = node_facts(&node(Some("a"), Some(CONTROL_PLANE_LABEL), true)).unwrap();
        assert!(cp.control_plane);
        assert_eq!(cp.kubelet_version, "v1.35.6");
        assert_eq!(cp.container_runtime_version, "containerd://2.0.4");
        assert!(
            node_facts(&node(Some("b"), Some(LEGACY_MASTER_LABEL), true))
                .unwrap()
                .control_plane
        );
        assert!(
            !node_facts(&node(Some("c"), Some("node-role.kubernetes.io/worker"), true))
                .unwrap()
                .control_plane
        );
        assert!(!node_facts(&node(Some("d"), None, true)).unwrap().control_plane);
    }

    #[test]
    fn tolerates_incomplete_nodes() {
        assert_eq!(node_facts(&node(None, None, true)), None);
        assert_eq!(node_facts(&node(Some(""), None, true)), None);
        let bare = node_facts(&node(Some("e"), None, false)).unwrap();
        assert_eq!(bare.kubelet_version, "");
        assert_eq!(bare.container_runtime_version, "");
    }

    #[test]
    fn images_from_containers_then_init_containers_once() {
        let c = |image: Option<&str>| Container {
            name: "x".into(),
            image: image.map(str::to_owned),
            ..Container::default()
        };
        let template = PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![c(Some("app:1")), c(None), c(Some(" ")), c(Some("sidecar:2"))],
                init_containers: Some(vec![c(Some("init:3")), c(Some("app:1"))]),
                ..PodSpec::default()
            }),
        };
        assert_eq!(template_images(&template), ["app:1", "sidecar:2", "init:3"]);
        assert!(template_images(&PodTemplateSpec::default()).is_empty());
    }

    #[test]
    fn workload_targets_keep_matrix_order_and_dedupe() {
        let m = CompatMatrix::from_json(
            r#"{"addons":[
            {"name":"b","namespace":"ns","kind":"deployment","resource":"w2","image_re":"w:(\\d+\\.\\d+)","max_k8s":{"1.0":"1.36"}},
            {"name":"a","namespace":"ns","kind":"daemonset","resource":"w1","image_re":"w:(\\d+\\.\\d+)","max_k8s":{"1.0":"1.36"}},
            {"name":"c","namespace":"ns","kind":"deployment","resource":"w2","image_re":"x:(\\d+\\.\\d+)","max_k8s":{"1.0":"1.36"}}
        ]}"#,
        )
        .unwrap();
        let t = workload_targets(&m);
        assert_eq!(
            t,
            [
                ("ns".to_owned(), WorkloadKind::Deployment, "w2".to_owned()),
                ("ns".to_owned(), WorkloadKind::DaemonSet, "w1".to_owned()),
            ]
        );
    }
}
