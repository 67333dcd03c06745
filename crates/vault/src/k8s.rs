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
