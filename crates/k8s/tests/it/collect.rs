//! The collector against the fake API server.

use std::time::Duration;

use crate::support::*;
use homelab_core::upgrade::{ClusterSnapshot, WorkloadKind};
use homelab_k8s::{ApiClient, K8sError, PrometheusClient};
use homelab_testkit::k8s::{FakeApiServer, FakePrometheus, PromReply};
use serde_json::json;

#[tokio::test]
async fn node_facts_and_control_plane_sorted_by_name() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let got = fake.collector().await.collect(&matrix_for(&[]), None).await.unwrap();
        let names: Vec<&str> = got.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["k8s-master", "worker-a", "worker-b"]);
        assert!(got.nodes[0].control_plane);
        assert!(!got.nodes[1].control_plane && !got.nodes[2].control_plane);
        assert_eq!(got.nodes[1].kubelet_version, "v1.34.3");
        assert_eq!(got.nodes[1].container_runtime_version, "containerd://1.7.27");
        assert!(got.workloads.is_empty());
    })
    .await;
}

#[tokio::test]
async fn images_come_from_containers_and_init_containers() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let w = workload("velero", WorkloadKind::Deployment, "velero", &["velero/velero:v1.16.1"]);
        fake.insert_workload(&w, &["velero/velero-plugin-for-aws:v1.12.1".to_owned()]);
        let m = matrix_for(&[("velero", WorkloadKind::Deployment, "velero")]);
        let got = fake.collector().await.collect(&m, None).await.unwrap();
        assert_eq!(got.workloads.len(), 1);
        assert_eq!(
            got.workloads[0].images,
            ["velero/velero:v1.16.1", "velero/velero-plugin-for-aws:v1.12.1"]
        );
        assert_eq!(got.workloads[0].kind, WorkloadKind::Deployment);
    })
    .await;
}

#[tokio::test]
async fn a_missing_workload_is_absent_not_an_error() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let m = matrix_for(&[
            ("calico-system", WorkloadKind::DaemonSet, "calico-node"),
            ("ghost", WorkloadKind::Deployment, "nobody"),
            // Right name, wrong kind: also a 404.
            ("cert-manager", WorkloadKind::StatefulSet, "cert-manager"),
        ]);
        let got = fake.collector().await.collect(&m, None).await.unwrap();
        let names: Vec<&str> = got.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["calico-node"]);
        assert_eq!(fake.request_count(), 4, "one node list + one GET per workload");
    })
    .await;
}

#[tokio::test]
async fn workloads_follow_matrix_order_and_are_fetched_once() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let m = matrix_for(&[
            ("databases", WorkloadKind::StatefulSet, "postgres"),
            ("calico-system", WorkloadKind::DaemonSet, "calico-node"),
            ("databases", WorkloadKind::StatefulSet, "postgres"),
        ]);
        let got = fake.collector().await.collect(&m, None).await.unwrap();
        let names: Vec<&str> = got.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["postgres", "calico-node"]);
        assert_eq!(fake.request_count(), 3);
    })
    .await;
}

#[tokio::test]
async fn collection_is_concurrent_and_the_baseline_is_not() {
    bounded(async {
        let snap = homelab_snapshot();
        let m = matrix_of(&snap);

        let fake = FakeApiServer::start(&snap).await;
        fake.set_latency(Duration::from_millis(100));
        fake.collector().await.collect(&m, None).await.unwrap();
        assert!(
            fake.max_in_flight() > 1,
            "collect() served {} request(s) at a time",
            fake.max_in_flight()
        );

        let fake = FakeApiServer::start(&snap).await;
        fake.set_latency(Duration::from_millis(5));
        fake.collector().await.collect_sequential(&m, None).await.unwrap();
        assert_eq!(fake.max_in_flight(), 1);
    })
    .await;
}

#[tokio::test]
async fn forbidden_is_an_error_naming_403() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        fake.fail_all(403);
        let err = fake
            .collector()
            .await
            .collect(&matrix_of(&homelab_snapshot()), None)
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Api { code: 403, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("403") && text.contains("Forbidden"), "{text}");
        assert!(text.contains(&fake.url()), "{text}");
        assert!(!text.contains('\n'));
        assert!(!text.contains(homelab_testkit::k8s::FAKE_TOKEN));
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_errors_and_recovery_works() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let collector = fake.collector().await;
        fake.fail_all(500);
        let err = collector.collect(&matrix_of(&snap), None).await.unwrap_err();
        assert!(matches!(err, K8sError::Api { code: 500, .. }), "{err:?}");
        assert!(err.to_string().contains("500"), "{err}");
        fake.clear_failure();
        assert_eq!(collector.collect(&matrix_of(&snap), None).await.unwrap().nodes.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn unavailable_is_retried_briefly_then_an_error() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        fake.fail_all(503);
        let started = std::time::Instant::now();
        let err = fake
            .collector()
            .await
            .collect(&matrix_for(&[]), None)
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Api { code: 503, .. }), "{err:?}");
        assert_eq!(fake.request_count(), 3, "one try and two retries");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    })
    .await;
}

