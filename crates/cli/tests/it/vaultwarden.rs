//! `homelab vault setup|status|list|search|get|code|lock` end to end: the real binary,
//! the fake Vault KV v2 server (per-user creds, scoped token), a fake `bw` on PATH that
//! records argv and environment, and a fake `logger` that records the op-log.
//!
//! The leak canaries (master password, API secret, an item password, the TOTP seed) must
//! never appear in any child's argv, the op-log, stderr or `-vv` logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, homelab, run, run_with_stdin};
use homelab_testkit::vault::{Cap, FakeVault};

const MASTER: &str = "master-canary-7f3a";
const API_SECRET: &str = "apisecret-canary-91c2";
const ITEM_PW: &str = "itempw-canary-55d0";
const SEED: &str = "SEEDCANARY";
const SCOPED: &str = "scoped-token-canary";
const OWN: &str = "own-oidc-token";
const CREDS: &str = "workstation/claude-users/alice";

struct Env {
    _rt: tokio::runtime::Runtime,
    vault: FakeVault,
    dir: tempfile::TempDir,
}

impl Env {
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn bw_state(&self) -> PathBuf {
        self.home().join(".fake-bw")
    }
    fn read(&self, p: impl AsRef<Path>) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }
    fn bw_calls(&self) -> String {
        self.read(self.bw_state().join("calls.log"))
    }
    fn oplog(&self) -> String {
        self.read(self.dir.path().join("logger.log"))
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = homelab(&self.home());
        let bin = self.dir.path().join("bin");
        c.env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("USER", "alice")
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("FAKE_LOGGER_LOG", self.dir.path().join("logger.log"))
            .env_remove("VAULT_TOKEN")
            .env_remove("VAULT_ADDR")
            .args(["vault"])
            .args(args);
        c
    }
    fn run(&self, args: &[&str]) -> Run {
        let r = run(self.cmd(args));
        self.assert_no_leak(&r.stderr, "stderr");
        r
    }
    /// Every place a secret must never reach.
    fn assert_no_leak(&self, text: &str, what: &str) {
        for canary in [MASTER, API_SECRET, ITEM_PW, SEED, SCOPED] {
            assert!(!text.contains(canary), "{canary} leaked into {what}:\n{text}");
        }
    }
    fn assert_clean_trail(&self) {
        self.assert_no_leak(&self.bw_calls(), "bw argv");
        self.assert_no_leak(&self.oplog(), "the op-log");
        assert!(
            !self.oplog().contains("bank"),
            "the op-log named the item:\n{}",
            self.oplog()
        );
    }
}

