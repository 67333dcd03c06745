//! The aggregator against an independent `Flows` server: written here straight from the
//! vendored proto (not the simulator), serving hand-made flows over mTLS, honouring
//! `start_time_gte` like Goldmane and closing the stream after each burst (so the client
//! reconnects and resumes). The expected edges are worked out by hand from the spec.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use homelab_core::flows::Action;
use homelab_flows::aggregator::{self, AggregatorConfig, Metrics};
use homelab_flows::goldmane::GoldmaneClient;
use homelab_flows::goldmane::proto::flows_server::{Flows, FlowsServer};
use homelab_flows::goldmane::proto::{self, EndpointType, Flow, FlowKey, FlowResult, Reporter};
use homelab_flows::store::{self, EdgeStore};
use homelab_testkit::pki::TestPki;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::support::now;

#[allow(clippy::too_many_arguments)]
fn flow(
    src: (&str, &str, EndpointType),
    dst: (&str, &str, EndpointType),
    port: i64,
    reporter: Reporter,
    action: proto::Action,
    start: i64,
) -> FlowResult {
    FlowResult {
        id: 0,
        flow: Some(Flow {
            key: Some(FlowKey {
                source_name: src.1.into(),
                source_namespace: src.0.into(),
                source_type: src.2 as i32,
                dest_name: dst.1.into(),
                dest_namespace: dst.0.into(),
                dest_type: dst.2 as i32,
                dest_port: port,
                proto: "tcp".into(),
                reporter: reporter as i32,
                action: action as i32,
                ..FlowKey::default()
            }),
            start_time: start,
            end_time: start + 15,
            num_connections_started: 1,
            ..Flow::default()
        }),
    }
}

const W: EndpointType = EndpointType::WorkloadEndpoint;

/// Three buckets of hand-made flows.
fn buckets(t: i64) -> Vec<(i64, Vec<FlowResult>)> {
    use Reporter::{Dst, Src};
    use proto::Action::{Allow, Deny};
    let b0 = vec![
        // One connection, both reporters allow: one allow.
        flow(("web", "web-1-*", W), ("api", "api-*", W), 8080, Src, Allow, t),
        flow(("web", "web-1-*", W), ("api", "api-*", W), 8080, Dst, Allow, t),
        // Allowed at the source, denied at the destination: one deny (and no allow).
        flow(("web", "web-1-*", W), ("db", "pg-*", W), 5432, Src, Allow, t),
        flow(("web", "web-1-*", W), ("db", "pg-*", W), 5432, Dst, Deny, t),
        // External ("-"), a namespaced NetworkSet, a self-edge, a host endpoint: no edge.
        flow(
            ("-", "pub", EndpointType::Network),
            ("web", "web-1-*", W),
            443,
            Dst,
            Allow,
            t,
        ),
        flow(
            ("web", "web-1-*", W),
            ("saas", "saas-ips", EndpointType::NetworkSet),
            443,
            Src,
            Allow,
            t,
        ),
        flow(("web", "web-1-*", W), ("web", "web-2-*", W), 80, Src, Allow, t),
        flow(
            ("monitoring", "prom-*", W),
            ("", "node1", EndpointType::HostEndpoint),
            9100,
            Src,
            Allow,
            t,
        ),
        // A result with no flow at all must not break anything.
        FlowResult { id: 7, flow: None },
    ];
    let b1 = vec![
        // Two different connections web→api (different pods): two flows.
        flow(("web", "web-1-*", W), ("api", "api-*", W), 8080, Dst, Allow, t + 15),
        flow(("web", "web-2-*", W), ("api", "api-*", W), 8080, Src, Allow, t + 15),
        // Denied at the source only: one deny.
        flow(("api", "api-*", W), ("vault", "vault-*", W), 8200, Src, Deny, t + 15),
    ];
    let b2 = vec![flow(("api", "api-*", W), ("db", "pg-*", W), 5432, Dst, Allow, t + 30)];
    vec![(t, b0), (t + 15, b1), (t + 30, b2)]
}

struct Independent {
    buckets: Vec<(i64, Vec<FlowResult>)>,
    streams: Arc<AtomicUsize>,
}

