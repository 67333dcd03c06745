//! An in-process fake Vault/OpenBao KV v2 server that speaks the real
//! JSON: `GET`/`POST`/`PUT` `/v1/<mount>/data/<path>` with the `{"data":{"data":…,
//! "metadata":…}}` envelope and check-and-set, `LIST /v1/<mount>/metadata/<path>` (also
//! `GET …?list=true`), `PATCH` (which needs the `patch` capability), and errors as
//! `{"errors":[…]}` with Vault's status codes and messages.
//!
//! Tokens carry policies: (API path pattern, capabilities) like Vault's, where a pattern
//! ending in `*` is a prefix match, matched against `secret/data/app` or
//! `secret/metadata/app`. A missing or unknown token is `403 permission denied`. Every
//! request is logged (method, path, token, body) so tests can assert what was sent, e.g.
//! that `kv` verbs never sent the scoped token and that no write happened.
//!
//! ```no_run
//! # async fn run() {
//! use homelab_testkit::vault::{Cap, FakeVault};
//! let vault = FakeVault::start().await;
//! vault.add_token("root", &[("*", &[Cap::Read, Cap::List, Cap::Create, Cap::Update])]);
//! vault.put("secret", "app", &[("password", "s3cret")]);
//! let url = vault.url(); // http://127.0.0.1:<port>
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use crate::http::{self, Reply, Server};

/// A policy capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    Read,
    List,
    Create,
    Update,
    Patch,
    Delete,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// The decoded path, e.g. `/v1/secret/data/app`.
    pub path: String,
    /// The `X-Vault-Token` header, if any.
    pub token: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
struct Secret {
    data: Map<String, Value>,
    version: u64,
    /// The latest version is soft-deleted (`vault kv delete`).
    deleted: bool,
}

#[derive(Default)]
struct State {
    mounts: BTreeSet<String>,
    secrets: BTreeMap<(String, String), Secret>,
    tokens: HashMap<String, Vec<(String, BTreeSet<Cap>)>>,
    log: Vec<LoggedRequest>,
    /// Writes by a simulated concurrent writer to make before the next CAS writes.
    concurrent_writes: usize,
    /// Answer every request with this status (`{"errors":[...]}`) when set.
    fail_all: Option<u16>,
}

/// The fake server; dropping it stops it.
pub struct FakeVault {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl fmt::Debug for FakeVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeVault")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeVault {
    /// Starts a server on `127.0.0.1:0` with one KV v2 mount, `secret`, and no tokens.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> FakeVault {
        let state = Arc::new(Mutex::new(State {
            mounts: ["secret".to_owned()].into(),
            ..State::default()
        }));
        let handler_state = state.clone();
        let server = Server::spawn("fake vault", move |req| handle(handler_state.clone(), req)).await;
        FakeVault { state, server }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Adds a KV v2 mount.
    pub fn add_mount(&self, mount: &str) {
        lock(&self.state).mounts.insert(mount.to_owned());
    }

    /// Adds a token with policy rules `(API path pattern, capabilities)`.
    pub fn add_token(&self, token: &str, rules: &[(&str, &[Cap])]) {
        let rules = rules
            .iter()
            .map(|(p, caps)| ((*p).to_owned(), caps.iter().copied().collect()))
            .collect();
        lock(&self.state).tokens.insert(token.to_owned(), rules);
    }

    /// Writes a secret directly (a new version), bypassing policies and the log.
    pub fn put(&self, mount: &str, path: &str, data: &[(&str, &str)]) {
        let data = data.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
        let mut st = lock(&self.state);
        let key = (mount.to_owned(), path.to_owned());
        let version = st.secrets.get(&key).map_or(0, |s| s.version) + 1;
        st.secrets.insert(
            key,
            Secret {
                data,
                version,
                deleted: false,
            },
        );
    }

    /// Soft-deletes the latest version (like `vault kv delete`): reads then answer 404 with
    /// the version metadata in `data`, as Vault does.
    pub fn soft_delete(&self, mount: &str, path: &str) {
        if let Some(s) = lock(&self.state).secrets.get_mut(&(mount.to_owned(), path.to_owned())) {
            s.deleted = true;
            s.data.clear();
        }
    }

    /// The current data at a path (`None` if absent or soft-deleted).
    pub fn get(&self, mount: &str, path: &str) -> Option<BTreeMap<String, Value>> {
        lock(&self.state)
            .secrets
            .get(&(mount.to_owned(), path.to_owned()))
            .filter(|s| !s.deleted)
            .map(|s| s.data.clone().into_iter().collect())
    }

    /// The current version at a path (0 if absent).
    pub fn version(&self, mount: &str, path: &str) -> u64 {
        lock(&self.state)
            .secrets
            .get(&(mount.to_owned(), path.to_owned()))
            .map_or(0, |s| s.version)
    }

    /// Every secret, for "the store is unchanged" assertions.
    pub fn snapshot(&self) -> BTreeMap<String, (u64, Value)> {
        lock(&self.state)
            .secrets
            .iter()
            .map(|((m, p), s)| (format!("{m}/{p}"), (s.version, Value::Object(s.data.clone()))))
            .collect()
    }

    /// Simulates a concurrent writer: before each of the next `n` check-and-set writes, a
    /// sibling key `concurrent-<i>` is written at the target path (a new version), so the
    /// write's CAS no longer matches.
    pub fn race_next_writes(&self, n: usize) {
        lock(&self.state).concurrent_writes = n;
    }

    /// Answers every request with `status` until [`Self::clear_failure`].
    pub fn fail_all(&self, status: u16) {
        lock(&self.state).fail_all = Some(status);
    }

