//! The Goldmane client against the simulator over real mTLS on loopback.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use homelab_core::flows::FlowRecord;
use homelab_flows::goldmane::proto::FlowStreamRequest;
use homelab_flows::goldmane::proto::flows_client::FlowsClient;
use homelab_flows::goldmane::{
    FlowSource, FlowStream, GoldmaneClient, GoldmaneConfig, GoldmaneError, flow_result_record,
};
use homelab_flows::sim::{SimConfig, SimHandle, SimMode, SimServer};
use homelab_testkit::pki::TestPki;
use tokio::time::timeout;

const T0: i64 = 1_700_000_000;
const LIMIT: Duration = Duration::from_secs(20);

struct Fixture {
    _dir: tempfile::TempDir,
    pki: TestPki,
    sim: SimHandle,
}

async fn fixture(buckets: usize, rate_limit: Option<u64>, max_streams: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let mut config = SimConfig::new(crate::support::topology("small.yaml"))
        .with_tls(pki.sim_tls())
        .with_mode(SimMode::Burst { t0: T0, buckets });
    config.rate_limit = rate_limit;
    config.max_streams = max_streams;
    let sim = SimServer::start(config).await.unwrap();
    Fixture { _dir: dir, pki, sim }
}

async fn take(stream: &mut FlowStream, n: usize) -> Vec<FlowRecord> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match timeout(LIMIT, stream.next())
            .await
            .expect("timed out waiting for flows")
        {
            Some(Ok(f)) => out.push(f),
            Some(Err(e)) => panic!("stream error after {} flows: {e}", out.len()),
            None => panic!("stream ended after {} flows", out.len()),
        }
    }
    out
}

/// The flows the simulator generated for the given buckets, converted.
fn generated(sim: &SimHandle, starts: impl IntoIterator<Item = i64>) -> Vec<FlowRecord> {
    starts
        .into_iter()
        .flat_map(|s| sim.topology().bucket_results(s))
        .map(|r| flow_result_record(r).unwrap())
        .collect()
}

