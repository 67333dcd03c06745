//! `connect()` with kubeconfig files, against the fake API server.

use crate::support::*;
use homelab_k8s::{ApiClient, K8sError, KubeconfigOptions, KubeconfigSource, connect, connect_with_details};
use homelab_testkit::k8s::{FAKE_BAD_TOKEN_CONTEXT, FAKE_CONTEXT, FakeApiServer};

fn opts(path: std::path::PathBuf, context: Option<&str>) -> KubeconfigOptions {
    KubeconfigOptions {
        kubeconfig: Some(path),
        context: context.map(str::to_owned),
    }
}

#[tokio::test]
async fn the_fakes_kubeconfig_works_through_connect() {
    bounded(async {
        let snap = homelab_snapshot();
        let fake = FakeApiServer::start(&snap).await;
        let dir = tempfile::tempdir().unwrap();
        let path = fake.write_kubeconfig(dir.path());

        let client = connect(&opts(path.clone(), None)).await.unwrap();
        let got = ApiClient::new(client).collect(&matrix_of(&snap), None).await.unwrap();
        assert_eq!(got.nodes.len(), 3);
        assert_eq!(got.workloads, snap.workloads);

        let conn = connect_with_details(&opts(path.clone(), Some(FAKE_CONTEXT)))
            .await
            .unwrap();
        assert_eq!(conn.api_url, fake.url());
        assert_eq!(conn.source, KubeconfigSource::Flag(path));
        assert!(!format!("{conn:?}").contains(homelab_testkit::k8s::FAKE_TOKEN));
        let version = conn.client.apiserver_version().await.unwrap();
        assert_eq!(version.git_version, "v1.35.6");
    })
    .await;
}

#[tokio::test]
async fn the_context_option_is_honoured() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        let dir = tempfile::tempdir().unwrap();
        let path = fake.write_kubeconfig(dir.path());
        let conn = connect_with_details(&opts(path, Some(FAKE_BAD_TOKEN_CONTEXT)))
            .await
            .unwrap();
        let err = ApiClient::from_connection(&conn)
            .collect(&matrix_for(&[]), None)
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Api { code: 401, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("401 Unauthorized"), "{text}");
        assert!(!text.contains("not-the-right-token"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_context_is_a_config_error() {
    bounded(async {
        let fake = FakeApiServer::start(&homelab_snapshot()).await;
        let dir = tempfile::tempdir().unwrap();
        let path = fake.write_kubeconfig(dir.path());
        let err = connect_with_details(&opts(path.clone(), Some("prod")))
            .await
            .unwrap_err();
        assert!(matches!(err, K8sError::Config { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("\"prod\"") && text.contains(&path.display().to_string()),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn missing_and_malformed_kubeconfigs_are_config_errors() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let err = connect_with_details(&opts(missing.clone(), None)).await.unwrap_err();
        assert!(matches!(err, K8sError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot read"), "{err}");

        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "clusters: [\n  - {name: x,\n  cluster: : :\n").unwrap();
        let err = connect_with_details(&opts(bad, None)).await.unwrap_err();
        assert!(matches!(err, K8sError::Config { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'), "{err:?}");

        let empty = dir.path().join("empty.yaml");
        std::fs::write(&empty, "").unwrap();
        let err = connect_with_details(&opts(empty, None)).await.unwrap_err();
        assert!(matches!(err, K8sError::Config { .. }), "{err:?}");
    })
    .await;
}
