//! Typed errors. Every `Display` is one line that names the endpoint and the cause, and
//! never contains credentials (URLs are shown without user info; tokens are never
//! formatted).

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use thiserror::Error;

/// Why talking to the Kubernetes API (or setting up the client) failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum K8sError {
    /// No configuration source exists (no flag, not in a pod, no `KUBECONFIG`, no
    /// `~/.kube/config`).
    #[error("no Kubernetes configuration found: {tried}")]
    NoConfig {
        /// What was looked at, for the message.
        tried: String,
    },
    /// The chosen configuration source could not be loaded.
    #[error("cannot load the Kubernetes configuration from {origin}: {cause}")]
    Config {
        /// The source, as [`KubeconfigSource`](crate::KubeconfigSource) displays it.
        origin: String,
        cause: String,
    },
    /// The client could not be built from a loaded configuration (TLS setup, …).
    #[error("cannot create a Kubernetes client for {url}: {cause}")]
    Client { url: String, cause: String },
    /// Connecting or talking to the API server failed below HTTP (refused, DNS, TLS, reset).
    #[error("cannot reach {}: {cause}", api(.api_url))]
    Unreachable { api_url: Option<String>, cause: String },
    /// The API server did not answer in time.
    #[error("{} did not answer {what} within {} s", api(.api_url), .timeout.as_secs_f64())]
    Timeout {
        api_url: Option<String>,
        what: String,
        timeout: Duration,
    },
    /// A whole operation (connecting and every request it made) outlasted the caller's
    /// overall deadline.
    #[error("the Kubernetes API did not answer within {} s", .limit.as_secs())]
    Deadline { limit: Duration },
    /// The API server answered with an HTTP error (401, 403, 5xx, …).
    #[error("{} refused {what}: HTTP {code} {reason}{}{}", api(.api_url), detail(.reason, .message), hint(*.code, .what))]
    Api {
        api_url: Option<String>,
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// The answer was not the JSON we expected.
    #[error("unexpected answer from {} to {what}: {cause}", api(.api_url))]
    Decode {
        api_url: Option<String>,
        what: String,
        cause: String,
    },
    /// Any other client-side failure of a request.
    #[error("request to {} ({what}) failed: {cause}", api(.api_url))]
    Request {
        api_url: Option<String>,
        what: String,
        cause: String,
    },
}

/// Why querying Prometheus failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PromError {
    /// The configured URL is not an absolute http(s) URL.
    #[error("invalid Prometheus URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The HTTP client could not be built.
    #[error("cannot create an HTTP client for Prometheus at {url}: {cause}")]
    Client { url: String, cause: String },
    /// Connecting failed or the request did not complete (refused, DNS, TLS, timeout).
    #[error("cannot reach Prometheus at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// Prometheus (or a proxy in front of it) answered with an HTTP error status.
    #[error("Prometheus at {url} answered HTTP {status}{}{}", prefixed(" ", .reason), prefixed(": ", .body))]
    Status {
        url: String,
        status: u16,
        /// The canonical reason phrase (`Bad Gateway`), empty if unknown.
        reason: String,
        /// The start of the body, when it says more than the status line.
        body: String,
    },
    /// Prometheus answered `{"status":"error"}`.
    #[error("Prometheus at {url} returned an error: {error_type}: {error}")]
    Query {
        url: String,
        error_type: String,
        error: String,
    },
    /// The body was not the Prometheus query JSON we expected.
    #[error("Prometheus at {url} returned an unexpected body: {cause}")]
    Decode { url: String, cause: String },
}

fn api(url: &Option<String>) -> String {
    match url {
        Some(u) => format!("the Kubernetes API at {u}"),
        None => "the Kubernetes API".to_owned(),
    }
}

