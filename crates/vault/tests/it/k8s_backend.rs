//! `K8sBackend` (`k8s://` references) through the `Resolver`, against the fake API server.

use homelab_core::secret::SecretRef;
use homelab_k8s::SecretReader;
use homelab_testkit::k8s::FakeApiServer;
use homelab_vault::{ErrorKind, K8sBackend, Resolver};

#[tokio::test]
async fn resolves_through_the_resolver() {
    let api = FakeApiServer::start(&homelab_core::upgrade::ClusterSnapshot::default()).await;
    api.insert_secret("apps", "db", &[("password", b"pw")]);
    let mut resolver = Resolver::new();
    resolver.register(Box::new(K8sBackend::new(
        SecretReader::new(api.client().await).with_api_url(api.url()),
    )));
    let r = SecretRef::parse("k8s://apps/db#password").unwrap();
    assert_eq!(resolver.resolve(&r).await.unwrap().expose(), "pw");
    let r = SecretRef::parse("k8s://apps/db#user").unwrap();
    let e = resolver.resolve(&r).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        "k8s://apps/db#user: Secret apps/db has no key \"user\" (keys: password)"
    );
    api.forbid_secrets_in("apps");
    let r = SecretRef::parse("k8s://apps/db#password").unwrap();
    assert_eq!(resolver.resolve(&r).await.unwrap_err().kind(), ErrorKind::Forbidden);
}
