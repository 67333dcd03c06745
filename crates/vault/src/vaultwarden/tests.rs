use std::cell::RefCell;
use std::collections::HashMap;

use super::*;

/// One recorded call: argv, env names, secret env values.
type Call = (Vec<String>, Vec<String>, Vec<(String, String)>);

/// A scripted `bw`: answers by verb, records argv and the environment it was given.
#[derive(Default)]
struct Script {
    answers: HashMap<&'static str, Result<&'static str, &'static str>>,
    calls: RefCell<Vec<Call>>,
}

impl BwRunner for Script {
    fn run(&self, cmd: &BwCommand, env: &ChildEnv) -> Result<SecretString, BwError> {
        let argv = cmd.argv();
        let exposed = env
            .secret
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect();
        self.calls.borrow_mut().push((
            argv.clone(),
            env.names().iter().map(|s| s.to_string()).collect(),
            exposed,
        ));
        let key: &str = match argv[0].as_str() {
            "get" if argv[1] == "item" => "get item",
            v => v,
        };
        let key = self.answers.keys().find(|k| **k == key).copied();
        match key.and_then(|k| self.answers.get(k)) {
            Some(Ok(out)) => Ok(SecretString::new((*out).to_owned())),
            Some(Err(e)) => Err(BwError::Failed {
                verb: argv[0].clone(),
                status: "exit status 1".into(),
                detail: format!(": {e}"),
            }),
            None => Ok(SecretString::default()),
        }
    }
}

struct Store(Option<Creds>);

impl CredsStore for Store {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        Ok(self.0.clone())
    }
    fn write_creds(&self, _: &Creds) -> Result<(), VaultwardenError> {
        Ok(())
    }
}

fn creds() -> Creds {
    Creds {
        email: "alice@example.org".into(),
        client_id: "user.1234".into(),
        master_password: SecretString::new("master-canary".into()),
        client_secret: SecretString::new("client-secret-canary".into()),
    }
}

fn client(script: Script, creds: Option<Creds>) -> (Vaultwarden<Script, Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let vw = Vaultwarden {
        runner: script,
        creds: Store(creds),
        server_url: "https://vw.example.org".into(),
        appdata: appdata_dir(dir.path()),
        home: "/home/alice".into(),
        path: Some("/usr/bin".into()),
    };
    (vw, dir)
}

fn verbs(vw: &Vaultwarden<Script, Store>) -> Vec<String> {
    vw.runner.calls.borrow().iter().map(|(a, _, _)| a.join(" ")).collect()
}

