//! The fake API server's `pods/{name}/exec`: the websocket upgrade and the Kubernetes
//! streaming protocol kube's `Api::<Pod>::exec` speaks (`v5.channel.k8s.io`, or
//! `v4.channel.k8s.io` when v5 is not offered or is switched off). Every frame is binary,
//! its first byte the channel: 0 stdin, 1 stdout, 2 stderr, 3 the final `Status` JSON;
//! in v5, `[255, 0]` closes stdin.
//!
//! Nothing is executed: the command and everything written to stdin go to a test-provided
//! handler once stdin is closed, and its [`ExecReply`] is streamed back.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{self as ws, Message};

use super::RequestHead;
use super::{ApiState, FakeApiServer, forced_failure, lock, status_reply};
use crate::http::Reply;

/// The streaming subprotocol with an explicit stdin close (Kubernetes ≥ 1.30).
pub const EXEC_PROTOCOL_V5: &str = "v5.channel.k8s.io";
/// The older subprotocol: the only way to end stdin is to close the websocket.
pub const EXEC_PROTOCOL_V4: &str = "v4.channel.k8s.io";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;
/// Output is sent in frames of at most this many bytes.
const FRAME: usize = 16 * 1024;
/// An exec session never outlives this (a client that never closes stdin).
const SESSION_LIMIT: Duration = Duration::from_secs(120);

/// One exec the fake received, as its handler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The argv (`command` query parameters, in order).
    pub command: Vec<String>,
    /// Everything the client wrote to stdin (lossy UTF-8).
    pub stdin: String,
    /// The negotiated subprotocol ([`EXEC_PROTOCOL_V5`] or [`EXEC_PROTOCOL_V4`]).
    pub protocol: String,
}

/// What the "process" printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReply {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

impl ExecReply {
    /// Exit code 0 with this stdout.
    pub fn stdout(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            ..Self::default()
        }
    }

    /// A non-zero exit with this stderr.
    pub fn failed(exit_code: i32, stderr: impl Into<String>) -> Self {
        Self {
            stderr: stderr.into(),
            exit_code,
            ..Self::default()
        }
    }
}

type ExecHandler = Arc<dyn Fn(ExecRequest) -> ExecReply + Send + Sync>;

/// The exec part of the fake's state. Sessions hold only the handler and the request
/// log, so dropping the server (and with it this state) aborts them.
#[derive(Default)]
pub(crate) struct ExecState {
    handler: Mutex<Option<ExecHandler>>,
    requests: Arc<Mutex<Vec<ExecRequest>>>,
    fail_status: AtomicU16,
    v4_only: AtomicBool,
    sessions: Mutex<JoinSet<()>>,
}

impl FakeApiServer {
    /// Answers every exec with `handler` (run on a blocking thread once stdin is closed).
    /// Without a handler, an exec exits 127 with a message on stderr.
    pub fn set_exec_handler(&self, handler: impl Fn(ExecRequest) -> ExecReply + Send + Sync + 'static) {
        *lock(&self.state.exec.handler) = Some(Arc::new(handler));
    }

    /// Every exec received so far (after its stdin was closed), in order.
    pub fn exec_requests(&self) -> Vec<ExecRequest> {
        lock(&self.state.exec.requests).clone()
    }

    /// Refuse the exec upgrade with this HTTP status (403: RBAC allows listing pods but not
    /// `pods/exec`); 0 accepts again. Other routes are unaffected.
    pub fn fail_exec(&self, status: u16) {
        self.state.exec.fail_status.store(status, Ordering::SeqCst);
    }

    /// Negotiate only [`EXEC_PROTOCOL_V4`] (an API server older than Kubernetes 1.30).
    pub fn set_exec_v4_only(&self, v4_only: bool) {
        self.state.exec.v4_only.store(v4_only, Ordering::SeqCst);
    }
}

/// What the session needs once the connection is upgraded.
struct Session {
    request: ExecRequest,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    v5: bool,
    handler: Option<ExecHandler>,
    requests: Arc<Mutex<Vec<ExecRequest>>>,
}