/// A user who has run `vault login` (own token, no access to the creds path) and whose
/// scoped token may read and update their creds path; a bw vault with one item.
fn setup_env(with_creds: bool) -> Env {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let vault = rt.block_on(FakeVault::start());
    vault.add_token(
        SCOPED,
        &[(
            "secret/data/workstation/claude-users/alice",
            &[Cap::Read, Cap::Create, Cap::Update],
        )],
    );
    vault.add_token(OWN, &[("secret/data/infra/*", &[Cap::Read])]);
    vault.put("secret", CREDS, &[("claude_ai_oauth_json", "{\"sibling\":true}")]);
    if with_creds {
        vault.put(
            "secret",
            CREDS,
            &[
                ("claude_ai_oauth_json", "{\"sibling\":true}"),
                ("vaultwarden_email", "alice@example.org"),
                ("vaultwarden_client_id", "user.42"),
                ("vaultwarden_client_secret", API_SECRET),
                ("vaultwarden_master_password", MASTER),
            ],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let env = Env { _rt: rt, vault, dir };
    let home = env.home();
    std::fs::create_dir_all(home.join(".config/homelab")).unwrap();
    std::fs::create_dir_all(home.join(".config/claude-auth-sync")).unwrap();
    std::fs::write(
        home.join(".config/homelab/config.toml"),
        format!(
            "[vault]\naddr = \"{}\"\nvaultwarden_server = \"https://vw.example.org\"\ncreds_path = \"secret/workstation/claude-users/{{user}}\"\nscoped_token_file = \"~/.config/claude-auth-sync/vault-token\"\n",
            env.vault.url()
        ),
    )
    .unwrap();
    std::fs::write(home.join(".config/claude-auth-sync/vault-token"), format!("{SCOPED}\n")).unwrap();
    std::fs::write(home.join(".vault-token"), OWN).unwrap();
    std::fs::create_dir_all(env.dir.path().join("run")).unwrap();

    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake_bw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vault/testdata/fake-bw");
    std::os::unix::fs::symlink(fake_bw, bin.join("bw")).unwrap();
    let logger = bin.join("logger");
    std::fs::write(&logger, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$FAKE_LOGGER_LOG\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&logger, std::fs::Permissions::from_mode(0o755)).unwrap();

    let st = env.bw_state();
    std::fs::create_dir_all(st.join("items/bank")).unwrap();
    std::fs::write(st.join("apikey"), format!("user.42 {API_SECRET}")).unwrap();
    std::fs::write(st.join("master"), MASTER).unwrap();
    std::fs::write(st.join("items/bank/password"), format!("{ITEM_PW}\n")).unwrap();
    std::fs::write(st.join("items/bank/username"), "alice\n").unwrap();
    std::fs::write(st.join("items/bank/totp"), "123456\n").unwrap();
    std::fs::write(
        st.join("items/bank/item.json"),
        format!(
            r#"{{"id":"9f","object":"item","name":"bank","notes":null,"login":{{"username":"alice","password":"{ITEM_PW}","totp":"otpauth://totp/bank?secret={SEED}","uris":[{{"uri":"https://bank.example.org"}}]}},"fields":[{{"name":"pin","value":"0000","type":1}}],"passwordHistory":[]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        st.join("list.json"),
        r#"[{"id":"9f","name":"bank","login":{"password":"x"}},{"id":"a1","name":"git"}]"#,
    )
    .unwrap();
    env
}

/// One `homelab: error:` line on stderr containing `needle`.
fn one_error(r: &Run, needle: &str) {
    crate::support::assert_one_error_line(r);
    assert!(r.stderr.contains(needle), "want {needle:?} in {:?}", r.stderr);
}

#[test]
fn bare_vault_leads_with_the_two_stores() {
    let env = setup_env(false);
    let r = env.run(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    let first: Vec<&str> = r.stdout.lines().take(3).collect();
    assert!(first[0].contains("two different secret stores"), "{first:?}");
    assert!(first[1].contains("Vaultwarden") && first[2].contains("HashiCorp Vault / OpenBao"));
    assert!(r.stdout.contains("homelab vault kv put <path> <key>"));
}

#[test]
fn get_prints_when_piped_and_logs_without_the_item() {
    let env = setup_env(true);
    let r = env.run(&["get", "bank"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{ITEM_PW}\n").as_str()),
        "{r:?}"
    );
    let calls: Vec<String> = env.bw_calls().lines().map(str::to_owned).collect();
    assert_eq!(
        calls,
        [
            "config server https://vw.example.org",
            "status",
            "login --apikey",
            "unlock --passwordenv BW_PASSWORD --raw",
            "sync",
            "get password bank"
        ]
    );
    let log = env.oplog();
    assert!(log.starts_with("-t homelab-vault -- user=alice verb=get pid="), "{log}");
    assert!(log.trim_end().contains(" parent="), "{log}");
    // The Vaultwarden verbs read the creds with the scoped token, never the user's own.
    assert_eq!(env.vault.tokens_seen().into_iter().collect::<Vec<_>>(), [SCOPED]);
    env.assert_clean_trail();

    let r = env.run(&["get", "bank", "--field", "username", "--json"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "{\"username\":\"alice\"}\n"), "{r:?}");
    let r = env.run(&["get", "bank", "--all"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "bank", "username": "alice", "password": ITEM_PW,
            "uris": ["https://bank.example.org"], "totp": true, "fields": {"pin": "0000"}})
    );
    assert!(!r.stdout.contains(SEED));
    assert!(env.oplog().contains("verb=get-all"));
    env.assert_clean_trail();
}

#[test]
fn code_list_search_status_lock() {
    let env = setup_env(true);
    let r = env.run(&["code", "bank"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "123456\n"), "{r:?}");
    let log = env.oplog();
    assert!(log.contains("verb=code"), "{log}");
    assert!(
        log.contains("-t homelab-vault-totp -- user=alice totp-fetch parent="),
        "{log}"
    );

    let r = env.run(&["list"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "bank (9f)\ngit (a1)\n"), "{r:?}");
    let r = env.run(&["search", "my", "bank"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        env.bw_calls().lines().any(|l| l == "list items --search my bank"),
        "{}",
        env.bw_calls()
    );
    let r = env.run(&["list", "--search", "git"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(env.bw_calls().lines().any(|l| l == "list items --search git"));

    let r = env.run(&["status"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "vault: configured, unlocked, reachable ✓\n"),
        "{r:?}"
    );
    std::fs::write(env.bw_state().join("sync-fails"), "").unwrap();
    let r = env.run(&["status"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .starts_with("vault: configured + unlocked, but sync/reachability failed: "),
        "{r:?}"
    );
    // A read still works from the cache, with a warning.
    let r = env.run(&["get", "bank"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("warning: bw sync failed; using cached vault"),
        "{r:?}"
    );

    let r = env.run(&["lock"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "locked\n"), "{r:?}");
    let r = env.run(&["lock"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "logout failed: no `locked`");
    // lock and logout ran with no secret in the environment.
    let env_log = env.read(env.bw_state().join("env.log"));
    for block in env_log
        .split("--- ")
        .filter(|b| b.starts_with("lock") || b.starts_with("logout"))
    {
        assert!(
            !block.contains("BW_PASSWORD") && !block.contains("BW_SESSION"),
            "{block}"
        );
    }
    env.assert_clean_trail();
}

#[test]
fn setup_merges_creds_and_verifies() {
    let env = setup_env(false);
    let input = format!("alice@example.org\nuser.42\n{API_SECRET}\n{MASTER}\n");
    let r = run_with_stdin(env.cmd(&["setup"]), &input);
    env.assert_no_leak(&r.stderr, "stderr");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("Stored. Verifying unlock…"), "{r:?}");
    assert!(
        r.stderr.trim_end().ends_with("✓ Verified. Fetches are now AFK."),
        "{r:?}"
    );
    let stored = env.vault.get("secret", CREDS).unwrap();
    assert_eq!(stored["vaultwarden_master_password"], MASTER);
    assert_eq!(stored["vaultwarden_client_secret"], API_SECRET);
    assert_eq!(stored["vaultwarden_client_id"], "user.42");
    assert_eq!(
        stored["claude_ai_oauth_json"], "{\"sibling\":true}",
        "a sibling key was clobbered"
    );
    env.assert_clean_trail();

    // Missing answers: nothing written.
    let env = setup_env(false);
    let before = env.vault.snapshot();
    let r = run_with_stdin(env.cmd(&["setup"]), "alice@example.org\nuser.42\n\n\n");
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "all fields are required");
    assert_eq!(env.vault.snapshot(), before);
}

#[test]
fn refusals_and_bad_input() {
    let env = setup_env(false);
    let r = env.run(&["get", "bank"]);
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "vault not configured for this user — run `homelab vault setup`");
    assert_eq!(env.bw_calls(), "", "no bw call before the creds are known");

    let env = setup_env(true);
    let r = env.run(&["get", "bank", "--field", "bogus"]);
    assert_eq!(r.code, 2, "{r:?}");
    one_error(&r, "invalid --field \"bogus\" (want password|username|uri|notes|totp)");
    let r = env.run(&["get"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = env.run(&["get", "nosuchitem"]);
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "bw get: exit status 1: Not found.");

    // Wrong master password in the stored creds.
    std::fs::write(env.bw_state().join("master"), "changed").unwrap();
    let r = env.run(&["get", "bank"]);
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "bw unlock failed (wrong master password?");

    // No scoped token and no $VAULT_TOKEN: the user's own token has no access → 403 named.
    std::fs::remove_file(env.home().join(".config/claude-auth-sync/vault-token")).unwrap();
    let r = env.run(&["get", "bank"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("403"), "{r:?}");

    // No Vaultwarden server configured: a configuration error.
    std::fs::write(
        env.home().join(".config/homelab/config.toml"),
        format!("[vault]\naddr = \"{}\"\ncreds_path = \"secret/workstation/claude-users/{{user}}\"\nscoped_token_file = \"~/.config/claude-auth-sync/vault-token\"\n", env.vault.url()),
    )
    .unwrap();
    let r = env.run(&["list"]);
    assert_eq!(r.code, 2, "{r:?}");
    one_error(&r, "no Vaultwarden server");
    env.assert_clean_trail();
}

#[test]
fn verbose_logs_never_carry_secrets() {
    let env = setup_env(true);
    let mut c = env.cmd(&["get", "bank", "--all"]);
    c.arg("-vv").env("RUST_LOG", "trace");
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    env.assert_no_leak(&r.stderr, "-vv logs");
}

#[test]
fn bw_references_resolve_through_the_vaultwarden_backend() {
    let env = setup_env(true);
    let secret = |args: &[&str]| {
        let mut c = env.cmd(&[]);
        // `env.cmd` starts with `vault`; rebuild the argv for `secret`.
        let mut fresh = homelab(&env.home());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => fresh.env(k, v),
                None => fresh.env_remove(k),
            };
        }
        c = fresh;
        c.arg("secret").args(args);
        run(c)
    };
    let r = secret(&["get", "bw://bank#password"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{ITEM_PW}\n").as_str()),
        "{r:?}"
    );
    let r = secret(&["get", "bw://bank#pin"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0000\n"), "a custom field: {r:?}");
    let r = secret(&["get", "bw://bank#nosuch"]);
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "bw://bank#nosuch");
    let r = secret(&["get", "bw://gone#password"]);
    assert_eq!(r.code, 1, "{r:?}");
    one_error(&r, "Not found.");
    env.assert_no_leak(&r.stderr, "stderr");
    assert!(env.oplog().contains("verb=ref"), "{}", env.oplog());
    env.assert_clean_trail();
}

/// Runs `homelab vault …` with stdout on a pseudo-terminal (and stderr too, or a pipe):
/// the exit code, what reached the terminal, and the piped stderr.
fn on_pty(mut c: Command, term: &str, stderr_tty: bool) -> (i32, String, String) {
    c.env("TERM", term).env_remove("TERM_PROGRAM");
    let r = homelab_testkit::pty::run_on_pty(c, stderr_tty);
    (r.code, r.terminal, r.stderr)
}

#[test]
fn terminal_rules_on_a_real_pty() {
    let env = setup_env(true);
    // --all refuses a terminal before any bw call.
    let (code, terminal, stderr) = on_pty(env.cmd(&["get", "bank", "--all"]), "xterm-kitty", false);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("refusing to print all fields as JSON to a terminal"),
        "{stderr}"
    );
    assert_eq!(env.bw_calls(), "");
    assert!(!terminal.contains(ITEM_PW));

    // A plain xterm cannot take OSC 52 safely: refused, nothing on the terminal.
    let (code, terminal, stderr) = on_pty(env.cmd(&["get", "bank"]), "xterm-256color", false);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("refusing to print secret"), "{stderr}");
    assert!(!terminal.contains(ITEM_PW), "{terminal:?}");

    // kitty with stderr on the terminal: the clipboard sequence, never the plain value.
    let (code, terminal, _) = on_pty(env.cmd(&["get", "bank"]), "xterm-kitty", true);
    assert_eq!(code, 0, "{terminal}");
    assert!(terminal.contains("\x1b]52;c;"), "{terminal:?}");
    assert!(
        terminal.contains("copied to clipboard; clearing in 30s"),
        "{terminal:?}"
    );
    assert!(
        !terminal.contains(ITEM_PW),
        "the plain value reached the terminal: {terminal:?}"
    );

    // --json on a terminal: refused after the read (which is op-logged).
    let (code, terminal, stderr) = on_pty(env.cmd(&["get", "bank", "--json"]), "xterm-kitty", false);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("refusing to print a secret as JSON to a terminal"),
        "{stderr}"
    );
    assert!(!terminal.contains(ITEM_PW));
    env.assert_clean_trail();
}
