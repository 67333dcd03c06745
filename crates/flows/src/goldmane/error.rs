//! Errors of the Goldmane client: one line each, naming the host (or the file) and the cause.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

/// Why a `proto::Flow` cannot become a [`homelab_core::flows::FlowRecord`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A `FlowResult` without its `flow`.
    #[error("flow result {id} carries no flow")]
    MissingFlow { id: i64 },
    /// A `Flow` without its `Key` (source, destination, reporter, action).
    #[error("flow {start_time}..{end_time} carries no key")]
    MissingKey { start_time: i64, end_time: i64 },
}

/// Everything that can go wrong talking to Goldmane.
#[derive(Debug, thiserror::Error)]
pub enum GoldmaneError {
    /// A `GOLDMANE_*` setting is invalid.
    #[error("goldmane config: {var}: {problem}")]
    Config { var: &'static str, problem: String },

    /// A certificate or key file is unreadable or unusable. Never carries key material.
    #[error("goldmane {what} {}: {problem}", path.display())]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        problem: String,
    },

    /// The client TLS configuration was rejected (e.g. certificate and key do not match).
    #[error("goldmane {host}: TLS configuration: {cause}")]
    TlsConfig { host: String, cause: String },

    /// The TLS handshake failed (untrusted or mismatched server certificate, client
    /// certificate rejected by the server, no ALPN h2, ...).
    #[error("goldmane {host}: TLS handshake failed: {cause}")]
    TlsHandshake { host: String, cause: String },

    /// Nothing listens on the port.
    #[error("goldmane {host}: connection refused")]
    ConnectionRefused { host: String },

    /// The TCP connect (or the handshake) did not complete in time.
    #[error("goldmane {host}: connection timed out")]
    Timeout { host: String },

    /// Any other connection failure (DNS resolution, reset, keepalive timeout, ...).
    #[error("goldmane {host}: connection failed: {cause}")]
    Connect { host: String, cause: String },

    /// Goldmane's 100-concurrent-streams cap (retry with backoff).
    #[error("goldmane {host}: ResourceExhausted: {message}")]
    ResourceExhausted { host: String, message: String },

    /// Any other gRPC status (`Unavailable` when the server goes away, ...).
    #[error("goldmane {host}: gRPC {code:?}: {message}")]
    Status {
        host: String,
        code: tonic::Code,
        message: String,
    },

    /// The server ended the stream cleanly (Goldmane never does; reconnect).
    #[error("goldmane {host}: stream closed by the server")]
    Closed { host: String },
}

impl GoldmaneError {
    /// The gRPC code, when the server (or the transport, mapped by tonic) answered with one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            GoldmaneError::ResourceExhausted { .. } => Some(tonic::Code::ResourceExhausted),
            GoldmaneError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Configuration and file problems do not heal by retrying with the same settings
    /// (though certificate files can be rotated, so a slow retry is still reasonable).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            GoldmaneError::Config { .. } | GoldmaneError::TlsFile { .. } | GoldmaneError::TlsConfig { .. }
        )
    }

    /// A tonic error while building the TLS configuration.
    pub(crate) fn tls_config(host: &str, err: &tonic::transport::Error) -> GoldmaneError {
        GoldmaneError::TlsConfig {
            host: host.to_owned(),
            cause: chain_message(err),
        }
    }

    /// Classifies a tonic transport error (channel connect).
    pub(crate) fn from_transport(host: &str, err: &tonic::transport::Error) -> GoldmaneError {
        classify_chain(host, err).unwrap_or_else(|| GoldmaneError::Connect {
            host: host.to_owned(),
            cause: chain_message(err),
        })
    }

    /// Classifies a gRPC status: transport failures surface as statuses whose source chain
    /// holds the underlying TLS or I/O error.
    pub(crate) fn from_status(host: &str, status: &tonic::Status) -> GoldmaneError {
        if let Some(classified) = classify_chain(host, status) {
            return classified;
        }
        match status.code() {
            tonic::Code::ResourceExhausted => GoldmaneError::ResourceExhausted {
                host: host.to_owned(),
                message: one_line(status.message()),
            },
            code => {
                let mut message = one_line(status.message());
                if let Some(source) = StdError::source(status) {
                    let cause = chain_message(source);
                    if !cause.is_empty() && !message.contains(&cause) {
                        message = if message.is_empty() {
                            cause
                        } else {
                            format!("{message}: {cause}")
                        };
                    }
                }
                GoldmaneError::Status {
                    host: host.to_owned(),
                    code,
                    message,
                }
            }
        }
    }
}

