//! In-process fakes that speak the real wire formats (feature `fake`): a Kubernetes API
//! server built from a [`ClusterSnapshot`](homelab_core::upgrade::ClusterSnapshot) and a
//! Prometheus query endpoint. Used by this crate's tests, the CLI's end-to-end tests and
//! the benchmarks. Both bind `127.0.0.1:0` on the current tokio runtime and stop when
//! dropped.
//!
//! ```no_run
//! # async fn run(snapshot: &homelab_core::upgrade::ClusterSnapshot, matrix: &homelab_core::upgrade::CompatMatrix) {
//! use homelab_k8s::fake::{FakeApiServer, FakePrometheus, PromReply};
//!
//! let api = FakeApiServer::start(snapshot).await;
//! let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
//! let prometheus = homelab_k8s::PrometheusClient::new(&prom.url()).unwrap();
//! let collected = api.collector().collect(matrix, Some(&prometheus)).await.unwrap();
//! # }
//! ```

mod api;
mod http;
mod prom;

pub use api::exec::{EXEC_PROTOCOL_V4, EXEC_PROTOCOL_V5, ExecReply, ExecRequest};
pub use api::{FAKE_BAD_TOKEN_CONTEXT, FAKE_CONTEXT, FAKE_TOKEN, FakeApiServer, FakePod};
pub use prom::{FakePrometheus, PromReply};
