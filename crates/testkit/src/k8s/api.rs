//! The fake Kubernetes API server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use homelab_core::upgrade::{ClusterSnapshot, NodeFacts, WorkloadFacts, WorkloadKind};
use hyper::Method;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, Node, NodeStatus, NodeSystemInfo, PodSpec, PodTemplateSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde_json::{Value, json};

use homelab_k8s::{ApiClient, CONTROL_PLANE_LABEL, KubeconfigOptions};

use super::RequestHead;
use crate::http::{self, Reply, Server};

/// `pods/{name}/exec` over a websocket (a child module: it extends `ApiState`).
#[path = "exec.rs"]
pub(super) mod exec;

/// The bearer token the fake accepts (a dummy, not a secret).
pub const FAKE_TOKEN: &str = "homelab-fake-token";
/// The current context of [`FakeApiServer::write_kubeconfig`].
pub const FAKE_CONTEXT: &str = "homelab-fake";
/// A second context in the same kubeconfig whose user has a wrong token (answers 401):
/// lets a test prove that a `--context` choice is honoured.
pub const FAKE_BAD_TOKEN_CONTEXT: &str = "homelab-fake-bad-token";

/// A Kubernetes API server serving a snapshot's nodes and workloads as real Kubernetes
/// JSON (`k8s-openapi` objects), with knobs for latency and failures.
///
/// Routes: `GET /api/v1/nodes` (honours `limit` and `continue`),
/// `GET /apis/apps/v1/namespaces/{ns}/{deployments|daemonsets|statefulsets}/{name}`,
/// `GET /api/v1/namespaces/{ns}/secrets/{name}` (see [`FakeApiServer::insert_secret`]),
/// `GET /version`; anything else is a 404 `Status`. Every request except `/version` must
/// carry `Authorization: Bearer` [`FAKE_TOKEN`] (else 401).
pub struct FakeApiServer {
    state: Arc<ApiState>,
    server: Server,
}