#[test]
fn session_order_and_environment() {
    let mut s = Script::default();
    s.answers.insert("status", Ok(r#"{"status":"unauthenticated"}"#));
    s.answers.insert("unlock", Ok("session-canary\n"));
    s.answers.insert("get", Ok("pw-canary"));
    let (vw, _dir) = client(s, Some(creds()));
    let session = vw.open_session().unwrap();
    assert!(session.warnings.is_empty());
    let v = vw.get(&session, Field::Password, "bank").unwrap();
    assert_eq!(v.expose(), "pw-canary");
    assert_eq!(
        verbs(&vw),
        [
            "config server https://vw.example.org",
            "status",
            "login --apikey",
            "unlock --passwordenv BW_PASSWORD --raw",
            "sync",
            "get password bank",
        ]
    );
    let calls = vw.runner.calls.borrow();
    // Before unlock: the base four plus the three creds; after: plus the session.
    assert_eq!(
        calls[0].1,
        [
            "PATH",
            "HOME",
            "BITWARDENCLI_APPDATA_DIR",
            "BW_NOINTERACTION",
            "BW_CLIENTID",
            "BW_CLIENTSECRET",
            "BW_PASSWORD"
        ]
    );
    assert_eq!(calls[5].1.last().unwrap(), "BW_SESSION");
    assert!(
        calls[5]
            .2
            .iter()
            .any(|(k, v)| k == "BW_SESSION" && v == "session-canary\n")
    );
    for (argv, _, _) in calls.iter() {
        let joined = argv.join(" ");
        assert!(!joined.contains("canary"), "a secret reached argv: {joined}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&vw.appdata).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn locked_vault_skips_login_and_sync_failure_is_a_warning() {
    let mut s = Script::default();
    s.answers.insert("status", Ok(r#"{"status":"locked"}"#));
    s.answers.insert("unlock", Ok("sess"));
    s.answers.insert("sync", Err("connection refused"));
    let (vw, _dir) = client(s, Some(creds()));
    let session = vw.open_session().unwrap();
    assert!(!verbs(&vw).iter().any(|v| v.starts_with("login")));
    assert_eq!(session.warnings.len(), 1);
    assert!(session.warnings[0].starts_with("homelab vault: warning: bw sync failed; using cached vault"));
}

#[test]
fn not_configured_runs_no_bw() {
    for c in [None, Some(Creds::default())] {
        let (vw, _dir) = client(Script::default(), c);
        let e = vw.open_session().unwrap_err().to_string();
        assert_eq!(e, "vault not configured for this user — run `homelab vault setup`");
        assert!(verbs(&vw).is_empty());
    }
}

#[test]
fn unlock_and_login_failures_say_what_to_do() {
    let mut s = Script::default();
    s.answers.insert("status", Ok("{}"));
    s.answers.insert("login", Err("Invalid API key"));
    let (vw, _dir) = client(s, Some(creds()));
    let e = vw.open_session().unwrap_err().to_string();
    assert!(
        e.starts_with("bw login --apikey failed (API key valid? run `homelab vault setup`)"),
        "{e}"
    );

    let mut s = Script::default();
    s.answers.insert("status", Ok(r#"{"status":"locked"}"#));
    s.answers.insert("unlock", Err("Invalid master password."));
    let (vw, _dir) = client(s, Some(creds()));
    let e = vw.open_session().unwrap_err().to_string();
    assert!(e.starts_with("bw unlock failed (wrong master password?"), "{e}");
    assert!(e.ends_with("Invalid master password."), "{e}");
}

#[test]
fn status_summaries() {
    let (vw, _dir) = client(Script::default(), None);
    assert_eq!(vw.status(), Status::NotConfigured);

    let mut s = Script::default();
    s.answers.insert("status", Ok(r#"{"status":"locked"}"#));
    s.answers.insert("unlock", Ok("sess"));
    s.answers.insert("sync", Err("getaddrinfo ENOTFOUND"));
    let (vw, _dir) = client(s, Some(creds()));
    match vw.status() {
        Status::SyncFailed(e) => assert!(e.contains("ENOTFOUND"), "{e}"),
        other => panic!("{other:?}"),
    }

    let mut s = Script::default();
    s.answers.insert("status", Ok(r#"{"status":"locked"}"#));
    s.answers.insert("unlock", Ok("sess"));
    let (vw, _dir) = client(s, Some(creds()));
    assert_eq!(vw.status(), Status::Ok);
    assert_eq!(verbs(&vw).iter().filter(|v| *v == "sync").count(), 2);
}

#[test]
fn lock_uses_no_secrets() {
    let mut s = Script::default();
    s.answers.insert("logout", Err("You are not logged in."));
    let (vw, _dir) = client(s, Some(creds()));
    assert!(!vw.lock());
    let calls = vw.runner.calls.borrow();
    assert_eq!(calls.len(), 2);
    for (argv, names, secrets) in calls.iter() {
        assert!(secrets.is_empty(), "{argv:?}");
        assert_eq!(names.len(), 4);
    }
}

#[test]
fn debug_never_shows_values() {
    let c = creds();
    let shown = format!("{c:?}");
    assert!(!shown.contains("canary") && !shown.contains("alice"), "{shown}");
    let mut env = ChildEnv::base(&[("PATH".into(), "/bin".into())]);
    env.push_secret("BW_PASSWORD", SecretString::new("pw-canary".into()));
    assert_eq!(format!("{env:?}"), r#"["PATH", "BW_PASSWORD"]"#);
    assert_eq!(env.scrub("bad password pw-canary!"), "bad password [redacted]!");
}
