//! Vault / OpenBao KV v2 through `vaultrs`: read (whole data or one key), list, and a
//! write that **merges**: read the current data and version, set the key, write with
//! check-and-set = that version (`cas=0` creates an absent path), and retry a bounded
//! number of times when a concurrent writer wins. Sibling keys are never clobbered and a
//! policy without the `patch` capability (read + create/update only) works; vaultrs has
//! no KV2 patch anyway.
//!
//! Errors are one line: the operation, the path, the Vault address and the cause
//! (`403 permission denied`, `connection refused`, …). Never a value, never the token.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use homelab_core::secret::{KvPath, Scheme, SecretRef, SecretString};
use serde_json::{Map, Value};
use vaultrs::api::kv2::requests::{ReadSecretRequest, SetSecretRequestOptions};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use crate::resolve::{Backend, BoxFuture, ErrorKind, SecretError, wrong_scheme};

/// How many times a merge-write retries after losing a check-and-set race.
pub const MAX_CAS_ATTEMPTS: usize = 5;

/// The request timeout for Vault calls.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The data of one KV v2 secret. `Debug` shows only the key names.
#[derive(Clone, Default, PartialEq)]
pub struct SecretData {
    data: Map<String, Value>,
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl SecretData {
    /// Wraps decoded data.
    pub fn new(data: Map<String, Value>) -> Self {
        Self { data }
    }

    /// The key names, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.data.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// One key's value: a string as is, anything else as compact JSON. `None` if absent.
    pub fn get(&self, key: &str) -> Option<SecretString> {
        self.data.get(key).map(|v| match v {
            Value::String(s) => SecretString::new(s.clone()),
            other => SecretString::new(other.to_string()),
        })
    }

    /// The whole data as JSON (`{"a":"1"}`), which holds secrets.
    pub fn to_json(&self) -> SecretString {
        SecretString::new(Value::Object(self.data.clone()).to_string())
    }

    /// The raw map (for the merge).
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.data
    }
}

/// The pure merge of a KV write: the current data (if any) with `key` set to `value`.
/// Every other key is kept as it was.
pub fn merge_key(current: Option<&Map<String, Value>>, key: &str, value: &SecretString) -> Map<String, Value> {
    let mut merged = current.cloned().unwrap_or_default();
    merged.insert(key.to_owned(), Value::String(value.expose().to_owned()));
    merged
}

/// What a merge-write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The path did not exist and was created.
    pub created: bool,
    /// The new version.
    pub version: u64,
    /// Check-and-set conflicts survived before the write went through.
    pub retries: usize,
}

/// What is at a path now.
struct Current {
    data: Option<SecretData>,
    /// The current version (0 when the path never existed; the deleted version's number
    /// when its latest version is soft-deleted).
    version: u64,
}

/// A KV v2 client for one address and token. `Debug` shows only the address.
pub struct KvClient {
    client: VaultClient,
    addr: String,
}

impl fmt::Debug for KvClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl KvClient {
    /// A client for `addr` (http(s) URL) authenticating with `token`.
    pub fn new(addr: &str, token: &SecretString, timeout: Duration) -> Result<KvClient, SecretError> {
        homelab_k8s::ensure_crypto_provider();
        let settings = VaultClientSettingsBuilder::default()
            .address(addr)
            .token(token.expose())
            .timeout(Some(timeout))
            .build()
            .map_err(|e| SecretError::new(ErrorKind::NotConfigured, format!("invalid Vault address {addr}: {e}")))?;
        let client = VaultClient::new(settings).map_err(|e| {
            SecretError::new(
                ErrorKind::Other,
                format!("cannot create a Vault client for {addr}: {}", chain(&e)),
            )
        })?;
        Ok(KvClient {
            client,
            addr: addr.to_owned(),
        })
    }

