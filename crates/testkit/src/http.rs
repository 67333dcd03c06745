//! The one HTTP/1 server on loopback that every wire fake runs on: it binds
//! `127.0.0.1:0`, hands each request to the fake's handler and stops (with every open
//! connection) when the [`Server`] is dropped. Connection upgrades are served, so a
//! handler may take the request's `OnUpgrade` (the fake API server's exec websocket).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What every fake answers.
pub type Reply = Response<Full<Bytes>>;

/// A running server; dropping it stops the accept loop and every open connection.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `handler` on the current tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound (a broken test machine); `name` says which fake.
    pub async fn spawn<H, F>(name: &str, handler: H) -> Server
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Reply> + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot bind a port on 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{name}: bound listener has no local address: {e}"));
        let task = tokio::spawn(accept_loop(listener, Arc::new(handler)));
        Server { addr, task }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn accept_loop<H, F>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    // Owned here, so aborting this task also ends every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            let reply = handler(req);
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

/// `application/x-www-form-urlencoded` decoding of a query component (`+` is a space);
/// invalid escapes are kept verbatim.
pub fn decode_form(s: &str) -> String {
    percent_decode(s, true)
}

/// Percent-decoding of a URL path (`+` stays a `+`); invalid escapes are kept verbatim.
pub fn decode_path(s: &str) -> String {
    percent_decode(s, false)
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
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

/// The `key=value` pairs of a query string, form-decoded, in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode_form(k), decode_form(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A reply with this status, `Content-Type` and body (an unknown status becomes 500).
pub fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// A JSON reply (`application/json`).
pub fn json_reply(status: u16, value: &serde_json::Value) -> Reply {
    reply(
        status,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::{decode_form, decode_path};

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(decode_form("a%20b+c"), "a b c");
        assert_eq!(decode_form("100%"), "100%");
        assert_eq!(decode_form("%zz%4"), "%zz%4");
        assert_eq!(
            decode_form("apiserver_requested_deprecated_apis"),
            "apiserver_requested_deprecated_apis"
        );
    }

    #[test]
    fn decodes_paths() {
        assert_eq!(decode_path("/v1/secret/data/a%20b"), "/v1/secret/data/a b");
        assert_eq!(decode_path("/v1/secret/data/a+b"), "/v1/secret/data/a+b");
        assert_eq!(decode_path("100%"), "100%");
        assert_eq!(decode_path("%4"), "%4");
    }
}
