//! KvClient against the fake Vault KV v2 server: reads, lists, merge-writes with
//! check-and-set, policies without `patch`, 403/404, races and an unreachable address.

use std::time::Duration;

use homelab_core::secret::{KvPath, SecretRef, SecretString};
use homelab_testkit::vault::{Cap, FakeVault};
use homelab_vault::{ErrorKind, KvClient, Resolver, VaultBackend};
use proptest::prelude::*;

const ALL: &[Cap] = &[Cap::Read, Cap::List, Cap::Create, Cap::Update];
const TOKEN: &str = "tok-canary-7f3a";
const VALUE: &str = "value-canary-91c2";

fn p(s: &str) -> KvPath {
    KvPath::parse_cli(s, true).unwrap()
}

fn secret(s: &str) -> SecretString {
    SecretString::new(s.into())
}

async fn setup() -> (FakeVault, KvClient) {
    let vault = FakeVault::start().await;
    vault.add_token(TOKEN, &[("secret/*", ALL)]);
    let client = KvClient::new(&vault.url(), &secret(TOKEN), Duration::from_secs(5)).unwrap();
    (vault, client)
}

fn assert_no_canary(msg: &str) {
    assert!(!msg.contains(TOKEN) && !msg.contains(VALUE), "leak: {msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
}

#[tokio::test]
async fn reads_keys_whole_data_and_lists() {
    let (vault, kv) = setup().await;
    vault.put("secret", "app/db", &[("user", "app"), ("password", VALUE)]);
    vault.put("secret", "app/api", &[("token", "t")]);
    vault.put("secret", "other", &[("x", "y")]);

    assert_eq!(
        kv.read_key(&p("secret/app/db"), "password").await.unwrap().expose(),
        VALUE
    );
    let data = kv.read(&p("secret/app/db")).await.unwrap();
    assert_eq!(data.keys(), ["password", "user"]);
    assert_eq!(kv.list(&p("secret/app")).await.unwrap(), ["api", "db"]);
    assert_eq!(kv.list(&p("secret/")).await.unwrap(), ["app/", "other"]);

    let e = kv.read_key(&p("secret/app/db"), "nope").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        "secret/app/db has no key \"nope\" (keys: password, user)"
    );
    let e = kv.read(&p("secret/missing")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("no secret at secret/missing (Vault at {}: 404 not found)", vault.url())
    );
    let e = kv.list(&p("secret/missing")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_no_canary(&e.to_string());

    // Vault's own request shapes: GET …/data/…, LIST …/metadata/…, the token header.
    let reqs = vault.requests();
    assert!(
        reqs.iter()
            .any(|r| r.method == "GET" && r.path == "/v1/secret/data/app/db")
    );
    assert!(
        reqs.iter()
            .any(|r| r.method == "LIST" && r.path == "/v1/secret/metadata/app")
    );
    assert!(reqs.iter().all(|r| r.token.as_deref() == Some(TOKEN)));
}

#[tokio::test]
async fn put_creates_then_merges_without_patch() {
    let vault = FakeVault::start().await;
    // The scoped policy shape: create/read/update, no patch.
    vault.add_token(
        TOKEN,
        &[("secret/data/workstation/*", &[Cap::Read, Cap::Create, Cap::Update])],
    );
    let kv = KvClient::new(&vault.url(), &secret(TOKEN), Duration::from_secs(5)).unwrap();
    let path = p("secret/workstation/alice");

    let first = kv
        .put_key(&path, "vaultwarden_master_password", &secret(VALUE))
        .await
        .unwrap();
    assert_eq!((first.created, first.version, first.retries), (true, 1, 0));
    // claude-auth-sync writes its sibling key meanwhile (directly in the store).
    let mut current = vault.get("secret", "workstation/alice").unwrap();
    current.insert("claude_ai_oauth_json".into(), "{\"accessToken\":\"access\"}".into());
    let pairs: Vec<(String, String)> = current
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vault.put("secret", "workstation/alice", &pairs);

    let second = kv
        .put_key(&path, "vaultwarden_client_secret", &secret("cs"))
        .await
        .unwrap();
    assert_eq!((second.created, second.version), (false, 3));
    let stored = vault.get("secret", "workstation/alice").unwrap();
    assert_eq!(stored["vaultwarden_master_password"], VALUE);
    assert_eq!(stored["claude_ai_oauth_json"], "{\"accessToken\":\"access\"}");
    assert_eq!(stored["vaultwarden_client_secret"], "cs");

    let writes: Vec<_> = vault.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(writes.iter().all(|r| r.method == "POST"), "{writes:?}");
    assert_eq!(writes[0].body.as_ref().unwrap()["options"]["cas"], 0);
    assert_eq!(writes[1].body.as_ref().unwrap()["options"]["cas"], 2);
}

#[tokio::test]
async fn forbidden_reads_and_writes_change_nothing() {
    let vault = FakeVault::start().await;
    vault.add_token("reader", &[("secret/data/app", &[Cap::Read])]);
    vault.put("secret", "app", &[("k", "v")]);
    vault.put("secret", "other", &[("k", "v")]);
    let before = vault.snapshot();
    let kv = KvClient::new(&vault.url(), &secret("reader"), Duration::from_secs(5)).unwrap();

    let e = kv.put_key(&p("secret/app"), "k2", &secret(VALUE)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(
        e.to_string(),
        format!("write secret/app at {}: 403 permission denied", vault.url())
    );
    let e = kv.read(&p("secret/other")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("read secret/other at {}: 403 permission denied", vault.url())
    );
    let e = kv.list(&p("secret/")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_no_canary(&e.to_string());
    assert_eq!(vault.snapshot(), before);

    let wrong = KvClient::new(&vault.url(), &secret(TOKEN), Duration::from_secs(5)).unwrap();
    let e = wrong.read(&p("secret/app")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_no_canary(&e.to_string());
}

#[tokio::test]
async fn survives_check_and_set_races_and_gives_up_when_bounded() {
    let (vault, kv) = setup().await;
    vault.put("secret", "shared", &[("a", "1")]);
    vault.race_next_writes(2);
    let out = kv.put_key(&p("secret/shared"), "b", &secret(VALUE)).await.unwrap();
    assert_eq!(out.retries, 2);
    let stored = vault.get("secret", "shared").unwrap();
    // Our key, the original sibling and both concurrent writers' keys are all there.
    assert_eq!(
        stored.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "b", "concurrent-0", "concurrent-1"]
    );

    vault.race_next_writes(100);
    let e = kv.put_key(&p("secret/shared"), "c", &secret(VALUE)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains("gave up after 5 check-and-set conflicts"), "{e}");
    assert!(!vault.get("secret", "shared").unwrap().contains_key("c"));
    assert_no_canary(&e.to_string());
}

#[tokio::test]
async fn soft_deleted_secret_is_absent_and_rewritable() {
    let (vault, kv) = setup().await;
    vault.put("secret", "gone", &[("a", "1")]);
    vault.put("secret", "gone", &[("a", "2")]);
    vault.soft_delete("secret", "gone");
    let e = kv.read(&p("secret/gone")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // The write must use the deleted version for check-and-set (cas=0 would conflict forever).
    let out = kv.put_key(&p("secret/gone"), "b", &secret(VALUE)).await.unwrap();
    assert_eq!((out.created, out.version, out.retries), (true, 3, 0));
    assert_eq!(vault.get("secret", "gone").unwrap().keys().collect::<Vec<_>>(), ["b"]);
}

#[tokio::test]
async fn unreachable_vault_names_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("http://127.0.0.1:{port}");
    let kv = KvClient::new(&addr, &secret(TOKEN), Duration::from_secs(5)).unwrap();
    let e = kv.read(&p("secret/app")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach Vault at {addr} (read secret/app): ")),
        "{msg}"
    );
    assert!(
        msg.to_lowercase().contains("connection refused") || msg.contains("connect"),
        "{msg}"
    );
    assert_no_canary(&msg);
}

#[tokio::test]
async fn paths_with_spaces_and_references() {
    let (vault, kv) = setup().await;
    kv.put_key(&p("secret/my app/db"), "pass word", &secret(VALUE))
        .await
        .unwrap();
    assert_eq!(vault.get("secret", "my app/db").unwrap()["pass word"], VALUE);
    let mut resolver = Resolver::new();
    resolver.register(Box::new(VaultBackend::new(kv)));
    let r = SecretRef::parse("vault://secret/my%20app/db#pass%20word").unwrap();
    assert_eq!(resolver.resolve(&r).await.unwrap().expose(), VALUE);
    // Two keys of one path: one request (per-run memoisation).
    let before = vault.requests().len();
    let missing = SecretRef::parse("vault://secret/my%20app/db#other").unwrap();
    let e = resolver.resolve(&missing).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "vault://secret/my%20app/db#other: secret/my app/db has no key \"other\" (keys: pass word)"
    );
    assert_eq!(vault.requests().len(), before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Against the fake: whatever was at the path, a put keeps every other key.
    #[test]
    fn put_never_drops_a_sibling(
        existing in proptest::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{1,6}", 0..6),
        key in "[a-z]{1,5}",
        value in "[ -~]{1,10}",
        races in 0usize..3,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (vault, kv) = setup().await;
            if !existing.is_empty() {
                let pairs: Vec<(&str, &str)> = existing.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                vault.put("secret", "p", &pairs);
            }
            vault.race_next_writes(races);
            kv.put_key(&p("secret/p"), &key, &secret(&value)).await.unwrap();
            let stored = vault.get("secret", "p").unwrap();
            prop_assert_eq!(stored[&key].as_str(), Some(value.as_str()));
            for (k, v) in &existing {
                if k != &key {
                    prop_assert_eq!(stored[k].as_str(), Some(v.as_str()));
                }
            }
            Ok(())
        })?;
    }
}

/// The leak canary for `Debug`: every public type that holds a token or a value prints
/// neither.
#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    use homelab_core::secret::precedence::{Observed, TokenInputs, TokenPurpose, choose_token};
    use homelab_vault::{EnvBackend, Unavailable};

    let (vault, kv) = setup().await;
    vault.put("secret", "app", &[("k", VALUE)]);
    let data = kv.read(&p("secret/app")).await.unwrap();
    let value = kv.read_key(&p("secret/app"), "k").await.unwrap();
    let decision = choose_token(
        TokenPurpose::Kv,
        &TokenInputs {
            env: Observed::Present(secret(TOKEN)),
            ..Default::default()
        },
    );
    let env = EnvBackend::from_map([("APP".to_owned(), VALUE.to_owned())].into());
    let mut resolver = Resolver::new();
    resolver.register(Box::new(env.clone()));
    let shown = [
        format!("{kv:?}"),
        format!(
            "{:?}",
            VaultBackend::new(KvClient::new(&vault.url(), &secret(TOKEN), Duration::from_secs(5)).unwrap())
        ),
        format!("{data:?}"),
        format!("{value:?} {value}"),
        format!("{decision:?} {:?}", decision.explain()),
        format!("{env:?}"),
        format!("{resolver:?}"),
        format!("{:?}", Unavailable::new(homelab_core::secret::Scheme::Vault, "x")),
        format!("{vault:?}"),
    ];
    for s in shown {
        assert!(!s.contains(TOKEN) && !s.contains(VALUE), "leak in Debug: {s}");
    }
}
