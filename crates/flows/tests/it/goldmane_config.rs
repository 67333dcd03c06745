//! `GOLDMANE_*` parsing and TLS file validation.

use std::collections::HashMap;
use std::path::PathBuf;

use homelab_flows::goldmane::{GoldmaneClient, GoldmaneConfig, GoldmaneError};
use homelab_testkit::pki::TestPki;

fn parse(vars: &[(&str, &str)]) -> Result<GoldmaneConfig, GoldmaneError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    GoldmaneConfig::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults() {
    let c = parse(&[]).unwrap();
    assert_eq!(
        c,
        GoldmaneConfig {
            host: "goldmane.calico-system.svc.cluster.local:7443".into(),
            server_name: "goldmane.calico-system.svc.cluster.local".into(),
            tls_insecure: false,
            ca_file: PathBuf::from("/etc/goldmane-client/ca.crt"),
            cert_file: PathBuf::from("/etc/goldmane-client/tls.crt"),
            key_file: PathBuf::from("/etc/goldmane-client/tls.key"),
        }
    );
    // Empty values count as unset.
    assert_eq!(
        parse(&[("GOLDMANE_HOST", ""), ("GOLDMANE_TLS_INSECURE", " ")]).unwrap(),
        c
    );
}

#[test]
fn server_name_is_derived_from_the_host() {
    let name = |host: &str| parse(&[("GOLDMANE_HOST", host)]).unwrap().server_name;
    assert_eq!(name("goldmane.calico-system.svc:7443"), "goldmane.calico-system.svc");
    assert_eq!(name("goldmane"), "goldmane");
    assert_eq!(name("10.0.0.7:7443"), "10.0.0.7");
    assert_eq!(name("[::1]:7443"), "::1");
    assert_eq!(name("[fd00::7]"), "fd00::7");
    assert_eq!(name("fd00::7"), "fd00::7");
    let explicit = parse(&[
        ("GOLDMANE_HOST", "10.0.0.7:7443"),
        ("GOLDMANE_SERVER_NAME", "goldmane.calico-system.svc"),
    ]);
    assert_eq!(explicit.unwrap().server_name, "goldmane.calico-system.svc");
}

#[test]
fn insecure_values() {
    for v in ["1", "true", "yes", "TRUE", "Yes", "on"] {
        assert!(parse(&[("GOLDMANE_TLS_INSECURE", v)]).unwrap().tls_insecure, "{v}");
    }
    for v in ["0", "false", "no", "off", ""] {
        assert!(!parse(&[("GOLDMANE_TLS_INSECURE", v)]).unwrap().tls_insecure, "{v}");
    }
    let e = parse(&[("GOLDMANE_TLS_INSECURE", "sure")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "goldmane config: GOLDMANE_TLS_INSECURE: expected 1/true/yes or 0/false/no, got \"sure\""
    );
}

#[test]
fn invalid_hosts_and_names_are_rejected() {
    for host in ["https://goldmane:7443", "goldmane:7443/x", "[::1", ":7443"] {
        let e = parse(&[("GOLDMANE_HOST", host)]).unwrap_err();
        assert!(e.to_string().contains("GOLDMANE_HOST"), "{host}: {e}");
    }
    let e = parse(&[("GOLDMANE_SERVER_NAME", "bad name!")]).unwrap_err();
    assert!(e.to_string().contains("GOLDMANE_SERVER_NAME"), "{e}");
}

#[test]
fn paths_come_from_the_environment() {
    let c = parse(&[
        ("GOLDMANE_CA_FILE", "/a/ca.pem"),
        ("GOLDMANE_CERT_FILE", "/a/c.pem"),
        ("GOLDMANE_KEY_FILE", "/a/k.pem"),
    ])
    .unwrap();
    assert_eq!(
        (c.ca_file, c.cert_file, c.key_file),
        ("/a/ca.pem".into(), "/a/c.pem".into(), "/a/k.pem".into())
    );
}

#[test]
fn tls_file_errors_name_the_file_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let good = pki.goldmane_config_for("127.0.0.1:7443".parse().unwrap());
    assert!(GoldmaneClient::new(good.clone()).is_ok());
    let key_pem = std::fs::read_to_string(&pki.client_key).unwrap();
    let key_body: Vec<&str> = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();

    let check = |config: GoldmaneConfig, path: &PathBuf, needle: &str| {
        let e = GoldmaneClient::new(config).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, GoldmaneError::TlsFile { .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(needle), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        for line in &key_body {
            assert!(!msg.contains(line), "key material leaked: {msg}");
        }
    };

    let missing = dir.path().join("missing.key");
    check(
        GoldmaneConfig {
            key_file: missing.clone(),
            ..good.clone()
        },
        &missing,
        "No such file",
    );

    // A certificate where the key should be.
    check(
        GoldmaneConfig {
            key_file: pki.client_cert.clone(),
            ..good.clone()
        },
        &pki.client_cert,
        "PKCS#1",
    );

    // Truncated key: the END line is missing.
    let truncated = dir.path().join("truncated.key");
    std::fs::write(&truncated, key_pem.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
    check(
        GoldmaneConfig {
            key_file: truncated.clone(),
            ..good.clone()
        },
        &truncated,
        "malformed PEM",
    );

    // Key of another certificate.
    check(
        GoldmaneConfig {
            key_file: pki.other_client_key.clone(),
            ..good.clone()
        },
        &pki.other_client_key,
        "does not match",
    );

    // Not a certificate.
    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "hello\n").unwrap();
    check(
        GoldmaneConfig {
            ca_file: empty.clone(),
            ..good.clone()
        },
        &empty,
        "no PEM \"CERTIFICATE\"",
    );
    check(
        GoldmaneConfig {
            cert_file: empty.clone(),
            ..good.clone()
        },
        &empty,
        "no PEM \"CERTIFICATE\"",
    );

    // Insecure mode does not need the CA file.
    let insecure = GoldmaneConfig {
        ca_file: missing,
        tls_insecure: true,
        ..good
    };
    assert!(GoldmaneClient::new(insecure).is_ok());
}
