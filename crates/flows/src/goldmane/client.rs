//! The `Flows.Stream` client: a new mTLS channel per stream.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::proto::FlowStreamRequest;
use super::proto::flows_client::FlowsClient;
use super::{FlowSource, FlowStream, GoldmaneConfig, GoldmaneError, flow_result_record};

/// Talks to Goldmane's `Flows` service. Cheap to clone; holds no connection: every
/// [`GoldmaneClient::stream`] (= [`FlowSource::open`]) re-reads the certificate files,
/// re-resolves the host and builds a new channel.
#[derive(Debug, Clone)]
pub struct GoldmaneClient {
    config: GoldmaneConfig,
}

impl GoldmaneClient {
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
    pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Sent as `aggregation_interval` (Goldmane ignores it; the proto says it must be 15 s).
    pub const AGGREGATION_INTERVAL: i64 = 15;

    /// Validates the TLS files once (fail fast at startup); warns when verification is off.
    pub fn new(config: GoldmaneConfig) -> Result<GoldmaneClient, GoldmaneError> {
        config.load_tls()?;
        if config.tls_insecure {
            tracing::warn!(
                host = %config.host,
                "GOLDMANE_TLS_INSECURE is set: the Goldmane server certificate is NOT verified \
                 (the client certificate is still presented)"
            );
        }
        Ok(GoldmaneClient { config })
    }

    pub fn config(&self) -> &GoldmaneConfig {
        &self.config
    }

    /// A new, connected channel (TCP + TLS handshake done): mTLS with ALPN h2, the
    /// configured server name, HTTP/2 keepalive (30 s interval, 10 s timeout, also while
    /// idle) and a 10 s connect timeout.
    pub async fn connect(&self) -> Result<Channel, GoldmaneError> {
        let host = &self.config.host;
        let tls = self.config.load_tls()?;
        let endpoint = Endpoint::from_shared(self.config.endpoint_uri())
            .map_err(|e| GoldmaneError::Config {
                var: "GOLDMANE_HOST",
                problem: format!("{host:?}: {e}"),
            })?
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .http2_keep_alive_interval(Self::KEEPALIVE_INTERVAL)
            .keep_alive_timeout(Self::KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true);
        let client_tls = ClientTlsConfig::new()
            .domain_name(self.config.server_name.clone())
            .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
            .timeout(Self::CONNECT_TIMEOUT);
        let configured = match &tls.ca_pem {
            Some(ca) => endpoint.tls_config(client_tls.ca_certificate(Certificate::from_pem(ca))),
            None => endpoint.tls_config_with_verifier(client_tls, Arc::new(InsecureVerifier::new())),
        };
        let endpoint = configured.map_err(|e| GoldmaneError::tls_config(host, &e))?;
        tracing::debug!(%host, server_name = %self.config.server_name, "connecting to goldmane");
        endpoint
            .connect()
            .await
            .map_err(|e| GoldmaneError::from_transport(host, &e))
    }

    /// Opens `Flows.Stream` from `start_time_gte` (0 = now, < 0 = relative seconds, > 0 =
    /// absolute Unix seconds with backfill) on a new channel.
    ///
    /// The returned stream yields converted flows; flows without a key are skipped (and
    /// logged) rather than ending the stream, since a reconnect would fetch them again.
    /// It always ends with exactly one `Err` (gRPC status, transport failure, or
    /// [`GoldmaneError::Closed`] if the server ends the stream cleanly) and then `None`.
    pub async fn stream(&self, start_time_gte: i64) -> Result<FlowStream, GoldmaneError> {
        let host: Arc<str> = Arc::from(self.config.host.as_str());
        let channel = self.connect().await?;
        let mut client = FlowsClient::new(channel).max_decoding_message_size(16 * 1024 * 1024);
        let request = FlowStreamRequest {
            start_time_gte,
            filter: None,
            aggregation_interval: Self::AGGREGATION_INTERVAL,
        };
        let response = client
            .stream(request)
            .await
            .map_err(|s| GoldmaneError::from_status(&host, &s))?;
        tracing::debug!(%host, start_time_gte, "goldmane stream open");
        let inner = response.into_inner();
        // The client (and its channel) lives as long as the stream.
        let state = Some((client, inner, host));
        let stream = futures::stream::unfold(state, |state| async move {
            let (client, mut inner, host) = state?;
            loop {
                match inner.message().await {
                    Ok(Some(result)) => match flow_result_record(result) {
                        Ok(record) => return Some((Ok(record), Some((client, inner, host)))),
                        Err(e) => tracing::warn!(%host, error = %e, "skipping malformed goldmane flow"),
                    },
                    Ok(None) => {
                        let err = GoldmaneError::Closed { host: host.to_string() };
                        return Some((Err(err), None));
                    }
                    Err(status) => return Some((Err(GoldmaneError::from_status(&host, &status)), None)),
                }
            }
        });
        Ok(stream.boxed())
    }
}

impl FlowSource for GoldmaneClient {
    fn open(&mut self, start_time_gte: i64) -> impl Future<Output = Result<FlowStream, GoldmaneError>> + Send {
        self.stream(start_time_gte)
    }
}

/// `GOLDMANE_TLS_INSECURE`: accepts any server certificate, but still checks the
/// handshake signatures (so the session keys belong to whoever holds that certificate).
#[derive(Debug)]
struct InsecureVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl InsecureVerifier {
    fn new() -> InsecureVerifier {
        let provider = CryptoProvider::get_default()
            .map(|p| p.signature_verification_algorithms)
            .unwrap_or_else(|| rustls::crypto::ring::default_provider().signature_verification_algorithms);
        InsecureVerifier { algorithms: provider }
    }
}

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
