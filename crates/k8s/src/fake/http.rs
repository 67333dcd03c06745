//! A tiny hyper 1 server on loopback shared by the fakes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub(crate) type Reply = Response<Full<Bytes>>;
pub(crate) type BoxReply = Pin<Box<dyn Future<Output = Reply> + Send>>;
pub(crate) type Handler = Arc<dyn Fn(RequestHead) -> BoxReply + Send + Sync>;

/// What the fakes look at in a request (bodies are ignored: every route is a GET).
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// The pending connection upgrade, taken by the one route that upgrades (exec).
    pub upgrade: std::sync::Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

impl RequestHead {
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A running server; dropping it stops the accept loop and every open connection.
#[derive(Debug)]
pub(crate) struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0` and serves `handler` on the current tokio runtime.
///
/// # Panics
/// If no loopback port can be bound (a broken test machine).
pub(crate) async fn spawn(handler: Handler) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("fake server: cannot bind a port on 127.0.0.1");
    let addr = listener
        .local_addr()
        .expect("fake server: bound listener has no local address");
    let task = tokio::spawn(accept_loop(listener, handler));
    Server { addr, task }
}

async fn accept_loop(listener: TcpListener, handler: Handler) {
    // Owned here, so aborting this task also ends every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |mut req: Request<Incoming>| {
                            let head = head_of(&mut req);
                            let reply = handler(head);
                            async move { Ok::<_, Infallible>(reply.await) }
                        });
                        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = connection.with_upgrades().await {
                            tracing::trace!(error = %e, "fake server connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "fake server accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn head_of(req: &mut Request<Incoming>) -> RequestHead {
    let query = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    RequestHead {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        query,
        headers: req.headers().clone(),
        upgrade: std::sync::Mutex::new(req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>()),
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space); invalid escapes are
/// kept verbatim.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

pub(crate) fn json_reply(status: u16, value: &serde_json::Value) -> Reply {
    reply(
        status,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(
            percent_decode("apiserver_requested_deprecated_apis"),
            "apiserver_requested_deprecated_apis"
        );
    }
}