impl fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("url", &self.url())
            .field("request_count", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Serves `snapshot`'s nodes and workloads (each image becomes one container of the
    /// pod template) on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(snapshot: &ClusterSnapshot) -> FakeApiServer {
        let state = Arc::new(ApiState::new(snapshot));
        for w in &snapshot.workloads {
            let object = workload_object(&state, w, &[]);
            state.objects().insert(key(w.kind, &w.namespace, &w.name), object);
        }
        let handler_state = state.clone();
        let server = Server::spawn("fake API server", move |mut req| {
            let head = RequestHead::of(&mut req);
            let state = handler_state.clone();
            async move { state.handle(head).await }
        })
        .await;
        FakeApiServer { state, server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Delay applied to every request before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.state.latency_us.store(micros, Ordering::SeqCst);
    }

    /// Answer every request with this HTTP status and a matching `Status` body (403
    /// Forbidden, 500 InternalError, …) until [`clear_failure`](Self::clear_failure).
    pub fn fail_all(&self, status: u16) {
        self.state.fail_status.store(status, Ordering::SeqCst);
    }

    /// Undo [`fail_all`](Self::fail_all).
    pub fn clear_failure(&self) {
        self.state.fail_status.store(0, Ordering::SeqCst);
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.state.request_count.load(Ordering::SeqCst)
    }

    /// The highest number of requests that were being served at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Adds or replaces a workload built from `facts`, with `init_images` as init
    /// containers of its pod template.
    pub fn insert_workload(&self, facts: &WorkloadFacts, init_images: &[String]) {
        let object = workload_object(&self.state, facts, init_images);
        self.state
            .objects()
            .insert(key(facts.kind, &facts.namespace, &facts.name), object);
    }

    /// Serves `object` verbatim for this workload (any JSON: lets a test feed the
    /// collector objects the snapshot types cannot express, or malformed ones).
    pub fn insert_raw_workload(&self, kind: WorkloadKind, namespace: &str, name: &str, object: Value) {
        self.state.objects().insert(key(kind, namespace, name), object);
    }

    /// Removes a workload (it then answers 404).
    pub fn remove_workload(&self, kind: WorkloadKind, namespace: &str, name: &str) {
        self.state.objects().remove(&key(kind, namespace, name));
    }

    /// Adds (or replaces) a pod.
    pub fn insert_pod(&self, pod: FakePod) {
        let mut pods = lock(&self.state.pods);
        pods.retain(|p| !(p.namespace == pod.namespace && p.name == pod.name));
        pods.push(pod);
    }

    /// `namespace/name` of every pod deleted through the API, in order.
    pub fn deleted_pods(&self) -> Vec<String> {
        lock(&self.state.deleted_pods).clone()
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path: cluster
    /// `server: http://127.0.0.1:PORT`, a user with the dummy token [`FAKE_TOKEN`], current
    /// context [`FAKE_CONTEXT`], plus [`FAKE_BAD_TOKEN_CONTEXT`] (wrong token).
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("fake-kubeconfig-{}.yaml", self.server.addr().port()));
        std::fs::write(&path, self.kubeconfig_yaml())
            .unwrap_or_else(|e| panic!("fake API server: cannot write {}: {e}", path.display()));
        path
    }

    /// The kubeconfig [`write_kubeconfig`](Self::write_kubeconfig) writes.
    pub fn kubeconfig_yaml(&self) -> String {
        let url = self.url();
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: homelab-fake
  cluster:
    server: {url}
contexts:
- name: {FAKE_CONTEXT}
  context:
    cluster: homelab-fake
    user: homelab-fake
    namespace: default
- name: {FAKE_BAD_TOKEN_CONTEXT}
  context:
    cluster: homelab-fake
    user: homelab-fake-bad-token
current-context: {FAKE_CONTEXT}
preferences: {{}}
users:
- name: homelab-fake
  user:
    token: {FAKE_TOKEN}
- name: homelab-fake-bad-token
  user:
    token: not-the-right-token
"
        )
    }

    /// A client for this server, built the way the product builds one: from the kubeconfig
    /// [`kubeconfig_yaml`](Self::kubeconfig_yaml) (current context [`FAKE_CONTEXT`]) through
    /// [`homelab_k8s::connect_with_details`]. Must be called inside a tokio runtime.
    ///
    /// # Panics
    /// If the kubeconfig cannot be written or kube cannot build a client from it.
    pub async fn client(&self) -> kube::Client {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("fake API server: no temporary directory: {e}"));
        let options = KubeconfigOptions {
            kubeconfig: Some(self.write_kubeconfig(dir.path())),
            context: None,
        };
        homelab_k8s::connect_with_details(&options)
            .await
            .unwrap_or_else(|e| panic!("fake API server: cannot build a client: {e}"))
            .client
    }

    /// Serves a core/v1 Secret (its `data` base64-encoded, as the API server sends it).
    pub fn insert_secret(&self, namespace: &str, name: &str, data: &[(&str, &[u8])]) {
        let data = data.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect();
        lock(&self.state.secrets).insert((namespace.to_owned(), name.to_owned()), data);
    }

    /// Answers 403 Forbidden (as RBAC would) for every Secret in `namespace`.
    pub fn forbid_secrets_in(&self, namespace: &str) {
        lock(&self.state.forbidden_secret_namespaces).insert(namespace.to_owned());
    }

    /// `ApiClient::new(self.client().await).with_api_url(self.url())`.
    pub async fn collector(&self) -> ApiClient {
        ApiClient::new(self.client().await).with_api_url(self.url())
    }
}

type ObjectKey = (WorkloadKind, String, String);
/// `(namespace, name)`.
type ObjectName = (String, String);
type SecretData = BTreeMap<String, Vec<u8>>;

fn key(kind: WorkloadKind, namespace: &str, name: &str) -> ObjectKey {
    (kind, namespace.to_owned(), name.to_owned())
}

struct ApiState {
    /// Node objects as list items (no `apiVersion`/`kind`, like the real list), already
    /// serialized: the fake should not dominate what a benchmark measures.
    nodes: Vec<String>,
    objects: Mutex<HashMap<ObjectKey, Value>>,
    version: Value,
    latency_us: AtomicU64,
    fail_status: AtomicU16,
    request_count: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    next_uid: AtomicU64,
    resource_version: u64,
    pods: Mutex<Vec<FakePod>>,
    deleted_pods: Mutex<Vec<String>>,
    exec: exec::ExecState,
    secrets: Mutex<HashMap<ObjectName, SecretData>>,
    forbidden_secret_namespaces: Mutex<HashSet<String>>,
}

/// A pod the fake serves under `/api/v1/namespaces/{ns}/pods` (for the watchdog).
#[derive(Debug, Clone)]
pub struct FakePod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ready: bool,
    /// Container name → its log text (served by `pods/{name}/log?container=`).
    pub logs: BTreeMap<String, String>,
}