#[tokio::test]
async fn unreachable_api_is_an_error_in_bounded_time() {
    bounded(async {
        let url = dead_address().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n\
                 contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n\
                 users:\n- name: u\n  user:\n    token: dummy\n"
            ),
        )
        .unwrap();
        let conn = homelab_k8s::connect_with_details(&homelab_k8s::KubeconfigOptions {
            kubeconfig: Some(path),
            context: None,
        })
        .await
        .unwrap();
        let err = ApiClient::from_connection(&conn)
            .collect(&matrix_for(&[]), None)
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Unreachable { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("cannot reach the Kubernetes API at {url}: connection refused")
        );
    })
    .await;
}

#[tokio::test]
async fn a_slow_api_times_out() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        fake.set_latency(Duration::from_secs(5));
        let err = fake
            .collector()
            .await
            .with_request_timeout(Duration::from_millis(200))
            .collect(&matrix_for(&[]), None)
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Timeout { .. }), "{err:?}");
        assert!(err.to_string().contains("list nodes"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn malformed_objects_are_decode_errors_not_panics() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        let m = matrix_for(&[("bad", WorkloadKind::Deployment, "bad")]);
        for object in [
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad"},"spec":{"template":"oops"}}),
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"}}),
            json!([1, 2, 3]),
            json!("just a string"),
        ] {
            fake.insert_raw_workload(WorkloadKind::Deployment, "bad", "bad", object.clone());
            let err = fake.collector().await.collect(&m, None).await.unwrap_err();
            assert!(matches!(err, K8sError::Decode { .. }), "{object}: {err:?}");
            assert!(err.to_string().contains("get deployment bad/bad"), "{err}");
        }
        // An object without a spec has no images (the gate reports it unreadable).
        fake.insert_raw_workload(
            WorkloadKind::Deployment,
            "bad",
            "bad",
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad","namespace":"bad"}}),
        );
        let got = fake.collector().await.collect(&m, None).await.unwrap();
        assert_eq!(got.workloads.len(), 1);
        assert!(got.workloads[0].images.is_empty());
    })
    .await;
}

#[tokio::test]
async fn node_lists_are_paginated() {
    bounded(async {
        let mut snap = ClusterSnapshot::default();
        for i in 0..1203 {
            snap.nodes
                .push(node(&format!("node-{i:05}"), "v1.35.6", "containerd://2.0.4", i == 0));
        }
        let fake = FakeApiServer::start(&snap).await;
        let got = fake.collector().await.collect(&matrix_for(&[]), None).await.unwrap();
        assert_eq!(got.nodes, snap.nodes);
        assert_eq!(fake.request_count(), 3, "pages of 500");
    })
    .await;
}

#[tokio::test]
async fn round_trip_snapshot_through_the_fakes() {
    bounded(async {
        let mut original = homelab_snapshot();
        let requests = vec![
            deprecated("", "v1beta1", "cronjobs", "1.25"),
            deprecated("flowcontrol.apiserver.k8s.io", "v1beta3", "flowschemas", "1.32"),
        ];
        let api = FakeApiServer::start(&original).await;
        let prom = FakePrometheus::start(PromReply::Vector(requests.clone())).await;
        let prometheus = PrometheusClient::new(&prom.url()).unwrap();
        let m = matrix_of(&original);

        original.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut sorted = requests;
        sorted.sort();
        original.deprecated_api_requests = Some(sorted);

        let concurrent = api.collector().await.collect(&m, Some(&prometheus)).await.unwrap();
        assert_eq!(concurrent, original);
        let sequential = api
            .collector()
            .await
            .collect_sequential(&m, Some(&prometheus))
            .await
            .unwrap();
        assert_eq!(sequential, original);
        // And the JSON file format survives it too.
        assert_eq!(
            ClusterSnapshot::from_json(&concurrent.to_json_pretty()).unwrap(),
            original
        );
    })
    .await;
}

#[tokio::test]
async fn collect_snapshot_connects_and_collects_within_the_deadline() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        let dir = tempfile::tempdir().unwrap();
        let opts = homelab_k8s::KubeconfigOptions {
            kubeconfig: Some(fake.write_kubeconfig(dir.path())),
            context: None,
        };
        let got = homelab_k8s::collect_snapshot(&opts, &matrix_for(&[]), None, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(got.nodes.len(), 3);
        fake.set_latency(Duration::from_secs(5));
        let err = homelab_k8s::collect_snapshot(&opts, &matrix_for(&[]), None, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            K8sError::Deadline {
                limit: Duration::from_millis(300)
            }
        );
        assert_eq!(err.to_string(), "the Kubernetes API did not answer within 0 s");
    })
    .await;
}
