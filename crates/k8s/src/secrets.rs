//! Reading one key of a Kubernetes Secret (`k8s://namespace/name#key`): the value comes
//! back base64-decoded as a [`SecretString`]. A missing Secret or key is an error (fail
//! closed); errors name the Secret and key, never the value.

use homelab_core::secret::SecretString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::collect::ApiClient;
use crate::error::K8sError;

/// Why a Secret key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The API call failed (unreachable, 401, 403 RBAC, …).
    #[error(transparent)]
    Api(#[from] K8sError),
    /// No such Secret.
    #[error("Secret {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    /// The Secret has no such key.
    #[error("Secret {namespace}/{name} has no key {key:?} (keys: {keys})")]
    NoKey {
        namespace: String,
        name: String,
        key: String,
        keys: String,
    },
    /// The value is binary, not UTF-8 text.
    #[error("Secret {namespace}/{name} key {key:?} is not UTF-8 text")]
    NotUtf8 {
        namespace: String,
        name: String,
        key: String,
    },
}

/// Reads Secret keys with the collector's timeout, retry and error mapping.
#[derive(Debug, Clone)]
pub struct SecretReader {
    collector: ApiClient,
}

impl SecretReader {
    /// A reader on `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            collector: ApiClient::new(client),
        }
    }

    /// Names the API server in error messages.
    pub fn with_api_url(self, url: impl AsRef<str>) -> Self {
        Self {
            collector: self.collector.with_api_url(url),
        }
    }

    /// One key of `namespace/name`, base64-decoded.
    pub async fn read_key(&self, namespace: &str, name: &str, key: &str) -> Result<SecretString, SecretKeyError> {
        let api = Api::<Secret>::namespaced(self.collector.client().clone(), namespace);
        let what = format!("get secret {namespace}/{name}");
        let secret = self.collector.call(&what, || api.get_opt(name)).await?;
        let Some(secret) = secret else {
            return Err(SecretKeyError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        };
        let mut data = secret.data.unwrap_or_default();
        let Some(bytes) = data.remove(key) else {
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            return Err(SecretKeyError::NoKey {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
                keys: keys.join(", "),
            });
        };
        String::from_utf8(bytes.0).map(SecretString::new).map_err(|e| {
            let mut bytes = e.into_bytes();
            bytes.iter_mut().for_each(|b| *b = 0);
            SecretKeyError::NotUtf8 {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
            }
        })
    }
}