/// Counts a request as in flight until dropped (also when the client goes away).
struct InFlight<'a>(&'a ApiState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a ApiState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ApiState {
    fn new(snapshot: &ClusterSnapshot) -> Self {
        let mut state = Self {
            nodes: Vec::new(),
            objects: Mutex::new(HashMap::new()),
            version: version_info(snapshot),
            latency_us: AtomicU64::new(0),
            fail_status: AtomicU16::new(0),
            request_count: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            next_uid: AtomicU64::new(1),
            resource_version: 48_213,
            pods: Mutex::new(Vec::new()),
            deleted_pods: Mutex::new(Vec::new()),
            exec: exec::ExecState::default(),
            secrets: Mutex::new(HashMap::new()),
            forbidden_secret_namespaces: Mutex::new(HashSet::new()),
        };
        let nodes = snapshot.nodes.iter().map(|n| node_item(&state, n)).collect();
        state.nodes = nodes;
        state
    }

    fn objects(&self) -> MutexGuard<'_, HashMap<ObjectKey, Value>> {
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn uid(&self) -> String {
        let n = self.next_uid.fetch_add(1, Ordering::SeqCst);
        format!("6f1c0a3e-0000-4000-8000-{n:012x}")
    }

    async fn handle(self: Arc<Self>, head: RequestHead) -> Reply {
        self.request_count.fetch_add(1, Ordering::SeqCst);
        let _in_flight = InFlight::enter(&self);
        let latency = Duration::from_micros(self.latency_us.load(Ordering::SeqCst));
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fail = self.fail_status.load(Ordering::SeqCst);
        if fail != 0 {
            return forced_failure(fail, &head);
        }
        let segments: Vec<&str> = head.path.trim_matches('/').split('/').collect();
        let pod_delete =
            head.method == Method::DELETE && matches!(segments.as_slice(), ["api", "v1", "namespaces", _, "pods", _]);
        let exec_post = head.method == Method::POST && segments.last() == Some(&"exec");
        if head.method != Method::GET && !pod_delete && !exec_post {
            return status_reply(
                405,
                "MethodNotAllowed",
                &format!(
                    "the server does not allow this method on the requested resource ({})",
                    head.method
                ),
                json!({}),
            );
        }
        if head.path == "/version" {
            return http::json_reply(200, &self.version);
        }
        if !authorized(&head) {
            return status_reply(401, "Unauthorized", "Unauthorized", json!({}));
        }
        match segments.as_slice() {
            ["api", "v1", "nodes"] => self.list_nodes(&head),
            ["api", "v1", "namespaces", ns, "pods"] => self.list_pods(ns, &head),
            ["api", "v1", "namespaces", ns, "pods", name] if pod_delete => self.delete_pod(ns, name),
            ["api", "v1", "namespaces", ns, "pods", name, "log"] => self.pod_log(ns, name, &head),
            ["api", "v1", "namespaces", ns, "pods", name, "exec"] => self.exec(ns, name, &head),
            ["api", "v1", "namespaces", ns, "secrets", name] => self.get_secret(ns, name),
            ["apis", "apps", "v1", "namespaces", ns, plural, name] => match kind_of(plural) {
                Some(kind) => self.get_workload(kind, plural, ns, name),
                None => not_found_generic(),
            },
            _ => not_found_generic(),
        }
    }

