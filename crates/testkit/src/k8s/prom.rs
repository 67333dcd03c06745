//! The fake Prometheus query endpoint.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use homelab_core::upgrade::DeprecatedApiRequest;
use hyper::Method;
use serde_json::{Map, Value, json};

use homelab_k8s::DEPRECATED_APIS_QUERY;

use super::RequestHead;
use crate::http::{self, Reply, Server};

/// What [`FakePrometheus`] answers to `GET /api/v1/query`.
#[derive(Debug, Clone, PartialEq)]
pub enum PromReply {
    /// A success vector: one series per request, value `1`.
    Vector(Vec<DeprecatedApiRequest>),
    /// A success vector with explicit sample values (e.g. `"0"` for an API no longer used).
    Samples(Vec<(DeprecatedApiRequest, String)>),
    /// This HTTP status with a plain-text body (what a proxy in front would send).
    HttpStatus(u16),
    /// `{"status":"error","errorType":…,"error":…}` with the status Prometheus uses for
    /// the error type (400 `bad_data`, 503 `timeout`/`unavailable`, else 422).
    QueryError { error_type: String, error: String },
    /// Any body with any status.
    Raw { status: u16, body: String },
}

/// A Prometheus HTTP API serving one configurable answer for
/// `apiserver_requested_deprecated_apis`.
pub struct FakePrometheus {
    state: Arc<PromState>,
    server: Server,
}

impl fmt::Debug for FakePrometheus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakePrometheus")
            .field("url", &self.url())
            .field("request_count", &self.request_count())
            .finish_non_exhaustive()
    }
}

struct PromState {
    reply: Mutex<PromReply>,
    requests: AtomicUsize,
}

impl FakePrometheus {
    /// Serves `reply` on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(reply: PromReply) -> FakePrometheus {
        let state = Arc::new(PromState {
            reply: Mutex::new(reply),
            requests: AtomicUsize::new(0),
        });
        let handler_state = state.clone();
        let server = Server::spawn("fake Prometheus", move |mut req| {
            let head = RequestHead::of(&mut req);
            let reply = handler_state.handle(&head);
            async move { reply }
        })
        .await;
        FakePrometheus { state, server }
    }

    /// `http://127.0.0.1:PORT` (the base URL to give [`PrometheusClient`](homelab_k8s::PrometheusClient)).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Changes the answer.
    pub fn set_reply(&self, reply: PromReply) {
        *self.state.reply.lock().unwrap_or_else(|p| p.into_inner()) = reply;
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl PromState {
    fn handle(&self, head: &RequestHead) -> Reply {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if head.path != "/api/v1/query" || head.method != Method::GET {
            return http::reply(404, "text/plain; charset=utf-8", "404 page not found\n");
        }
        if head.query_param("query") != Some(DEPRECATED_APIS_QUERY) {
            return error_reply(
                "bad_data",
                "the fake Prometheus only answers apiserver_requested_deprecated_apis",
            );
        }
        let reply = self.reply.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match reply {
            PromReply::Vector(requests) => vector_reply(requests.into_iter().map(|r| (r, "1".to_owned())).collect()),
            PromReply::Samples(samples) => vector_reply(samples),
            PromReply::HttpStatus(code) => {
                let reason = hyper::StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                http::reply(code, "text/plain; charset=utf-8", format!("{code} {reason}\n"))
            }
            PromReply::QueryError { error_type, error } => error_reply(&error_type, &error),
            PromReply::Raw { status, body } => http::reply(status, "application/json", body),
        }
    }
}

fn error_reply(error_type: &str, error: &str) -> Reply {
    let status = match error_type {
        "bad_data" => 400,
        "timeout" | "unavailable" => 503,
        _ => 422,
    };
    http::json_reply(
        status,
        &json!({ "status": "error", "errorType": error_type, "error": error }),
    )
}

fn vector_reply(samples: Vec<(DeprecatedApiRequest, String)>) -> Reply {
    let result: Vec<Value> = samples
        .into_iter()
        .map(|(r, value)| {
            let mut metric = Map::new();
            metric.insert("__name__".into(), json!(DEPRECATED_APIS_QUERY));
            metric.insert("component".into(), json!("apiserver"));
            metric.insert("instance".into(), json!("10.0.0.10:6443"));
            metric.insert("job".into(), json!("apiserver"));
            // Prometheus drops empty labels: the core group has no `group` label at all.
            for (k, v) in [
                ("group", r.group),
                ("version", r.version),
                ("resource", r.resource),
                ("removed_release", r.removed_release),
            ] {
                if !v.is_empty() {
                    metric.insert(k.into(), json!(v));
                }
            }
            json!({ "metric": metric, "value": [1_767_225_600.123, value] })
        })
        .collect();
    http::json_reply(
        200,
        &json!({ "status": "success", "data": { "resultType": "vector", "result": result } }),
    )
}