    /// The Vault address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn current(&self, path: &KvPath) -> Result<Current, SecretError> {
        let endpoint = ReadSecretRequest::builder()
            .mount(path.mount())
            .path(path.path())
            .build()
            .map_err(|e| SecretError::new(ErrorKind::Invalid, format!("bad Vault path {path}: {e}")))?;
        match vaultrs::api::exec_with_result(&self.client, endpoint).await {
            Ok(r) => match r.data {
                Value::Object(data) => Ok(Current {
                    data: Some(SecretData::new(data)),
                    version: r.metadata.version,
                }),
                Value::Null => Ok(Current {
                    data: None,
                    version: r.metadata.version,
                }),
                _ => Err(SecretError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "read {path} at {}: the answer is not KV v2 data (is {} a KV v2 mount?)",
                        self.addr,
                        path.mount()
                    ),
                )),
            },
            // An absent path is 404 with an empty error list (an unknown mount has a message).
            Err(ClientError::APIError { code: 404, errors }) if errors.is_empty() => {
                Ok(Current { data: None, version: 0 })
            }
            Err(e) => match deleted_version(&e) {
                Some(version) => Ok(Current { data: None, version }),
                None => Err(self.error("read", path, &e)),
            },
        }
    }

    /// Reads the data at `path`; an absent path is [`ErrorKind::NotFound`].
    pub async fn read(&self, path: &KvPath) -> Result<SecretData, SecretError> {
        let current = self.current(path).await?;
        current.data.ok_or_else(|| {
            SecretError::new(
                ErrorKind::NotFound,
                format!("no secret at {path} (Vault at {}: 404 not found)", self.addr),
            )
        })
    }

    /// Reads one key; an absent path or key is [`ErrorKind::NotFound`].
    pub async fn read_key(&self, path: &KvPath, key: &str) -> Result<SecretString, SecretError> {
        let data = self.read(path).await?;
        data.get(key).ok_or_else(|| missing_key(path, key, &data))
    }

    /// Lists the keys below `path` (sub-paths end in `/`); an empty or absent path is
    /// [`ErrorKind::NotFound`].
    pub async fn list(&self, path: &KvPath) -> Result<Vec<String>, SecretError> {
        vaultrs::kv2::list(&self.client, path.mount(), path.path())
            .await
            .map_err(|e| self.error("list", path, &e))
    }

    /// Sets `key` to `value` at `path`, keeping every other key (read + check-and-set,
    /// see the module docs).
    pub async fn put_key(&self, path: &KvPath, key: &str, value: &SecretString) -> Result<WriteOutcome, SecretError> {
        for retries in 0..MAX_CAS_ATTEMPTS {
            let current = self.current(path).await?;
            let created = current.data.is_none();
            let merged = merge_key(current.data.as_ref().map(SecretData::as_map), key, value);
            let cas = u32::try_from(current.version).map_err(|_| {
                SecretError::new(
                    ErrorKind::Other,
                    format!("write {path}: version {} is out of range", current.version),
                )
            })?;
            let result = vaultrs::kv2::set_with_options(
                &self.client,
                path.mount(),
                path.path(),
                &Value::Object(merged),
                SetSecretRequestOptions { cas },
            )
            .await;
            match result {
                Ok(meta) => {
                    return Ok(WriteOutcome {
                        created,
                        version: meta.version,
                        retries,
                    });
                }
                Err(e) if is_cas_conflict(&e) => {
                    tracing::debug!(%path, attempt = retries + 1, "check-and-set conflict; re-reading");
                }
                Err(e) => return Err(self.error("write", path, &e)),
            }
        }
        Err(SecretError::new(
            ErrorKind::Conflict,
            format!(
                "write {path} at {}: gave up after {MAX_CAS_ATTEMPTS} check-and-set conflicts (someone else keeps writing it)",
                self.addr
            ),
        ))
    }

    fn error(&self, op: &str, path: &KvPath, e: &ClientError) -> SecretError {
        let addr = &self.addr;
        match e {
            ClientError::APIError { code, errors } => {
                let kind = match code {
                    403 => ErrorKind::Forbidden,
                    404 => ErrorKind::NotFound,
                    401 => ErrorKind::Unauthenticated,
                    _ => ErrorKind::Unavailable,
                };
                let reason = match (*code, errors.is_empty()) {
                    (404, true) => "404 not found".to_owned(),
                    (c, true) => format!("HTTP {c}"),
                    (c, false) => format!("{c} {}", errors.join("; ")),
                };
                SecretError::new(kind, format!("{op} {path} at {addr}: {reason}"))
            }
            ClientError::RestClientError {
                source: rustify::errors::ClientError::ServerResponseError { code, .. },
            } => SecretError::new(ErrorKind::Unavailable, format!("{op} {path} at {addr}: HTTP {code}")),
            ClientError::RestClientError {
                source: rustify::errors::ClientError::RequestError { .. },
            } => SecretError::new(
                ErrorKind::Unavailable,
                format!("cannot reach Vault at {addr} ({op} {path}): {}", chain(e)),
            ),
            other => SecretError::new(
                ErrorKind::Unavailable,
                format!("{op} {path} at {addr}: {}", chain(other)),
            ),
        }
    }
}