    fn get_secret(&self, ns: &str, name: &str) -> Reply {
        if lock(&self.forbidden_secret_namespaces).contains(ns) {
            return status_reply(
                403,
                "Forbidden",
                &format!(
                    "secrets \"{name}\" is forbidden: User \"system:serviceaccount:homelab:fake\" cannot get resource \"secrets\" in API group \"\" in the namespace \"{ns}\""
                ),
                json!({ "name": name, "kind": "secrets" }),
            );
        }
        let Some(data) = lock(&self.secrets).get(&(ns.to_owned(), name.to_owned())).cloned() else {
            return status_reply(
                404,
                "NotFound",
                &format!("secrets \"{name}\" not found"),
                json!({ "name": name, "kind": "secrets" }),
            );
        };
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(ns.to_owned()),
                uid: Some(self.uid()),
                resource_version: Some(self.resource_version.to_string()),
                ..ObjectMeta::default()
            },
            data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
            type_: Some("Opaque".to_owned()),
            ..Secret::default()
        };
        let mut value = serde_json::to_value(&secret).unwrap_or_default();
        value["apiVersion"] = json!("v1");
        value["kind"] = json!("Secret");
        http::json_reply(200, &value)
    }

    fn list_nodes(&self, head: &RequestHead) -> Reply {
        let limit = match head.query_param("limit").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return bad_request("invalid limit"),
        };
        let start = match head.query_param("continue").filter(|c| !c.is_empty()) {
            None => 0,
            Some(token) => match token
                .strip_prefix("fake-continue-")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) if n <= self.nodes.len() => n,
                _ => return bad_request("continue key is not valid"),
            },
        };
        let end = if limit == 0 {
            self.nodes.len()
        } else {
            start.saturating_add(limit).min(self.nodes.len())
        };
        let mut metadata = json!({ "resourceVersion": self.resource_version.to_string() });
        if end < self.nodes.len() {
            metadata["continue"] = json!(format!("fake-continue-{end}"));
            metadata["remainingItemCount"] = json!(self.nodes.len() - end);
        }
        let body = format!(
            r#"{{"kind":"NodeList","apiVersion":"v1","metadata":{metadata},"items":[{}]}}"#,
            self.nodes[start..end].join(",")
        );
        http::reply(200, "application/json", body)
    }

    fn list_pods(&self, ns: &str, head: &RequestHead) -> Reply {
        // Equality selectors only (`k=v,k2=v2`), which is all the watchdog sends.
        let wanted: Vec<(&str, &str)> = head
            .query_param("labelSelector")
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.split_once('='))
            .collect();
        let items: Vec<Value> = lock(&self.pods)
            .iter()
            .filter(|p| p.namespace == ns)
            .filter(|p| wanted.iter().all(|(k, v)| p.labels.get(*k).is_some_and(|x| x == v)))
            .map(pod_object)
            .collect();
        http::json_reply(
            200,
            &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": self.resource_version.to_string()}, "items": items}),
        )
    }

    fn pod_log(&self, ns: &str, name: &str, head: &RequestHead) -> Reply {
        let pods = lock(&self.pods);
        let Some(pod) = pods.iter().find(|p| p.namespace == ns && p.name == name) else {
            return status_reply(
                404,
                "NotFound",
                &format!("pods \"{name}\" not found"),
                json!({"name": name, "kind": "pods"}),
            );
        };
        let container = head
            .query_param("container")
            .or_else(|| pod.logs.keys().next().map(String::as_str));
        match container.and_then(|c| pod.logs.get(c)) {
            Some(log) => http::reply(200, "text/plain", log.clone()),
            None => bad_request(&format!(
                "container {:?} is not valid for pod {name}",
                container.unwrap_or("")
            )),
        }
    }

    fn delete_pod(&self, ns: &str, name: &str) -> Reply {
        let mut pods = lock(&self.pods);
        let Some(i) = pods.iter().position(|p| p.namespace == ns && p.name == name) else {
            return status_reply(
                404,
                "NotFound",
                &format!("pods \"{name}\" not found"),
                json!({"name": name, "kind": "pods"}),
            );
        };
        let pod = pods.remove(i);
        lock(&self.deleted_pods).push(format!("{ns}/{name}"));
        http::json_reply(200, &pod_object(&pod))
    }

    fn get_workload(&self, kind: WorkloadKind, plural: &str, ns: &str, name: &str) -> Reply {
        match self.objects().get(&key(kind, ns, name)) {
            Some(object) => http::json_reply(200, object),
            None => status_reply(
                404,
                "NotFound",
                &format!("{plural}.apps \"{name}\" not found"),
                json!({ "name": name, "group": "apps", "kind": plural }),
            ),
        }
    }
}

fn authorized(head: &RequestHead) -> bool {
    head.headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == FAKE_TOKEN)
}

fn kind_of(plural: &str) -> Option<WorkloadKind> {
    match plural {
        "deployments" => Some(WorkloadKind::Deployment),
        "daemonsets" => Some(WorkloadKind::DaemonSet),
        "statefulsets" => Some(WorkloadKind::StatefulSet),
        _ => None,
    }
}

/// A `metav1.Status` failure, as the API server sends it.
fn status_reply(code: u16, reason: &str, message: &str, details: Value) -> Reply {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    });
    http::json_reply(code, &body)
}

fn not_found_generic() -> Reply {
    status_reply(
        404,
        "NotFound",
        "the server could not find the requested resource",
        json!({}),
    )
}

fn bad_request(message: &str) -> Reply {
    status_reply(400, "BadRequest", message, json!({}))
}

fn forced_failure(code: u16, head: &RequestHead) -> Reply {
    let (reason, message) = match code {
        401 => ("Unauthorized", "Unauthorized".to_owned()),
        403 => (
            "Forbidden",
            format!(
                "forbidden: User \"system:serviceaccount:homelab:fake\" cannot get path \"{}\"",
                head.path
            ),
        ),
        404 => (
            "NotFound",
            "the server could not find the requested resource".to_owned(),
        ),
        409 => ("Conflict", "conflict".to_owned()),
        429 => (
            "TooManyRequests",
            "too many requests, please try again later".to_owned(),
        ),
        500 => (
            "InternalError",
            "Internal error occurred: the fake API server was told to fail".to_owned(),
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request".to_owned(),
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted".to_owned(),
        ),
        _ => ("Unknown", format!("the fake API server was told to answer {code}")),
    };
    status_reply(code, reason, &message, json!({}))
}