fn detail(reason: &str, message: &str) -> String {
    if message.is_empty() || message.eq_ignore_ascii_case(reason) {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn hint(code: u16, what: &str) -> String {
    match code {
        401 => " (the credentials were not accepted; check the kubeconfig user or token)".into(),
        403 => format!(" (RBAC: the identity in use is not allowed to {what})"),
        _ => String::new(),
    }
}

fn prefixed(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{prefix}{text}")
    }
}

/// The cause of a low-level failure, reduced to one line.
#[derive(Debug)]
pub(crate) struct Cause {
    pub text: String,
    pub timed_out: bool,
}

/// Walks an error's source chain: well-known I/O failures get a short, stable text
/// ("connection refused"); otherwise the innermost message is used.
pub(crate) fn cause_of(err: &(dyn StdError + 'static)) -> Cause {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut last = String::new();
    let mut timed_out = false;
    while let Some(e) = current {
        if let Some(ioe) = e.downcast_ref::<io::Error>() {
            let known = match ioe.kind() {
                io::ErrorKind::ConnectionRefused => Some("connection refused"),
                io::ErrorKind::ConnectionReset => Some("connection reset by peer"),
                io::ErrorKind::ConnectionAborted => Some("connection aborted"),
                io::ErrorKind::TimedOut => {
                    timed_out = true;
                    Some("timed out")
                }
                io::ErrorKind::UnexpectedEof => Some("connection closed before a complete answer"),
                _ => None,
            };
            if let Some(text) = known {
                return Cause {
                    text: text.to_owned(),
                    timed_out,
                };
            }
        }
        let text = e.to_string();
        if text.to_ascii_lowercase().contains("timed out") || text.contains("deadline has elapsed") {
            timed_out = true;
        }
        if !text.is_empty() {
            last = text;
        }
        current = e.source();
    }
    Cause {
        text: one_line(&last, 300),
        timed_out,
    }
}

/// Collapses whitespace (including newlines) and caps the length, so a message from the
/// network cannot break the one-line contract or flood a terminal.
pub(crate) fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars + 3));
    let mut count = 0;
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max_chars {
                out.push('…');
                return out;
            }
            if !c.is_control() {
                out.push(c);
                count += 1;
            }
        }
    }
    out
}

/// An URL for messages: scheme, host, port and path, never user info or query.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let s = u.to_string();
            // `Url` always renders a root path; show `https://host:6443`, not `…/`.
            if u.path() == "/" {
                s.trim_end_matches('/').to_owned()
            } else {
                s
            }
        }
        Err(_) => one_line(url.split('@').next_back().unwrap_or(""), 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_cause() {
        let e = K8sError::Unreachable {
            api_url: Some("https://1.2.3.4:6443".into()),
            cause: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot reach the Kubernetes API at https://1.2.3.4:6443: connection refused"
        );
        let e = K8sError::Api {
            api_url: None,
            what: "list nodes".into(),
            code: 403,
            reason: "Forbidden".into(),
            message: "nodes is forbidden".into(),
        };
        let s = e.to_string();
        assert!(
            s.starts_with("the Kubernetes API refused list nodes: HTTP 403 Forbidden: nodes is forbidden"),
            "{s}"
        );
        assert!(!s.contains('\n'));
        let e = PromError::Status {
            url: "http://p:9090".into(),
            status: 500,
            reason: String::new(),
            body: String::new(),
        };
        assert_eq!(e.to_string(), "Prometheus at http://p:9090 answered HTTP 500");
        let e = PromError::Status {
            url: "http://p:9090".into(),
            status: 502,
            reason: "Bad Gateway".into(),
            body: "upstream down".into(),
        };
        assert_eq!(
            e.to_string(),
            "Prometheus at http://p:9090 answered HTTP 502 Bad Gateway: upstream down"
        );
    }

    #[test]
    fn one_line_collapses_and_caps() {
        assert_eq!(one_line("a\n  b\tc\r\n", 100), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn redacts_user_info() {
        assert_eq!(
            redact_url("https://user:secret@prom.example:9090/x?token=1"),
            "https://prom.example:9090/x"
        );
        assert_eq!(redact_url("http://127.0.0.1:1234/"), "http://127.0.0.1:1234");
        assert!(!redact_url("not a url with user:pw@host").contains("pw"));
    }

    #[test]
    fn io_causes_are_short() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        let c = cause_of(&e);
        assert_eq!(c.text, "connection refused");
        let e = io::Error::from(io::ErrorKind::TimedOut);
        assert!(cause_of(&e).timed_out);
    }
}