fn missing_key(path: &KvPath, key: &str, data: &SecretData) -> SecretError {
    SecretError::new(
        ErrorKind::NotFound,
        format!("{path} has no key {key:?} (keys: {})", data.keys().join(", ")),
    )
}

fn is_cas_conflict(e: &ClientError) -> bool {
    matches!(e, ClientError::APIError { code: 400, errors } if errors.iter().any(|m| m.contains("check-and-set")))
}

/// A soft-deleted latest version answers 404 with its metadata in `data`; vaultrs cannot
/// parse that as an error list. Returns the deleted version's number.
fn deleted_version(e: &ClientError) -> Option<u64> {
    let ClientError::RestClientError {
        source:
            rustify::errors::ClientError::ServerResponseError {
                code: 404,
                content: Some(body),
            },
    } = e
    else {
        return None;
    };
    let v: Value = serde_json::from_str(body).ok()?;
    v.pointer("/data/metadata/version").and_then(Value::as_u64)
}

/// An error and its sources on one line, innermost cause last (`…: Connection refused`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// `vault://mount/path#key` through a [`KvClient`]. Each path is read once per backend
/// (a template naming several keys of one secret makes one request).
pub struct VaultBackend {
    client: KvClient,
    cache: Mutex<HashMap<KvPath, SecretData>>,
}

impl fmt::Debug for VaultBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultBackend")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl VaultBackend {
    pub fn new(client: KvClient) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl Backend for VaultBackend {
    fn scheme(&self) -> Scheme {
        Scheme::Vault
    }

    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
        Box::pin(async move {
            let SecretRef::Vault { path, key } = reference else {
                return Err(wrong_scheme(Scheme::Vault, reference));
            };
            let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(path).cloned();
            let data = match cached {
                Some(d) => d,
                None => {
                    let d = self.client.read(path).await?;
                    self.cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(path.clone(), d.clone());
                    d
                }
            };
            data.get(key).ok_or_else(|| missing_key(path, key, &data))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn debug_shows_only_key_names() {
        let d = SecretData::new(serde_json::from_str(r#"{"b":"canary-x","a":1}"#).unwrap());
        let shown = format!("{d:?}");
        assert!(shown.contains("\"a\", \"b\"") && !shown.contains("canary"), "{shown}");
        assert_eq!(d.get("a").unwrap().expose(), "1");
        let back: Value = serde_json::from_str(d.to_json().expose()).unwrap();
        assert_eq!(back, serde_json::json!({"a": 1, "b": "canary-x"}));
    }

    proptest! {
        #[test]
        fn merge_never_drops_a_sibling(
            current in proptest::option::of(proptest::collection::btree_map("[a-z]{1,6}", "[ -~]{0,8}", 0..8)),
            key in "[a-z]{1,6}",
            value in "[ -~]{1,8}",
        ) {
            let current: Option<Map<String, Value>> =
                current.map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
            let merged = merge_key(current.as_ref(), &key, &SecretString::new(value.clone()));
            prop_assert_eq!(merged.get(&key), Some(&Value::String(value)));
            for (k, v) in current.iter().flatten() {
                if k != &key {
                    prop_assert_eq!(merged.get(k), Some(v));
                }
            }
            let expected = current.as_ref().map_or(0, |c| c.len() + usize::from(!c.contains_key(&key))).max(1);
            prop_assert_eq!(merged.len(), expected);
        }
    }
}