type ResultStream = Pin<Box<dyn futures::Stream<Item = Result<FlowResult, Status>> + Send>>;

#[tonic::async_trait]
impl Flows for Independent {
    async fn list(&self, _: Request<proto::FlowListRequest>) -> Result<Response<proto::FlowListResult>, Status> {
        Err(Status::unimplemented("list"))
    }

    type StreamStream = ResultStream;

    async fn stream(&self, req: Request<proto::FlowStreamRequest>) -> Result<Response<ResultStream>, Status> {
        let n = self.streams.fetch_add(1, Ordering::SeqCst);
        let gte = req.into_inner().start_time_gte;
        let from = if gte < 0 { now() + gte } else { gte };
        let items: Vec<Result<FlowResult, Status>> = self
            .buckets
            .iter()
            .filter(|(start, _)| gte == 0 || *start >= from)
            .flat_map(|(_, fs)| fs.clone())
            .map(Ok)
            .collect();
        // The first streams end right after the burst (the client reconnects from its
        // cursor and gets the open buckets again); later ones stay open like Goldmane's.
        let burst = futures::stream::iter(items);
        if n < 3 {
            Ok(Response::new(Box::pin(burst)))
        } else {
            Ok(Response::new(Box::pin(burst.chain(futures::stream::pending()))))
        }
    }

    async fn filter_hints(
        &self,
        _: Request<proto::FilterHintsRequest>,
    ) -> Result<Response<proto::FilterHintsResult>, Status> {
        Err(Status::unimplemented("filter_hints"))
    }
}

/// The table as `(src, dst, action) → (flow_count, first_seen, last_seen)`.
async fn table<S: EdgeStore>(s: &S) -> BTreeMap<(String, String, Action), (i64, i64, i64)> {
    homelab_testkit::flows::edge_table(s)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, e)| (k, (e.flow_count, e.first_seen, e.last_seen)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_right_edges_from_an_independent_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let tls = pki.sim_tls();
    let t = (now() - 600) / 15 * 15;
    let streams = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .tls_config(
            ServerTlsConfig::new()
                .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
                .client_ca_root(Certificate::from_pem(tls.client_ca_pem.clone().unwrap())),
        )
        .unwrap()
        .add_service(FlowsServer::new(Independent {
            buckets: buckets(t),
            streams: Arc::clone(&streams),
        }))
        .serve_with_incoming(TcpIncoming::from(listener));
    let server = tokio::spawn(server);

    let store = Arc::new(store::connect("sqlite::memory:").await.unwrap());
    store.migrate().await.unwrap();
    let client = GoldmaneClient::new(pki.goldmane_config_for(addr)).unwrap();
    let metrics = Arc::new(Metrics::new(now()));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let config = AggregatorConfig {
        flush_interval: Duration::from_millis(100),
        quiet_close: Duration::from_secs(1),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(100),
        ..AggregatorConfig::default()
    };
    let task = tokio::spawn(aggregator::run(
        client,
        Arc::clone(&store),
        config,
        Arc::clone(&metrics),
        rx,
    ));

    let want: BTreeMap<(String, String, Action), (i64, i64, i64)> = [
        (("web", "api", Action::Allow), (3, t, t + 30)),
        (("web", "db", Action::Deny), (1, t, t + 15)),
        (("api", "vault", Action::Deny), (1, t + 15, t + 30)),
        (("api", "db", Action::Allow), (1, t + 30, t + 45)),
    ]
    .into_iter()
    .map(|((s, d, a), v)| ((s.to_owned(), d.to_owned(), a), v))
    .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got: BTreeMap<_, _> = table(store.as_ref()).await;
        if got == want || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Let a few more reconnect rounds happen: nothing may be counted twice.
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let again: BTreeMap<_, _> = table(store.as_ref()).await;
    server.abort();
    assert_eq!(got, want);
    assert_eq!(again, want, "repeated reconnects and backfills counted nothing twice");
    assert!(
        streams.load(Ordering::SeqCst) >= 4,
        "the server closed the stream and the client resumed"
    );
}