impl ApiState {
    /// `GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec?container=&command=…&stdin=true…`
    pub(crate) fn exec(&self, ns: &str, name: &str, head: &RequestHead) -> Reply {
        let fail = self.exec.fail_status.load(Ordering::SeqCst);
        if fail == 403 {
            let message = format!(
                "pods \"{name}\" is forbidden: User \"system:serviceaccount:homelab:fake\" cannot create \
                 resource \"pods/exec\" in API group \"\" in the namespace \"{ns}\""
            );
            return status_reply(403, "Forbidden", &message, json!({"name": name, "kind": "pods"}));
        }
        if fail != 0 {
            return forced_failure(fail, head);
        }
        let containers: Vec<String> = {
            let pods = lock(&self.pods);
            match pods.iter().find(|p| p.namespace == ns && p.name == name) {
                Some(pod) => pod.logs.keys().cloned().collect(),
                None => return not_found(name),
            }
        };
        let container = match head.query_param("container") {
            Some(c) if containers.is_empty() || containers.iter().any(|x| x == c) => c.to_owned(),
            Some(c) => return bad_request(&format!("container {c} is not valid for pod {name}")),
            None => match containers.as_slice() {
                [only] => only.clone(),
                _ => {
                    let message = format!(
                        "a container name must be specified for pod {name}, choose one of: [{}]",
                        containers.join(" ")
                    );
                    return bad_request(&message);
                }
            },
        };
        let command: Vec<String> = head
            .query
            .iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.clone())
            .collect();
        if command.is_empty() {
            return bad_request("you must specify at least 1 command");
        }
        let flag = |key: &str| head.query_param(key) == Some("true");
        let (stdin, stdout, stderr) = (flag("stdin"), flag("stdout"), flag("stderr"));
        if !stdin && !stdout && !stderr {
            return bad_request("you must specify at least one of stdin, stdout, stderr");
        }
        if flag("tty") {
            return bad_request("the fake API server does not support tty exec");
        }
        let is_websocket = header_is(head, header::UPGRADE, "websocket");
        let key = head
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .map(|k| k.as_bytes().to_vec());
        let (true, Some(key)) = (is_websocket, key) else {
            return bad_request("Upgrade request required");
        };
        let v4_only = self.exec.v4_only.load(Ordering::SeqCst);
        let offered: Vec<String> = head
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .collect();
        // The API server takes the client's first protocol it supports.
        let Some(protocol) = offered
            .iter()
            .find(|p| *p == EXEC_PROTOCOL_V4 || (*p == EXEC_PROTOCOL_V5 && !v4_only))
        else {
            return bad_request(&format!("no supported streaming subprotocol in {offered:?}"));
        };
        let Some(upgrade) = lock(&head.upgrade).take() else {
            return status_reply(500, "InternalError", "connection cannot be upgraded", json!({}));
        };
        let session = Session {
            request: ExecRequest {
                namespace: ns.to_owned(),
                pod: name.to_owned(),
                container,
                command,
                stdin: String::new(),
                protocol: protocol.clone(),
            },
            stdin,
            stdout,
            stderr,
            v5: protocol == EXEC_PROTOCOL_V5,
            handler: lock(&self.exec.handler).clone(),
            requests: self.exec.requests.clone(),
        };
        {
            let mut sessions = lock(&self.exec.sessions);
            while sessions.try_join_next().is_some() {}
            sessions.spawn(async move {
                if tokio::time::timeout(SESSION_LIMIT, run(upgrade, session))
                    .await
                    .is_err()
                {
                    tracing::debug!("fake exec session exceeded its time limit");
                }
            });
        }
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, header::HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = header::HeaderValue::from_str(&derive_accept_key(&key)) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        if let Ok(p) = header::HeaderValue::from_str(protocol) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        response
    }
}

async fn run(upgrade: OnUpgrade, session: Session) {
    let upgraded = match upgrade.await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(error = %e, "fake exec: upgrade failed");
            return;
        }
    };
    let mut socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
    if let Err(e) = converse(&mut socket, session).await {
        tracing::debug!(error = %e, "fake exec session ended early");
    }
}

async fn converse<S>(socket: &mut WebSocketStream<S>, session: Session) -> Result<(), ws::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Like the API server, announce each output channel with an empty frame.
    for (enabled, channel) in [(session.stdout, STDOUT), (session.stderr, STDERR), (true, STATUS)] {
        if enabled {
            socket.send(Message::binary(vec![channel])).await?;
        }
    }
    let mut stdin = Vec::new();
    if session.stdin {
        while let Some(message) = socket.next().await {
            match message? {
                Message::Binary(frame) => match frame.first() {
                    Some(&STDIN) => stdin.extend_from_slice(&frame[1..]),
                    Some(&CLOSE) if session.v5 && frame.get(1) == Some(&STDIN) => break,
                    _ => {}
                },
                // v4: closing the websocket is the client's only way to end stdin.
                Message::Close(_) => break,
                _ => {}
            }
        }
    }
    let mut request = session.request;
    request.stdin = String::from_utf8_lossy(&stdin).into_owned();
    lock(&session.requests).push(request.clone());
    let reply = match session.handler {
        Some(handler) => tokio::task::spawn_blocking(move || handler(request))
            .await
            .unwrap_or_else(|_| ExecReply::failed(1, "the fake exec handler panicked")),
        None => ExecReply::failed(
            127,
            "fake API server: no exec handler (FakeApiServer::set_exec_handler)",
        ),
    };
    for (enabled, channel, text) in [
        (session.stdout, STDOUT, &reply.stdout),
        (session.stderr, STDERR, &reply.stderr),
    ] {
        if !enabled {
            continue;
        }
        for chunk in text.as_bytes().chunks(FRAME) {
            let mut frame = Vec::with_capacity(chunk.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(chunk);
            socket.send(Message::binary(frame)).await?;
        }
    }
    let mut frame = vec![STATUS];
    frame.extend_from_slice(&serde_json::to_vec(&exit_status(reply.exit_code)).unwrap_or_default());
    socket.send(Message::binary(frame)).await?;
    // kube stops reading after the status; a failed close is of no consequence.
    let _ = socket.close(None).await;
    Ok(())
}

/// The `Status` the kubelet sends on the error channel when the process ends.
fn exit_status(exit_code: i32) -> Value {
    if exit_code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: command terminated with exit code {exit_code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": exit_code.to_string()}]},
    })
}

fn header_is(head: &RequestHead, name: header::HeaderName, value: &str) -> bool {
    head.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(value)))
}

fn not_found(name: &str) -> Reply {
    status_reply(
        404,
        "NotFound",
        &format!("pods \"{name}\" not found"),
        json!({"name": name, "kind": "pods"}),
    )
}

fn bad_request(message: &str) -> Reply {
    status_reply(400, "BadRequest", message, json!({}))
}
