//! `homelab vault kv …` and `homelab secret …` end to end against the fake Vault KV v2
//! server (and the fake Kubernetes API for k8s://), tried as a new user would: a config
//! file in a temporary HOME, the real binary, the real vaultrs client.

use crate::support::*;
use homelab_testkit::vault::{Cap, FakeVault};

/// The secret value every test uses; it must never show up where it does not belong.
const CANARY: &str = "canary-s3cret-7f3a9e";
/// The caller's own token (~/.vault-token) and the scoped Vaultwarden token.
const OWN_TOKEN: &str = "own-token-canary-41b2";
const SCOPED_TOKEN: &str = "scoped-token-canary-9c07";
const ALL: &[Cap] = &[Cap::Read, Cap::List, Cap::Create, Cap::Update];

struct Env {
    vault: FakeVault,
    home: tempfile::TempDir,
}

impl Env {
    /// A user with a config file naming the fake Vault, `vault login` done (~/.vault-token)
    /// and a provisioned scoped token file.
    async fn new() -> Env {
        let vault = FakeVault::start().await;
        vault.add_token(OWN_TOKEN, &[("secret/*", ALL)]);
        vault.add_token(SCOPED_TOKEN, &[("secret/data/workstation/claude-users/*", ALL)]);
        vault.put("secret", "app/db", &[("password", CANARY), ("user", "app")]);
        let home = tempfile::tempdir().unwrap();
        let env = Env { vault, home };
        env.write_config(&format!(
            "[vault]\naddr = \"{}\"\ncreds_path = \"secret/workstation/claude-users/{{user}}\"\nscoped_token_file = \"~/.config/claude-auth-sync/vault-token\"\n",
            env.vault.url()
        ));
        std::fs::write(env.home.path().join(".vault-token"), format!("{OWN_TOKEN}\n")).unwrap();
        let scoped = env.home.path().join(".config/claude-auth-sync/vault-token");
        std::fs::create_dir_all(scoped.parent().unwrap()).unwrap();
        std::fs::write(scoped, SCOPED_TOKEN).unwrap();
        env
    }

    fn write_config(&self, text: &str) {
        let dir = self.home.path().join(".config/homelab");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = homelab(self.home.path());
        c.args(args);
        c
    }

    async fn run(&self, args: &[&str]) -> Run {
        run_async(self.cmd(args), None).await
    }

    async fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run_async(self.cmd(args), Some(stdin.to_owned())).await
    }
}

fn dead_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// Nothing secret on stderr (the canary value, its base64, any token).
fn assert_clean_stderr(r: &Run) {
    for needle in [CANARY, OWN_TOKEN, SCOPED_TOKEN, "Y2FuYXJ5"] {
        assert!(!r.stderr.contains(needle), "{needle} leaked to stderr:\n{}", r.stderr);
    }
}