async fn open_err(config: GoldmaneConfig) -> GoldmaneError {
    let mut client = GoldmaneClient::new(config).expect("config is valid");
    match timeout(LIMIT, client.open(0)).await.expect("open timed out") {
        Err(e) => e,
        Ok(mut stream) => match timeout(LIMIT, stream.next()).await.expect("no error in time") {
            Some(Err(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        },
    }
}

#[tokio::test]
async fn flows_arrive_and_convert_faithfully() {
    let f = fixture(4, None, 100).await;
    let total = f.sim.total_flows().unwrap() as usize;
    let mut client = GoldmaneClient::new(f.pki.goldmane_config(&f.sim)).unwrap();
    let mut stream = timeout(LIMIT, client.open(0)).await.unwrap().unwrap();
    let got = take(&mut stream, total).await;
    assert_eq!(got, generated(&f.sim, (0..4).map(|k| T0 + 15 * k)));
    assert_eq!(f.sim.flows_sent(), total as u64);
    // After the burst the stream stays open and silent, like an idle Goldmane.
    assert!(timeout(Duration::from_millis(200), stream.next()).await.is_err());
    f.sim.shutdown().await;
}

#[tokio::test]
async fn pkcs1_pkcs8_and_sec1_client_keys_are_accepted() {
    let f = fixture(1, None, 100).await;
    let dir = f.pki.dir.clone();
    for (name, signing_pkcs8, key_file_pem) in [
        ("rsa-pkcs1", RSA8, RSA1),
        ("rsa-pkcs8", RSA8, RSA8),
        ("ec-sec1", EC8, EC1),
    ] {
        let (cert, key) = issue_client(&f.pki, &dir, name, signing_pkcs8, key_file_pem);
        let config = GoldmaneConfig {
            cert_file: cert,
            key_file: key,
            ..f.pki.goldmane_config(&f.sim)
        };
        let mut client = GoldmaneClient::new(config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut stream = timeout(LIMIT, client.open(0))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(take(&mut stream, 1).await.len(), 1, "{name}");
    }
    f.sim.shutdown().await;
}

/// A client certificate for `signing_pkcs8`'s public key, signed by the test CA; the key
/// file gets `key_file_pem` (the same key, possibly in another encoding).
fn issue_client(
    pki: &TestPki,
    dir: &Path,
    name: &str,
    signing_pkcs8: &str,
    key_file_pem: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert_path = pki.issue_client_cert(name, signing_pkcs8).unwrap();
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&key_path, key_file_pem).unwrap();
    (cert_path, key_path)
}

#[tokio::test]
async fn client_without_certificate_is_rejected() {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
    let f = fixture(1, None, 100).await;
    let ca = std::fs::read_to_string(&f.pki.ca_cert).unwrap();
    let tls = ClientTlsConfig::new()
        .domain_name("localhost")
        .ca_certificate(Certificate::from_pem(ca));
    let endpoint = Endpoint::from_shared(format!("https://{}", f.sim.addr()))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let result = timeout(LIMIT, async {
        let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
        let mut client = FlowsClient::new(channel);
        let mut stream = client
            .stream(FlowStreamRequest::default())
            .await
            .map_err(|s| s.to_string())?
            .into_inner();
        stream.message().await.map_err(|s| s.to_string())
    })
    .await
    .unwrap();
    assert!(result.is_err(), "a client without certificate got {result:?}");
    assert_eq!(f.sim.flows_sent(), 0);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_rejected() {
    let f = fixture(1, None, 100).await;
    let config = GoldmaneConfig {
        cert_file: f.pki.other_client_cert.clone(),
        key_file: f.pki.other_client_key.clone(),
        ..f.pki.goldmane_config(&f.sim)
    };
    let e = open_err(config).await;
    let msg = e.to_string();
    assert!(matches!(e, GoldmaneError::TlsHandshake { .. }), "{msg}");
    assert!(msg.contains(&f.sim.addr().to_string()), "{msg}");
    assert!(msg.contains("rejected the client certificate"), "{msg}");
    assert_eq!(f.sim.flows_sent(), 0);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn wrong_server_name_is_a_tls_error() {
    let f = fixture(1, None, 100).await;
    let config = GoldmaneConfig {
        server_name: "goldmane.example.org".into(),
        ..f.pki.goldmane_config(&f.sim)
    };
    let e = open_err(config).await;
    assert!(matches!(e, GoldmaneError::TlsHandshake { .. }), "{e}");
    assert!(
        e.to_string().contains("not valid for name \"goldmane.example.org\""),
        "{e}"
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn untrusted_server_certificate_is_a_tls_error() {
    let f = fixture(1, None, 100).await;
    let config = GoldmaneConfig {
        ca_file: f.pki.other_ca_cert.clone(),
        ..f.pki.goldmane_config(&f.sim)
    };
    let e = open_err(config).await;
    assert!(matches!(e, GoldmaneError::TlsHandshake { .. }), "{e}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn insecure_mode_accepts_a_wrong_server_name_and_still_presents_the_client_cert() {
    let f = fixture(1, None, 100).await;
    let env = f.pki.goldmane_env(&f.sim);
    let config = GoldmaneConfig::from_lookup(|k| match k {
        "GOLDMANE_TLS_INSECURE" => Some("yes".into()),
        "GOLDMANE_SERVER_NAME" => Some("not-the-server.example".into()),
        "GOLDMANE_CA_FILE" => Some("/nonexistent/ca.crt".into()),
        other => env.get(other).cloned(),
    })
    .unwrap();
    assert!(config.tls_insecure);
    let mut client = GoldmaneClient::new(config).unwrap();
    let mut stream = timeout(LIMIT, client.open(0)).await.unwrap().unwrap();
    // The simulator requires a client certificate: flows arriving proves it was presented.
    assert_eq!(take(&mut stream, 3).await.len(), 3);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn connection_refused_names_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = open_err(pki.goldmane_config_for(addr)).await;
    assert!(matches!(e, GoldmaneError::ConnectionRefused { .. }), "{e}");
    assert_eq!(e.to_string(), format!("goldmane {addr}: connection refused"));
}

#[tokio::test]
async fn stream_cap_answers_resource_exhausted() {
    let f = fixture(2, None, 1).await;
    let mut client = GoldmaneClient::new(f.pki.goldmane_config(&f.sim)).unwrap();
    let mut first = timeout(LIMIT, client.open(0)).await.unwrap().unwrap();
    take(&mut first, 1).await;
    let e = open_err(f.pki.goldmane_config(&f.sim)).await;
    assert!(matches!(e, GoldmaneError::ResourceExhausted { .. }), "{e}");
    assert!(e.to_string().contains("max number of streams reached"), "{e}");
    // Closing the first stream frees the slot.
    drop(first);
    timeout(LIMIT, async {
        while f.sim.open_streams() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let mut again = timeout(LIMIT, client.open(0)).await.unwrap().unwrap();
    take(&mut again, 1).await;
    f.sim.shutdown().await;
}

#[tokio::test]
async fn disconnect_all_ends_the_stream_with_an_error_and_resume_has_no_duplicates() {
    const BUCKETS: usize = 40;
    // Paced so that the disconnect lands in the middle of the burst.
    let f = fixture(BUCKETS, Some(800), 100).await;
    let per_bucket = f.sim.topology().flows_in_bucket(T0) as usize;
    let all = generated(&f.sim, (0..BUCKETS as i64).map(|k| T0 + 15 * k));
    let mut client = GoldmaneClient::new(f.pki.goldmane_config(&f.sim)).unwrap();

    let mut stream = timeout(LIMIT, client.open(0)).await.unwrap().unwrap();
    let mut received = take(&mut stream, 2 * per_bucket + 3).await;
    f.sim.disconnect_all();
    let err = loop {
        match timeout(LIMIT, stream.next()).await.unwrap() {
            Some(Ok(flow)) => received.push(flow),
            Some(Err(e)) => break e,
            None => panic!("stream ended without an error"),
        }
    };
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err}");
    assert!(
        timeout(LIMIT, stream.next()).await.unwrap().is_none(),
        "the stream ends after its error"
    );
    assert!(
        received.len() < all.len(),
        "the disconnect came too late to test anything"
    );

    // Keep complete buckets only; the cursor is the end of the last one.
    let last_start = received.last().unwrap().start_time;
    let complete: Vec<_> = received.iter().filter(|f| f.start_time < last_start).cloned().collect();
    let cursor = complete.last().unwrap().end_time;
    assert_eq!(complete.len() % per_bucket, 0);

    let mut resumed = timeout(LIMIT, client.open(cursor)).await.unwrap().unwrap();
    let rest = take(&mut resumed, all.len() - complete.len()).await;
    assert_eq!(rest.first().unwrap().start_time, cursor);
    let mut together = complete;
    together.extend(rest);
    assert_eq!(together, all, "gap-free and duplicate-free across the reconnect");
    f.sim.shutdown().await;
}
const RSA1: &str = r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAm6o8YZh27n+i6E6A3IbvC6L/Ja4qgP044kUXo7PTP/PgX5MM
VmPgbL9xp4/cyIV1MxbWV/MrWZGU/RrZXKvOgkPaIfnugzM66drZ0fTPWXElnurU
wo67Xu4MR9pPDmXfvZdLr/ZESVi3ym7qnxzAFYA3xvP/H1olreVNhFuN20bVhcW/
wKxPCqlO7JTrmn15o8dm/BZiyO47UDQ1EMymjChO7L16f8n6vu/JjkVrTrJXg3yM
Yx0wcS22rksspLXvvCTH8uti2GQrDZ/U2Gm9ez2FSslV0TzcaCNTX/YT5H42oxVk
WDnHuWA5V9jXnWMYXzVVEYBZFunvttlmsMuIJwIDAQABAoIBAA1MnOOyXM2L6RVT
iQM491kKqtAuJ6J6lUQQ/BqNMAoMN3S4QaXAhbmKHQHgXXq3mueWVry6i/nB4YqY
Tc7IPO34hxKVDFwi4dson/3QnnB5UBSvjSWMKpT13eW7peUd2LZAJAQbaa0h38id
86dME7B357a0kkI8TPDPoPD4c3pdhOu8ODbFYiZp7yVGDJ9R0x8q5aqPqB0EawwW
q2lVqtNRt57qLnaXbrzFVXynrr/y4O6e1Cz8L069h38zISKuN/SBU1hBwCauWszD
sK8DqtyzCCFuZXQS7PEA2NNiwqlFRpNdYlElgIozVIkWQ4TSlWwaEJYi0mSG43P6
bWvOLtUCgYEA0NX8ujVA6GR1z/Ri1EJ1IkEDLpABuwVSj/pKvYXSl1Qv2V/PLRxx
yeYBwEEybtRoM+jD4rY41ou+NM7gOoW/1OkJDXpkWPhEK1TO9tcc/x69W65ugE1c
okeyooQvLr+LlUvCMIhIdM/zKIM7mG4aLFIZvAZniJY8IiOLndUZa/sCgYEAvtIh
bu6hPbz1cyIsiIB/iAKyr7PqpwwmmPSVsNDja5F3thpHbvsHasY6BUcy6VpHap/g
On18UI6sCe+TCwhKVQJ+NfuJc2UwNy0Zri/MHOsrp6Z3L7dyewIZQ8PUlCu9gHIs
OXcNzLInuf6mEuJ3/vij/Y9CB9zRIZBC4InnUMUCgYEAisyOypw2Zb7PZsXBId6B
x6B6IupnnAuvki4CmvBkxVuY6dr58bukDVKn+0XZ5TubflTITNhb8oyygJq3AW5/
z1yLPcAJDfEELeCSJhFXHmEp7dODchb46IrKuaUtTt7UQQg3KtaJgcnsjRKb+3XC
Q47Vt9hx26Aum2oQk3hdCx0CgYAneqQOJnLXqhuCGYTrLOK1yhEcBvY6X2ow5RF/
Roh2vd7tnxw+WtNbBO4GH4fp/ZKe/brPfxzUMeBoIdfjRXDTi7N/Ca6TYFEMaVlR
z3PEW+dpRSiNh7+4sWN2wLJfgXkwdO6vaPFC820Cryu+5nn7F4geMqBvrgDal9Uu
TXm9HQKBgBp1CnmWJWFafJPQl7rAcjS3n86p23OWCafaIGT3svRvN5Up70ArRMFY
qabFDl4doLNo+T5P0fKrtb8DwvhJ2rpFGURhwoX853T7sjm1anlwcgwL0pavzQ0s
bnvVgnb9L/ZPomS0tCE6/WI/KujcZreze8OvqspFap3pcgOPSvna
-----END RSA PRIVATE KEY-----
";
const RSA8: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCbqjxhmHbuf6Lo
ToDchu8Lov8lriqA/TjiRRejs9M/8+BfkwxWY+Bsv3Gnj9zIhXUzFtZX8ytZkZT9
Gtlcq86CQ9oh+e6DMzrp2tnR9M9ZcSWe6tTCjrte7gxH2k8OZd+9l0uv9kRJWLfK
buqfHMAVgDfG8/8fWiWt5U2EW43bRtWFxb/ArE8KqU7slOuafXmjx2b8FmLI7jtQ
NDUQzKaMKE7svXp/yfq+78mORWtOsleDfIxjHTBxLbauSyykte+8JMfy62LYZCsN
n9TYab17PYVKyVXRPNxoI1Nf9hPkfjajFWRYOce5YDlX2NedYxhfNVURgFkW6e+2
2Wawy4gnAgMBAAECggEADUyc47JczYvpFVOJAzj3WQqq0C4nonqVRBD8Go0wCgw3
dLhBpcCFuYodAeBderea55ZWvLqL+cHhiphNzsg87fiHEpUMXCLh2yif/dCecHlQ
FK+NJYwqlPXd5bul5R3YtkAkBBtprSHfyJ3zp0wTsHfntrSSQjxM8M+g8Phzel2E
67w4NsViJmnvJUYMn1HTHyrlqo+oHQRrDBaraVWq01G3nuoudpduvMVVfKeuv/Lg
7p7ULPwvTr2HfzMhIq439IFTWEHAJq5azMOwrwOq3LMIIW5ldBLs8QDY02LCqUVG
k11iUSWAijNUiRZDhNKVbBoQliLSZIbjc/pta84u1QKBgQDQ1fy6NUDoZHXP9GLU
QnUiQQMukAG7BVKP+kq9hdKXVC/ZX88tHHHJ5gHAQTJu1Ggz6MPitjjWi740zuA6
hb/U6QkNemRY+EQrVM721xz/Hr1brm6ATVyiR7KihC8uv4uVS8IwiEh0z/MogzuY
bhosUhm8BmeIljwiI4ud1Rlr+wKBgQC+0iFu7qE9vPVzIiyIgH+IArKvs+qnDCaY
9JWw0ONrkXe2Gkdu+wdqxjoFRzLpWkdqn+A6fXxQjqwJ75MLCEpVAn41+4lzZTA3
LRmuL8wc6yunpncvt3J7AhlDw9SUK72Aciw5dw3Msie5/qYS4nf++KP9j0IH3NEh
kELgiedQxQKBgQCKzI7KnDZlvs9mxcEh3oHHoHoi6mecC6+SLgKa8GTFW5jp2vnx
u6QNUqf7RdnlO5t+VMhM2FvyjLKAmrcBbn/PXIs9wAkN8QQt4JImEVceYSnt04Ny
Fvjoisq5pS1O3tRBCDcq1omByeyNEpv7dcJDjtW32HHboC6bahCTeF0LHQKBgCd6
pA4mcteqG4IZhOss4rXKERwG9jpfajDlEX9GiHa93u2fHD5a01sE7gYfh+n9kp79
us9/HNQx4Ggh1+NFcNOLs38JrpNgUQxpWVHPc8Rb52lFKI2Hv7ixY3bAsl+BeTB0
7q9o8ULzbQKvK77mefsXiB4yoG+uANqX1S5Neb0dAoGAGnUKeZYlYVp8k9CXusBy
NLefzqnbc5YJp9ogZPey9G83lSnvQCtEwVippsUOXh2gs2j5Pk/R8qu1vwPC+Ena
ukUZRGHChfzndPuyObVqeXByDAvSlq/NDSxue9WCdv0v9k+iZLS0ITr9Yj8q6Nxm
t7N7w6+qykVqnelyA49K+do=
-----END PRIVATE KEY-----
";
const EC1: &str = r"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIAGDIUYhYgqKf1ifz2TRggj9a8wgYPRDcvj5kdy4opTFoAoGCCqGSM49
AwEHoUQDQgAE4gtmsSa6CIQGKZGUZigiD+p4UKw6+GJ4M88WiBVYmwqrPGh12gsA
ELSxlLsDnD6gz0y6Fdmb+W7UxEHmTHzbBw==
-----END EC PRIVATE KEY-----
";
const EC8: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAYMhRiFiCop/WJ/P
ZNGCCP1rzCBg9ENy+PmR3LiilMWhRANCAATiC2axJroIhAYpkZRmKCIP6nhQrDr4
YngzzxaIFVibCqs8aHXaCwAQtLGUuwOcPqDPTLoV2Zv5btTEQeZMfNsH
-----END PRIVATE KEY-----
";
