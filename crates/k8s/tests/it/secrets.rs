//! `SecretReader` against the fake API server: a key base64-decoded, a missing Secret,
//! a missing key, RBAC 403 and binary data; no error carries the value.

use crate::support::bounded;
use homelab_core::upgrade::ClusterSnapshot;
use homelab_k8s::{SecretKeyError, SecretReader};
use homelab_testkit::k8s::FakeApiServer;

const CANARY: &str = "k8s-canary-5e1d\nline2";

async fn setup() -> (FakeApiServer, SecretReader) {
    let api = FakeApiServer::start(&ClusterSnapshot::default()).await;
    api.insert_secret("apps", "db-creds", &[("password", CANARY.as_bytes()), ("user", b"app")]);
    api.insert_secret("apps", "binary", &[("blob", &[0xff, 0x00, 0xfe])]);
    let reader = SecretReader::new(api.client().await).with_api_url(api.url());
    (api, reader)
}

#[tokio::test]
async fn reads_one_key_decoded() {
    let (_api, reader) = setup().await;
    let v = bounded(reader.read_key("apps", "db-creds", "password")).await.unwrap();
    assert_eq!(v.expose(), CANARY);
}

#[tokio::test]
async fn failures_are_one_line_and_name_the_secret() {
    let (api, reader) = setup().await;
    let e = bounded(reader.read_key("apps", "nope", "password")).await.unwrap_err();
    assert_eq!(
        e,
        SecretKeyError::NotFound {
            namespace: "apps".into(),
            name: "nope".into()
        }
    );
    assert_eq!(e.to_string(), "Secret apps/nope not found");

    let e = bounded(reader.read_key("apps", "db-creds", "token")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Secret apps/db-creds has no key \"token\" (keys: password, user)"
    );

    let e = bounded(reader.read_key("apps", "binary", "blob")).await.unwrap_err();
    assert_eq!(e.to_string(), "Secret apps/binary key \"blob\" is not UTF-8 text");

    api.forbid_secrets_in("apps");
    let e = bounded(reader.read_key("apps", "db-creds", "password"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SecretKeyError::Api(_)), "{e:?}");
    assert!(
        msg.contains("HTTP 403 Forbidden") && msg.contains("get secret apps/db-creds"),
        "{msg}"
    );
    for m in [msg, format!("{e:?}")] {
        assert!(!m.contains("k8s-canary") && !m.contains('\n'), "{m}");
    }
}
