//! The Prometheus client against the fake Prometheus, and how collect() maps its failures.

use crate::support::*;
use homelab_k8s::{NO_PROMETHEUS_CONFIGURED, PromError, PrometheusClient};
use homelab_testkit::k8s::{FakeApiServer, FakePrometheus, PromReply};

#[tokio::test]
async fn success_filters_dedupes_and_sorts() {
    bounded(async {
        let prom = FakePrometheus::start(PromReply::Samples(vec![
            (
                deprecated("policy", "v1beta1", "podsecuritypolicies", "1.25"),
                "2".into(),
            ),
            (deprecated("", "v1beta1", "cronjobs", "1.25"), "1".into()),
            (
                deprecated("policy", "v1beta1", "podsecuritypolicies", "1.25"),
                "5".into(),
            ),
            (
                deprecated("storage.k8s.io", "v1beta1", "csistoragecapacities", "1.27"),
                "0".into(),
            ),
            (deprecated("extensions", "v1beta1", "ingresses", ""), "+Inf".into()),
        ]))
        .await;
        let client = PrometheusClient::new(&prom.url()).unwrap();
        let got = client.deprecated_api_requests().await.unwrap();
        assert_eq!(
            got,
            [
                deprecated("", "v1beta1", "cronjobs", "1.25"),
                deprecated("extensions", "v1beta1", "ingresses", ""),
                deprecated("policy", "v1beta1", "podsecuritypolicies", "1.25"),
            ]
        );
        assert_eq!(prom.request_count(), 1);

        prom.set_reply(PromReply::Vector(vec![]));
        assert_eq!(client.deprecated_api_requests().await.unwrap(), []);
    })
    .await;
}

#[tokio::test]
async fn a_path_prefix_is_kept() {
    bounded(async {
        let prom = FakePrometheus::start(PromReply::Vector(vec![])).await;
        // The fake serves at the root, so a prefix must lead to its 404.
        let client = PrometheusClient::new(&format!("{}/prometheus/", prom.url())).unwrap();
        let err = client.deprecated_api_requests().await.unwrap_err();
        assert!(matches!(err, PromError::Status { status: 404, .. }), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn http_500_is_an_error_with_url_and_status() {
    bounded(async {
        let prom = FakePrometheus::start(PromReply::HttpStatus(500)).await;
        let err = PrometheusClient::new(&prom.url())
            .unwrap()
            .deprecated_api_requests()
            .await
            .unwrap_err();
        assert!(matches!(err, PromError::Status { status: 500, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&prom.url()) && text.contains("500"), "{text}");
        assert!(!text.contains('\n'), "{text:?}");
    })
    .await;
}

#[tokio::test]
async fn status_error_body_is_an_error_with_the_message() {
    bounded(async {
        let prom = FakePrometheus::start(PromReply::QueryError {
            error_type: "execution".into(),
            error: "query processing would load too many samples into memory".into(),
        })
        .await;
        let err = PrometheusClient::new(&prom.url())
            .unwrap()
            .deprecated_api_requests()
            .await
            .unwrap_err();
        assert!(matches!(err, PromError::Query { .. }), "{err:?}");
        assert!(
            err.to_string().contains("execution: query processing would load"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn garbage_bodies_are_decode_errors() {
    bounded(async {
        let prom = FakePrometheus::start(PromReply::Raw {
            status: 200,
            body: "<html>not prometheus</html>".into(),
        })
        .await;
        let client = PrometheusClient::new(&prom.url()).unwrap();
        for body in [
            "<html>not prometheus</html>",
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":"x"}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":{}}}"#,
        ] {
            prom.set_reply(PromReply::Raw {
                status: 200,
                body: body.into(),
            });
            let err = client.deprecated_api_requests().await.unwrap_err();
            assert!(matches!(err, PromError::Decode { .. }), "{body}: {err:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn unreachable_prometheus_is_an_error() {
    bounded(async {
        let url = dead_address().await;
        let err = PrometheusClient::new(&url)
            .unwrap()
            .deprecated_api_requests()
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot reach Prometheus at {url}: connection refused")
        );

        // Credentials in the URL never reach a message.
        let with_creds = url.replace("http://", "http://admin:hunter2@");
        let client = PrometheusClient::new(&with_creds).unwrap();
        let err = client.deprecated_api_requests().await.unwrap_err();
        assert!(
            !err.to_string().contains("hunter2") && !format!("{err:?}").contains("hunter2"),
            "{err:?}"
        );
        assert!(!format!("{client:?}").contains("hunter2"));
    })
    .await;
}

#[tokio::test]
async fn collect_maps_prometheus_failures_to_unknown() {
    bounded(async {
        let snap = homelab_snapshot();
        let api = FakeApiServer::start(&snap).await;
        let m = matrix_of(&snap);
        let collector = api.collector().await;

        let got = collector.collect(&m, None).await.unwrap();
        assert_eq!(got.deprecated_api_requests, None);
        assert_eq!(got.deprecated_api_error.as_deref(), Some(NO_PROMETHEUS_CONFIGURED));
        assert_eq!(
            NO_PROMETHEUS_CONFIGURED,
            "no Prometheus URL configured (--prometheus or PROM)"
        );

        let prom = FakePrometheus::start(PromReply::HttpStatus(503)).await;
        let client = PrometheusClient::new(&prom.url()).unwrap();
        let expected = client.deprecated_api_requests().await.unwrap_err().to_string();
        for got in [
            collector.collect(&m, Some(&client)).await.unwrap(),
            collector.collect_sequential(&m, Some(&client)).await.unwrap(),
        ] {
            assert_eq!(got.deprecated_api_requests, None);
            assert_eq!(got.deprecated_api_error.as_deref(), Some(expected.as_str()));
            assert_eq!(got.nodes.len(), 3, "the cluster facts are still collected");
            assert_eq!(got.workloads.len(), 3);
        }

        let dead = PrometheusClient::new(&dead_address().await).unwrap();
        let got = collector.collect(&m, Some(&dead)).await.unwrap();
        assert_eq!(got.deprecated_api_requests, None);
        assert!(got.deprecated_api_error.unwrap().contains("connection refused"));

        prom.set_reply(PromReply::Vector(vec![]));
        let got = collector.collect(&m, Some(&client)).await.unwrap();
        assert_eq!(
            got.deprecated_api_requests,
            Some(vec![]),
            "reachable and empty is not unknown"
        );
        assert_eq!(got.deprecated_api_error, None);
    })
    .await;
}