fn assert_fails(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_one_error_line(r);
    assert!(r.stderr.contains(needle), "want {needle:?} in:\n{}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout: {}", r.stdout);
    assert_clean_stderr(r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_get_field_and_whole_data_when_piped() {
    let e = Env::new().await;
    let r = e
        .run(&["vault", "kv", "get", "secret/app/db", "--field", "password"])
        .await;
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, format!("{CANARY}\n").as_str(), "")
    );

    let r = e.run(&["vault", "kv", "get", "secret/app/db"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json, serde_json::json!({"password": CANARY, "user": "app"}));

    // kv verbs use the caller's own token, never the scoped one (seed case 43).
    assert_eq!(e.vault.tokens_seen(), [OWN_TOKEN.to_owned()].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_list_prints_one_key_per_line() {
    let e = Env::new().await;
    e.vault.put("secret", "app/api", &[("t", "x")]);
    e.vault.put("secret", "other", &[("t", "x")]);
    let r = e.run(&["vault", "kv", "list", "secret/app"]).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "api\ndb\n"), "{}", r.stderr);
    let r = e.run(&["vault", "kv", "list", "secret/"]).await;
    assert_eq!(r.stdout, "app/\nother\n");
    let r = e.run(&["vault", "kv", "list", "secret/nothing-here"]).await;
    assert_fails(&r, 1, "list secret/nothing-here at");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_put_creates_then_merges_keeping_siblings() {
    let e = Env::new().await;
    let r = e
        .run_stdin(&["vault", "kv", "put", "secret/new/pem", "key"], "L1\nL2\n")
        .await;
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", "wrote key to secret/new/pem\n")
    );
    assert_eq!(e.vault.get("secret", "new/pem").unwrap()["key"], "L1\nL2");

    let r = e
        .run_stdin(&["vault", "kv", "put", "secret/app/db", "password"], "rotated\r\n")
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = e.vault.get("secret", "app/db").unwrap();
    assert_eq!(
        (stored["password"].as_str(), stored["user"].as_str()),
        (Some("rotated"), Some("app"))
    );
    // Read + POST with check-and-set, never PATCH (works without the `patch` capability).
    let methods: Vec<String> = e.vault.requests().into_iter().map(|r| r.method).collect();
    assert!(methods.iter().all(|m| m == "GET" || m == "POST"), "{methods:?}");
    let posts: Vec<_> = e.vault.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts[0].body.as_ref().unwrap()["options"]["cas"], 0);
    assert_eq!(posts[1].body.as_ref().unwrap()["options"]["cas"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_put_refusals_write_nothing() {
    let e = Env::new().await;
    let before = e.vault.snapshot();
    let r = e
        .run_stdin(&["vault", "kv", "put", "secret/app/db", "password"], "")
        .await;
    assert_fails(&r, 1, "empty value; aborting (nothing written)");
    let r = e
        .run_stdin(&["vault", "kv", "put", "secret/app/db", "password"], "\n\r\n")
        .await;
    assert_fails(&r, 1, "empty value; aborting (nothing written)");
    let r = e.run_stdin(&["vault", "kv", "put", "secret/app/db"], CANARY).await;
    assert_fails(
        &r,
        2,
        "usage: homelab vault kv put <path> <key> (value read from stdin)",
    );
    // A value on the command line is refused without being echoed.
    let r = e
        .run(&["vault", "kv", "put", "secret/app/db", "password", CANARY])
        .await;
    assert_fails(&r, 2, "refusing a value on the command line");
    let r = e
        .run(&["vault", "kv", "put", "secret/app/db", &format!("password={CANARY}")])
        .await;
    assert_eq!(r.code, 2);
    assert_eq!(e.vault.snapshot(), before);
    assert!(e.vault.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_lines_and_malformed_paths() {
    let e = Env::new().await;
    let r = e.run(&["vault", "kv", "get"]).await;
    assert_fails(&r, 2, "usage: homelab vault kv get <path> [--field <key>]");
    let r = e.run(&["vault", "kv", "list"]).await;
    assert_fails(&r, 2, "usage: homelab vault kv list <path>");
    let r = e.run(&["vault", "kv", "get", "secret"]).await;
    assert_fails(&r, 2, "has no secret path after the mount");
    let r = e.run(&["vault", "kv", "get", "secret//x", "--field", "k"]).await;
    assert_fails(&r, 2, "empty path segment");
    assert!(e.vault.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_address_env_precedence_and_unreachable() {
    let e = Env::new().await;
    // VAULT_ADDR wins over the config file.
    e.write_config(&format!("[vault]\naddr = \"{}\"\n", dead_port_url()));
    let mut c = e.cmd(&["vault", "kv", "get", "secret/app/db", "--field", "user"]);
    c.env("VAULT_ADDR", e.vault.url());
    let r = run_async(c, None).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "app\n"), "{}", r.stderr);

    // The config's dead address: one line naming it.
    let dead = dead_port_url();
    e.write_config(&format!("[vault]\naddr = \"{dead}\"\n"));
    let r = e.run(&["vault", "kv", "get", "secret/app/db", "--field", "user"]).await;
    assert_fails(&r, 1, &format!("cannot reach Vault at {dead} (read secret/app/db)"));
    let r = e.run_stdin(&["vault", "kv", "put", "secret/app/db", "k"], CANARY).await;
    assert_fails(
        &r,
        1,
        &format!(
            "writing \"k\" to secret/app/db failed (does your token have write access? path correct?): cannot reach Vault at {dead}"
        ),
    );

    // No address anywhere: a clear configuration error, nothing compiled in.
    std::fs::remove_file(e.home.path().join(".config/homelab/config.toml")).unwrap();
    let r = e.run(&["vault", "kv", "get", "secret/app/db", "--field", "user"]).await;
    assert_fails(
        &r,
        2,
        "no Vault address: set VAULT_ADDR or `addr` in the [vault] section",
    );
    // A broken config file is named.
    e.write_config("[vault]\nadress = \"x\"\n");
    let r = e.run(&["vault", "kv", "list", "secret/"]).await;
    assert_fails(&r, 2, "config.toml: line 2: unknown field `adress`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_unknown_path_and_key() {
    let e = Env::new().await;
    let before = e.vault.snapshot();
    let mut c = e.cmd(&["vault", "kv", "get", "secret/app/db", "--field", "password"]);
    c.env("VAULT_TOKEN", "not-a-token");
    let r = run_async(c, None).await;
    assert_fails(
        &r,
        1,
        &format!("read secret/app/db at {}: 403 permission denied", e.vault.url()),
    );
    // $VAULT_TOKEN wins over ~/.vault-token.
    assert_eq!(e.vault.tokens_seen(), ["not-a-token".to_owned()].into());

    let mut c = e.cmd(&["vault", "kv", "put", "secret/app/db", "password"]);
    c.env("VAULT_TOKEN", "not-a-token");
    let r = run_async(c, Some(CANARY.into())).await;
    assert_fails(&r, 1, "403 permission denied");
    assert_eq!(e.vault.snapshot(), before);

    let r = e
        .run(&["vault", "kv", "get", "secret/app/nope", "--field", "password"])
        .await;
    assert_fails(&r, 1, "no secret at secret/app/nope");
    let r = e.run(&["vault", "kv", "get", "secret/app/db", "--field", "nope"]).await;
    assert_fails(&r, 1, "secret/app/db has no key \"nope\" (keys: password, user)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_never_falls_back_to_the_scoped_token() {
    let e = Env::new().await;
    std::fs::remove_file(e.home.path().join(".vault-token")).unwrap();
    let r = e.run(&["vault", "kv", "get", "secret/app/db", "--field", "user"]).await;
    assert_fails(&r, 1, "no Vault token: set VAULT_TOKEN or run `vault login`");
    // vault:// references follow the kv rule too.
    let r = e.run(&["secret", "get", "vault://secret/app/db#user"]).await;
    assert_fails(&r, 1, "vault://secret/app/db#user: no Vault token");
    assert!(e.vault.requests().is_empty(), "{:?}", e.vault.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_get_each_scheme() {
    let e = Env::new().await;
    let r = e.run(&["secret", "get", "vault://secret/app/db#password"]).await;
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, format!("{CANARY}\n").as_str(), "")
    );

    let mut c = e.cmd(&["secret", "get", "env://APP_TOKEN"]);
    c.env("APP_TOKEN", CANARY);
    let r = run_async(c, None).await;
    assert_eq!((r.code, r.stdout.trim_end()), (0, CANARY));

    let api = homelab_testkit::k8s::FakeApiServer::start(&Default::default()).await;
    api.insert_secret("apps", "db-creds", &[("password", CANARY.as_bytes())]);
    let kc = api.write_kubeconfig(e.home.path());
    let mut c = e.cmd(&["secret", "get", "k8s://apps/db-creds#password"]);
    c.env("KUBECONFIG", &kc);
    let r = run_async(c, None).await;
    assert_eq!((r.code, r.stdout.trim_end()), (0, CANARY), "{}", r.stderr);
    let r = run_async(
        {
            let mut c = e.cmd(&["secret", "get", "k8s://apps/db-creds#user"]);
            c.env("KUBECONFIG", &kc);
            c
        },
        None,
    )
    .await;
    assert_fails(&r, 1, "Secret apps/db-creds has no key \"user\" (keys: password)");

    // No kubeconfig anywhere (HOME is empty of it): a configuration error naming what was tried.
    let r = e.run(&["secret", "get", "k8s://apps/db-creds#password"]).await;
    assert_fails(&r, 2, "k8s://apps/db-creds#password: no Kubernetes configuration found");
    let r = e.run(&["secret", "get", "bw://GitHub#password"]).await;
    assert_fails(
        &r,
        2,
        "bw://GitHub#password: no Vaultwarden server: set [vault] vaultwarden_server",
    );
    let r = e.run(&["secret", "get", "env://NOT_SET_ANYWHERE"]).await;
    assert_fails(
        &r,
        1,
        "env://NOT_SET_ANYWHERE: environment variable NOT_SET_ANYWHERE is not set",
    );
    for bad in [
        "vault://secret/app/db",
        "op://x/y/z",
        "k8s://Apps/x#k",
        "vault://secret/a b#k",
        "",
    ] {
        let r = e.run(&["secret", "get", bad]).await;
        assert_fails(&r, 2, "invalid reference");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_renders_all_or_nothing() {
    let e = Env::new().await;
    let dir = e.home.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let tpl = e.home.path().join("app.env.tpl");
    std::fs::write(
        &tpl,
        "PASSWORD={{ vault://secret/app/db#password }}\nUSER={{vault://secret/app/db#user}}\nHELM={{ .Values.x }}\nLIT=\\{{ env://X }}\n",
    )
    .unwrap();
    let out = dir.join("app.env");
    let r = e
        .run(&[
            "secret",
            "inject",
            "-i",
            tpl.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .await;
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("PASSWORD={CANARY}\nUSER=app\nHELM={{{{ .Values.x }}}}\nLIT={{{{ env://X }}}}\n")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    // Both keys of one path: one read.
    assert_eq!(e.vault.requests().len(), 1);

    // stdin → stdout.
    let r = e
        .run_stdin(&["secret", "inject"], "a={{ vault://secret/app/db#user }}")
        .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "a=app"));

    // One missing key fails the whole render: nothing written, the old file untouched,
    // no temporary file left behind.
    std::fs::write(
        &tpl,
        "A={{ vault://secret/app/db#password }}\nB={{ vault://secret/app/db#missing }}\n",
    )
    .unwrap();
    let r = e
        .run(&[
            "secret",
            "inject",
            "-i",
            tpl.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .await;
    assert_fails(
        &r,
        1,
        "vault://secret/app/db#missing: secret/app/db has no key \"missing\"",
    );
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("PASSWORD="));
    let new_out = dir.join("never.env");
    let r = e
        .run(&[
            "secret",
            "inject",
            "-i",
            tpl.to_str().unwrap(),
            "-o",
            new_out.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 1);
    assert!(!new_out.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "leftover files in {}",
        dir.display()
    );
    let r = e
        .run_stdin(
            &["secret", "inject"],
            "A={{ vault://secret/app/db#password }} B={{ env://NOPE_NOT_SET }}",
        )
        .await;
    assert_fails(&r, 1, "env://NOPE_NOT_SET");

    // Syntax errors name the position; unknown schemes are errors, not text.
    let r = e
        .run_stdin(&["secret", "inject"], "x\n  {{ vualt://secret/a#k }}")
        .await;
    assert_fails(
        &r,
        2,
        "template line 2, column 3: invalid reference \"vualt://secret/a#k\": unknown scheme",
    );
    let r = e
        .run_stdin(&["secret", "inject", "-o", "/nonexistent-dir/x"], "a={{ env://HOME }}")
        .await;
    assert_fails(&r, 1, "cannot create a temporary file next to /nonexistent-dir/x");
}

/// Every command at -vv with the canary: the value appears only on stdout where asked for,
/// never on stderr, in a log line, an error or a child's argv.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_canary_at_debug_log_level() {
    let e = Env::new().await;
    let tpl = e.home.path().join("t.tpl");
    std::fs::write(&tpl, "{{ vault://secret/app/db#password }}").unwrap();
    let out = e.home.path().join("t.out");
    let cases: Vec<(Vec<&str>, Option<&str>, bool)> = vec![
        (
            vec!["vault", "kv", "get", "secret/app/db", "--field", "password"],
            None,
            true,
        ),
        (vec!["vault", "kv", "get", "secret/app/db"], None, true),
        (vec!["vault", "kv", "list", "secret/app"], None, false),
        (vec!["vault", "kv", "put", "secret/app/db", "copy"], Some(CANARY), false),
        (
            vec!["vault", "kv", "put", "secret/app/forbidden-to-nobody", "k"],
            Some(CANARY),
            false,
        ),
        (vec!["secret", "get", "vault://secret/app/db#password"], None, true),
        (vec!["secret", "get", "vault://secret/app/db#nope"], None, false),
        (
            vec![
                "secret",
                "inject",
                "-i",
                tpl.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            None,
            false,
        ),
        (vec!["secret", "inject", "-i", tpl.to_str().unwrap()], None, true),
    ];
    for (args, stdin, value_on_stdout) in cases {
        let mut full = vec!["-vv"];
        full.extend(&args);
        let r = match stdin {
            Some(s) => e.run_stdin(&full, s).await,
            None => e.run(&full).await,
        };
        assert!(
            r.stderr.contains("DEBUG"),
            "{args:?}: -vv logged nothing:\n{}",
            r.stderr
        );
        assert_clean_stderr(&r);
        assert_eq!(r.stdout.contains(CANARY), value_on_stdout, "{args:?}: {}", r.stdout);
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), CANARY);
    // The failing paths too, with a wrong token and a dead address.
    let mut c = e.cmd(&["-vv", "secret", "get", "vault://secret/app/db#password"]);
    c.env("VAULT_TOKEN", OWN_TOKEN.replace("own", "bad"));
    let r = run_async(c, None).await;
    assert_eq!(r.code, 1);
    assert_clean_stderr(&r);
    assert!(!r.stderr.contains("bad-token-canary"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------
// Terminal rules, driven through real pseudo-terminals.

use homelab_testkit::pty;

/// [`pty::run_on_pty`] on a blocking thread.
async fn run_on_pty(c: std::process::Command, stderr_tty: bool) -> pty::PtyRun {
    tokio::task::spawn_blocking(move || pty::run_on_pty(c, stderr_tty))
        .await
        .unwrap()
}

/// `(pid, argv)` of every process we can see.
fn processes() -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
        .collect()
}

fn b64(s: &str) -> String {
    // Tiny encoder for the assertion (the product uses the base64 crate).
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_terminal_gets_osc52_and_a_detached_clear() {
    let e = Env::new().await;
    for args in [
        &["vault", "kv", "get", "secret/app/db", "--field", "password"][..],
        &["secret", "get", "vault://secret/app/db#password"][..],
    ] {
        let mut c = e.cmd(args);
        c.env("TERM", "xterm-kitty").env("VAULT_TOKEN", OWN_TOKEN);
        let r = run_on_pty(c, true).await;
        assert_eq!(r.code, 0, "{:?}", r.terminal);
        let osc = format!("\x1b]52;c;{}\x07", b64(CANARY));
        assert!(r.terminal.contains(&osc), "{:?}", r.terminal);
        assert!(
            r.terminal.contains("copied to clipboard; clearing in 30s"),
            "{:?}",
            r.terminal
        );
        // The value itself never reaches the terminal in clear text.
        assert!(!r.terminal.contains(CANARY), "{:?}", r.terminal);
    }
    // The clear child is running, with an argv that carries no secret and an environment
    // without the token; no process anywhere has the canary in its argv.
    let procs = processes();
    let clear: Vec<&(u32, String)> = procs.iter().filter(|(_, a)| a.contains("sleep 30; printf")).collect();
    assert!(!clear.is_empty(), "no clipboard-clear child found");
    for (pid, argv) in &clear {
        assert_eq!(argv.trim_end(), "sh -c sleep 30; printf '\\033]52;c;\\007' >&2");
        let environ =
            String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()).into_owned();
        assert!(!environ.contains(OWN_TOKEN) && !environ.contains(CANARY), "{environ}");
    }
    for (pid, argv) in &procs {
        for needle in [CANARY, OWN_TOKEN, SCOPED_TOKEN] {
            assert!(!argv.contains(needle), "process {pid} has a secret in argv: {argv}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_terminal_or_stderr_not_a_terminal_refuses() {
    let e = Env::new().await;
    let refusal = "refusing to print secret: this terminal can't do OSC52 clipboard safely; pipe the command (e.g. | cat) or use a supported terminal";
    for (term, stderr_tty) in [("xterm-256color", true), ("tmux-256color", false), ("", true)] {
        for args in [
            &["vault", "kv", "get", "secret/app/db", "--field", "password"][..],
            &["secret", "get", "vault://secret/app/db#password"][..],
        ] {
            let mut c = e.cmd(args);
            if !term.is_empty() {
                c.env("TERM", term);
            }
            let r = run_on_pty(c, stderr_tty).await;
            let text = format!("{}{}{}", r.terminal, r.stdout, r.stderr);
            assert_eq!(r.code, 1, "{term}: {text:?}");
            assert!(text.contains(refusal), "{term}: {text:?}");
            assert!(!text.contains(CANARY) && !text.contains(&b64(CANARY)), "{text:?}");
        }
    }
    // Refused before anything was fetched.
    assert!(e.vault.requests().is_empty());

    // Whole-data JSON and rendered templates never go to a terminal, even a known one.
    let mut c = e.cmd(&["vault", "kv", "get", "secret/app/db"]);
    c.env("TERM", "xterm-kitty");
    let r = run_on_pty(c, true).await;
    assert_eq!(r.code, 1);
    assert!(
        r.terminal.contains(
            "refusing to print all KV fields as JSON to a terminal; use --field <key>, or pipe it (e.g. | jq)"
        )
    );
    let mut c = e.cmd(&["secret", "inject", "-i", "/dev/null"]);
    c.env("TERM", "xterm-kitty");
    let r = run_on_pty(c, true).await;
    assert_eq!(r.code, 1);
    assert!(
        r.terminal
            .contains("refusing to print a rendered template with secrets to a terminal; use -o FILE")
    );
    assert!(e.vault.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_put_prompts_without_echo_on_a_terminal() {
    let e = Env::new().await;
    let c = e.cmd(&["vault", "kv", "put", "secret/app/db", "typed"]);
    let result = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut c = c;
        let mut pty = pty::Pty::open();
        c.stdin(pty.slave())
            .stderr(pty.slave())
            .stdout(std::process::Stdio::piped());
        let child = c.spawn().expect("spawn");
        drop(c);
        let prompt = pty.wait_for("Value for typed: ");
        pty.master.write_all(format!("{CANARY}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().expect("wait");
        (out.status.code(), prompt + &pty.drain_to_end())
    })
    .await
    .unwrap();
    let (code, terminal) = result;
    assert_eq!(code, Some(0), "{terminal:?}");
    assert!(terminal.contains("wrote typed to secret/app/db"), "{terminal:?}");
    assert!(!terminal.contains(CANARY), "the typed value was echoed: {terminal:?}");
    assert_eq!(e.vault.get("secret", "app/db").unwrap()["typed"], CANARY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_does_not_wait_for_a_template_typed_at_a_terminal() {
    let e = Env::new().await;
    let c = e.cmd(&["secret", "inject", "-o", "/dev/null"]);
    let r = tokio::task::spawn_blocking(move || {
        let mut c = c;
        let pty = pty::Pty::open();
        c.stdin(pty.slave());
        let r = run(c);
        drop(pty);
        r
    })
    .await
    .unwrap();
    assert_fails(&r, 2, "no template: pass -i TEMPLATE or pipe it on stdin");
}
