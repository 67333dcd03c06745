//! `k8s://namespace/name#key` through [`homelab_k8s::SecretReader`].

use homelab_core::secret::{Scheme, SecretRef, SecretString};
use homelab_k8s::{SecretKeyError, SecretReader};

use crate::resolve::{Backend, BoxFuture, ErrorKind, SecretError, wrong_scheme};

/// Reads Kubernetes Secret keys with the caller's kubeconfig identity.
#[derive(Debug, Clone)]
pub struct K8sBackend {
    reader: SecretReader,
}

impl K8sBackend {
    pub fn new(reader: SecretReader) -> Self {
        Self { reader }
    }
}

fn kind_of(e: &SecretKeyError) -> ErrorKind {
    match e {
        SecretKeyError::NotFound { .. } | SecretKeyError::NoKey { .. } => ErrorKind::NotFound,
        SecretKeyError::NotUtf8 { .. } => ErrorKind::Invalid,
        SecretKeyError::Api(homelab_k8s::K8sError::Api { code: 403, .. }) => ErrorKind::Forbidden,
        SecretKeyError::Api(homelab_k8s::K8sError::Api { code: 401, .. }) => ErrorKind::Unauthenticated,
        _ => ErrorKind::Unavailable,
    }
}

impl Backend for K8sBackend {
    fn scheme(&self) -> Scheme {
        Scheme::K8s
    }

    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
        Box::pin(async move {
            let SecretRef::K8s { namespace, name, key } = reference else {
                return Err(wrong_scheme(Scheme::K8s, reference));
            };
            self.reader
                .read_key(namespace, name, key)
                .await
                .map_err(|e| SecretError::new(kind_of(&e), e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resolver;
    use homelab_k8s::fake::FakeApiServer;

    #[tokio::test]
    async fn resolves_through_the_resolver() {
        let api = FakeApiServer::start(&homelab_core::upgrade::ClusterSnapshot::default()).await;
        api.insert_secret("apps", "db", &[("password", b"pw")]);
        let mut resolver = Resolver::new();
        resolver.register(Box::new(K8sBackend::new(
            SecretReader::new(api.client()).with_api_url(api.url()),
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
}