    pub fn clear_failure(&self) {
        lock(&self.state).fail_all = None;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state).log.clone()
    }

    /// The distinct tokens sent so far.
    pub fn tokens_seen(&self) -> BTreeSet<String> {
        lock(&self.state).log.iter().filter_map(|r| r.token.clone()).collect()
    }
}

fn reply(status: u16, body: &Value) -> Reply {
    http::json_reply(status, body)
}

fn errors(status: u16, msgs: &[&str]) -> Reply {
    reply(status, &json!({ "errors": msgs }))
}

fn envelope(data: Value) -> Value {
    json!({
        "request_id": "00000000-0000-0000-0000-000000000000",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": data,
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

fn version_metadata(version: u64) -> Value {
    json!({
        "created_time": "2026-01-01T00:00:00.000000000Z",
        "custom_metadata": null,
        "deletion_time": "",
        "destroyed": false,
        "version": version
    })
}

fn allowed(rules: &[(String, BTreeSet<Cap>)], api_path: &str, cap: Cap) -> bool {
    rules.iter().any(|(pattern, caps)| {
        let matches = match pattern.strip_suffix('*') {
            Some(prefix) => api_path.starts_with(prefix),
            None => api_path == pattern,
        };
        matches && caps.contains(&cap)
    })
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Reply {
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    let list_query = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "list=true"));
    let token = req
        .headers()
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    let path = http::decode_path(&raw_path);

    let mut st = lock(&state);
    st.log.push(LoggedRequest {
        method: method.clone(),
        path: path.clone(),
        token: token.clone(),
        body: body.clone(),
    });
    if let Some(code) = st.fail_all {
        let msg = match code {
            403 => "permission denied",
            503 => "Vault is sealed",
            _ => "internal error",
        };
        return errors(code, &[msg]);
    }
    let Some(rest) = path.strip_prefix("/v1/") else {
        return errors(404, &[]);
    };
    let Some(rules) = token.as_ref().and_then(|t| st.tokens.get(t)).cloned() else {
        return errors(403, &["permission denied"]);
    };
    let mut parts = rest.splitn(3, '/');
    let (mount, kind, secret_path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().trim_end_matches('/').to_owned(),
    );
    if !st.mounts.contains(&mount) {
        return errors(403, &["permission denied"]);
    }
    let api_path = format!("{mount}/{kind}/{secret_path}");
    let key = (mount.clone(), secret_path.clone());
    match (kind.as_str(), method.as_str()) {
        ("data", "GET") => {
            if !allowed(&rules, &api_path, Cap::Read) {
                return errors(403, &["permission denied"]);
            }
            match st.secrets.get(&key) {
                Some(s) if s.deleted => {
                    let mut meta = version_metadata(s.version);
                    meta["deletion_time"] = json!("2026-01-02T00:00:00.000000000Z");
                    reply(404, &envelope(json!({ "data": null, "metadata": meta })))
                }
                Some(s) => reply(
                    200,
                    &envelope(json!({ "data": s.data, "metadata": version_metadata(s.version) })),
                ),
                None => errors(404, &[]),
            }
        }
        ("data", "POST" | "PUT") => {
            let exists = st.secrets.contains_key(&key);
            let cap = if exists { Cap::Update } else { Cap::Create };
            if !allowed(&rules, &api_path, cap) {
                return errors(403, &["permission denied"]);
            }
            let Some(Value::Object(data)) = body.as_ref().and_then(|b| b.get("data")).cloned() else {
                return errors(400, &["no data provided"]);
            };
            let cas = body
                .as_ref()
                .and_then(|b| b.pointer("/options/cas"))
                .and_then(Value::as_u64);
            if cas.is_some() && st.concurrent_writes > 0 {
                st.concurrent_writes -= 1;
                let n = st.concurrent_writes;
                let entry = st.secrets.entry(key.clone()).or_insert(Secret {
                    data: Map::new(),
                    version: 0,
                    deleted: false,
                });
                entry.deleted = false;
                entry
                    .data
                    .insert(format!("concurrent-{n}"), Value::from("other writer"));
                entry.version += 1;
            }
            let current = st.secrets.get(&key).map_or(0, |s| s.version);
            if let Some(cas) = cas
                && cas != current
            {
                return errors(400, &["check-and-set parameter did not match the current version"]);
            }
            let version = current + 1;
            st.secrets.insert(
                key,
                Secret {
                    data,
                    version,
                    deleted: false,
                },
            );
            reply(200, &envelope(version_metadata(version)))
        }
        ("data", "PATCH") => {
            if !allowed(&rules, &api_path, Cap::Patch) {
                return errors(403, &["permission denied"]);
            }
            errors(405, &["patch is not implemented by the fake"])
        }
        ("metadata", "LIST") | ("metadata", "GET") if method == "LIST" || list_query => {
            if !allowed(&rules, &api_path, Cap::List) {
                return errors(403, &["permission denied"]);
            }
            let prefix = if secret_path.is_empty() {
                String::new()
            } else {
                format!("{secret_path}/")
            };
            let keys: BTreeSet<String> = st
                .secrets
                .keys()
                .filter(|(m, p)| *m == mount && p.starts_with(&prefix))
                .map(|(_, p)| {
                    let rest = &p[prefix.len()..];
                    match rest.split_once('/') {
                        Some((dir, _)) => format!("{dir}/"),
                        None => rest.to_owned(),
                    }
                })
                .collect();
            if keys.is_empty() {
                return errors(404, &[]);
            }
            reply(200, &envelope(json!({ "keys": keys })))
        }
        _ => errors(
            404,
            &[&format!("no handler for route \"{api_path}\". route entry not found.")],
        ),
    }
}
