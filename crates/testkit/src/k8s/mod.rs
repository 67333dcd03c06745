//! In-process fakes that speak the real wire formats: a Kubernetes API server built from
//! a [`ClusterSnapshot`](homelab_core::upgrade::ClusterSnapshot) and a Prometheus query
//! endpoint. Used by the k8s, vault and CLI tests and the benchmarks. Both bind
//! `127.0.0.1:0` on the current tokio runtime and stop when dropped.
//!
//! ```no_run
//! # async fn run(snapshot: &homelab_core::upgrade::ClusterSnapshot, matrix: &homelab_core::upgrade::CompatMatrix) {
//! use homelab_testkit::k8s::{FakeApiServer, FakePrometheus, PromReply};
//!
//! let api = FakeApiServer::start(snapshot).await;
//! let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
//! let prometheus = homelab_k8s::PrometheusClient::new(&prom.url()).unwrap();
//! let collected = api.collector().await.collect(matrix, Some(&prometheus)).await.unwrap();
//! # }
//! ```

mod api;
mod prom;

use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request};

pub use api::exec::{EXEC_PROTOCOL_V4, EXEC_PROTOCOL_V5, ExecReply, ExecRequest};
pub use api::{FAKE_BAD_TOKEN_CONTEXT, FAKE_CONTEXT, FAKE_TOKEN, FakeApiServer, FakePod};
pub use prom::{FakePrometheus, PromReply};

/// What the Kubernetes and Prometheus fakes look at in a request (bodies are ignored:
/// every route they serve is a GET, a DELETE or an upgrading POST).
#[derive(Debug)]
struct RequestHead {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    /// The pending connection upgrade, taken by the one route that upgrades (exec).
    upgrade: std::sync::Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

impl RequestHead {
    fn of(req: &mut Request<Incoming>) -> RequestHead {
        RequestHead {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            query: crate::http::query_pairs(req.uri().query()),
            headers: req.headers().clone(),
            upgrade: std::sync::Mutex::new(req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>()),
        }
    }

    fn query_param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}