fn version_info(snapshot: &ClusterSnapshot) -> Value {
    let kubelet = snapshot
        .nodes
        .iter()
        .find(|n| n.control_plane)
        .or_else(|| snapshot.nodes.first())
        .map(|n| n.kubelet_version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "v1.33.0".to_owned());
    let mut parts = kubelet.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1").to_owned();
    let minor = parts.next().unwrap_or("33").to_owned();
    let info = Info {
        major,
        minor,
        git_version: kubelet,
        git_commit: "0000000000000000000000000000000000000000".into(),
        git_tree_state: "clean".into(),
        build_date: "2025-01-01T00:00:00Z".into(),
        go_version: "go1.24.4".into(),
        compiler: "gc".into(),
        platform: "linux/amd64".into(),
        ..Info::default()
    };
    serde_json::to_value(&info).unwrap_or_else(|_| json!({}))
}

fn node_item(state: &ApiState, facts: &NodeFacts) -> String {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), facts.name.clone()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), "amd64".to_owned()),
    ]);
    if facts.control_plane {
        labels.insert(CONTROL_PLANE_LABEL.to_owned(), String::new());
    }
    let node = Node {
        metadata: ObjectMeta {
            name: Some(facts.name.clone()),
            uid: Some(state.uid()),
            resource_version: Some(state.resource_version.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(NodeStatus {
            node_info: Some(NodeSystemInfo {
                kubelet_version: facts.kubelet_version.clone(),
                kube_proxy_version: facts.kubelet_version.clone(),
                container_runtime_version: facts.container_runtime_version.clone(),
                architecture: "amd64".into(),
                operating_system: "linux".into(),
                os_image: "Debian GNU/Linux 13 (trixie)".into(),
                kernel_version: "6.12.0-amd64".into(),
                boot_id: state.uid(),
                machine_id: format!("{:032x}", state.next_uid.load(Ordering::SeqCst)),
                system_uuid: state.uid(),
                ..NodeSystemInfo::default()
            }),
            ..NodeStatus::default()
        }),
    };
    let mut value = serde_json::to_value(&node).unwrap_or_else(|_| json!({}));
    // Items of a typed list carry no apiVersion/kind on the wire.
    if let Some(object) = value.as_object_mut() {
        object.remove("apiVersion");
        object.remove("kind");
    }
    value.to_string()
}

fn workload_object(state: &ApiState, facts: &WorkloadFacts, init_images: &[String]) -> Value {
    let labels = BTreeMap::from([("app.kubernetes.io/name".to_owned(), facts.name.clone())]);
    let container = |prefix: &str, i: usize, image: &String| Container {
        name: format!("{prefix}{i}"),
        image: Some(image.clone()),
        ..Container::default()
    };
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: facts
                .images
                .iter()
                .enumerate()
                .map(|(i, im)| container("main-", i, im))
                .collect(),
            init_containers: (!init_images.is_empty()).then(|| {
                init_images
                    .iter()
                    .enumerate()
                    .map(|(i, im)| container("init-", i, im))
                    .collect()
            }),
            ..PodSpec::default()
        }),
    };
    let metadata = ObjectMeta {
        name: Some(facts.name.clone()),
        namespace: Some(facts.namespace.clone()),
        uid: Some(state.uid()),
        resource_version: Some(state.resource_version.to_string()),
        generation: Some(1),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let selector = LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    };
    let value = match facts.kind {
        WorkloadKind::Deployment => serde_json::to_value(&Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector,
                template,
                ..DeploymentSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::DaemonSet => serde_json::to_value(&DaemonSet {
            metadata,
            spec: Some(DaemonSetSpec {
                selector,
                template,
                ..DaemonSetSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::StatefulSet => serde_json::to_value(&StatefulSet {
            metadata,
            spec: Some(StatefulSetSpec {
                replicas: Some(1),
                selector,
                service_name: Some(facts.name.clone()),
                template,
                ..StatefulSetSpec::default()
            }),
            status: None,
        }),
    };
    value.unwrap_or_else(|_| json!({}))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pod_object(p: &FakePod) -> Value {
    let containers: Vec<Value> = p
        .logs
        .keys()
        .map(|c| json!({"name": c, "image": format!("registry.example/{c}:v1")}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.namespace, "labels": p.labels, "uid": format!("pod-{}", p.name)},
        "spec": {"containers": containers},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": if p.ready { "True" } else { "False" }}],
        },
    })
}