/// Walks an error's source chain (also into `io::Error` payloads, which `source()` skips)
/// looking for a TLS or socket-level cause.
fn classify_chain(host: &str, err: &(dyn StdError + 'static)) -> Option<GoldmaneError> {
    let host = host.to_owned();
    let mut timed_out = false;
    let mut refused = false;
    for e in chain(err) {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(GoldmaneError::TlsHandshake {
                host,
                cause: tls.to_string(),
            });
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => refused = true,
                io::ErrorKind::TimedOut => timed_out = true,
                _ => {}
            }
        }
        let text = e.to_string();
        // tonic's own TLS errors are crate-private types, and h2 does not expose the I/O
        // error carrying a TLS alert as a source: recognise them by their text.
        if text.contains("HTTP/2 was not negotiated") || text.contains("TLS handshake timeout") {
            return Some(GoldmaneError::TlsHandshake {
                host,
                cause: one_line(&text),
            });
        }
        const ALERT: &str = "received fatal alert: ";
        if let Some(at) = text.find(ALERT) {
            let name: String = text[at + ALERT.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '(' || *c == ')')
                .collect();
            let alert = format!("{ALERT}{name}");
            let cause = if alert.contains("Certificate") || alert.contains("UnknownCA") {
                format!("the server rejected the client certificate ({alert})")
            } else {
                alert
            };
            return Some(GoldmaneError::TlsHandshake { host, cause });
        }
        if text.contains("tcp connect error") && text.contains("refused") {
            refused = true;
        }
    }
    if refused {
        Some(GoldmaneError::ConnectionRefused { host })
    } else if timed_out {
        Some(GoldmaneError::Timeout { host })
    } else {
        None
    }
}

/// The error and its sources, descending into `io::Error` custom payloads.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if out.len() > 32 {
            break;
        }
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// "outer: inner: root", skipping a level whose text its parent already contains.
fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        let text = one_line(&e.to_string());
        if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_are_one_line_and_name_the_host() {
        let e = GoldmaneError::from_status(
            "gm:7443",
            &tonic::Status::resource_exhausted("max number of streams reached, try again later"),
        );
        assert_eq!(
            e.to_string(),
            "goldmane gm:7443: ResourceExhausted: max number of streams reached, try again later"
        );
        assert_eq!(e.code(), Some(tonic::Code::ResourceExhausted));

        let e = GoldmaneError::from_status("gm:7443", &tonic::Status::unavailable("going\naway"));
        assert_eq!(e.to_string(), "goldmane gm:7443: gRPC Unavailable: going away");
    }

    #[test]
    fn io_errors_inside_statuses_are_classified() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "nope");
        let status = tonic::Status::from_error(Box::new(io));
        let e = GoldmaneError::from_status("gm:7443", &status);
        assert!(matches!(e, GoldmaneError::ConnectionRefused { .. }), "{e}");

        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::NoCertificatesPresented);
        let status = tonic::Status::from_error(Box::new(tls));
        let e = GoldmaneError::from_status("gm:7443", &status);
        assert!(matches!(e, GoldmaneError::TlsHandshake { .. }), "{e}");
        assert!(!e.to_string().contains('\n'));

        let timeout = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
        let e = GoldmaneError::from_status("gm:7443", &tonic::Status::from_error(Box::new(timeout)));
        assert_eq!(e.to_string(), "goldmane gm:7443: connection timed out");
    }

    #[test]
    fn tls_failures_known_only_by_their_text_are_classified() {
        let status =
            tonic::Status::unknown("transport error: connection error: received fatal alert: CertificateRequired");
        let e = GoldmaneError::from_status("gm:7443", &status);
        assert_eq!(
            e.to_string(),
            "goldmane gm:7443: TLS handshake failed: the server rejected the client certificate \
             (received fatal alert: CertificateRequired)"
        );
        let status = tonic::Status::unknown("transport error: TLS handshake timeout.");
        assert!(matches!(
            GoldmaneError::from_status("gm:7443", &status),
            GoldmaneError::TlsHandshake { .. }
        ));
    }
}
