//! The real process runner against a fake `bw` on PATH: argv, the child's environment,
//! trimming, errors and the deadline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use homelab_core::secret::SecretString;
use homelab_core::vaultwarden::Field;
use homelab_vault::vaultwarden::{Creds, CredsStore, ProcessRunner, Vaultwarden, VaultwardenError, appdata_dir};

struct Store(Creds);
impl CredsStore for Store {
    fn read_creds(&self) -> Result<Option<Creds>, VaultwardenError> {
        Ok(Some(self.0.clone()))
    }
    fn write_creds(&self, _: &Creds) -> Result<(), VaultwardenError> {
        Ok(())
    }
}

const MASTER: &str = "  master canary with spaces  ";
const SECRET: &str = "client-secret-canary";

fn setup() -> (tempfile::TempDir, Vaultwarden<ProcessRunner, Store>) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fake-bw");
    std::os::unix::fs::symlink(fake, bin.join("bw")).unwrap();
    let state = dir.path().join("home/.fake-bw");
    std::fs::create_dir_all(state.join("items/bank")).unwrap();
    std::fs::write(state.join("apikey"), format!("user.1 {SECRET}")).unwrap();
    std::fs::write(state.join("master"), MASTER).unwrap();
    std::fs::write(state.join("items/bank/password"), "  pw with spaces  \n").unwrap();
    let vw = Vaultwarden {
        runner: ProcessRunner::default(),
        creds: Store(Creds {
            email: "a@example.org".into(),
            client_id: "user.1".into(),
            master_password: SecretString::new(MASTER.into()),
            client_secret: SecretString::new(SECRET.into()),
        }),
        server_url: "https://vw.example.org".into(),
        appdata: appdata_dir(&dir.path().join("run")),
        home: dir.path().join("home").to_string_lossy().into_owned(),
        path: Some(format!("{}:/usr/bin:/bin", bin.display())),
    };
    (dir, vw)
}

fn state(dir: &tempfile::TempDir, file: &str) -> String {
    std::fs::read_to_string(dir.path().join("home/.fake-bw").join(file)).unwrap_or_default()
}

#[test]
fn full_session_through_a_real_child() {
    let (dir, vw) = setup();
    let s = vw.open_session().unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let pw = vw.get(&s, Field::Password, "bank").unwrap();
    assert_eq!(pw.expose(), "  pw with spaces  ", "only the trailing newline goes");
    assert_eq!(state(&dir, "server").trim(), "https://vw.example.org");

    let calls = state(&dir, "calls.log");
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "config server https://vw.example.org",
            "status",
            "login --apikey",
            "unlock --passwordenv BW_PASSWORD --raw",
            "sync",
            "get password bank"
        ]
    );
    assert!(!calls.contains("canary"));
    // Each child saw only our variables (a shell adds PWD and friends on its own).
    let env_log = state(&dir, "env.log");
    for block in env_log.split("--- ").filter(|b| !b.is_empty()) {
        let names: Vec<&str> = block
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| !matches!(*k, "PWD" | "OLDPWD" | "SHLVL" | "_"))
            .collect();
        for n in &names {
            assert!(
                matches!(
                    *n,
                    "PATH"
                        | "HOME"
                        | "BITWARDENCLI_APPDATA_DIR"
                        | "BW_NOINTERACTION"
                        | "BW_CLIENTID"
                        | "BW_CLIENTSECRET"
                        | "BW_PASSWORD"
                        | "BW_SESSION"
                ),
                "unexpected variable {n} in {block}"
            );
        }
        assert!(names.contains(&"BW_PASSWORD"));
    }
    assert!(!env_log.contains("CARGO"), "the parent environment leaked into bw");
}

#[test]
fn errors_carry_bw_message_and_never_secrets() {
    let (dir, mut vw) = setup();
    std::fs::write(dir.path().join("home/.fake-bw/master"), "something else").unwrap();
    let e = vw.open_session().unwrap_err().to_string();
    assert_eq!(
        e,
        "bw unlock failed (wrong master password? run `homelab vault setup`): bw unlock: exit status 1: Invalid master password."
    );
    vw.runner.program = PathBuf::from("bw-does-not-exist");
    let e = vw.open_session().unwrap_err().to_string();
    assert!(e.contains("not found on PATH"), "{e}");
}

#[test]
fn sync_failure_warns_and_a_hang_times_out() {
    let (dir, mut vw) = setup();
    std::fs::write(dir.path().join("home/.fake-bw/sync-fails"), "").unwrap();
    let s = vw.open_session().unwrap();
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].ends_with("getaddrinfo ENOTFOUND vaultwarden"),
        "{:?}",
        s.warnings
    );
    std::fs::write(dir.path().join("home/.fake-bw/hang"), "").unwrap();
    vw.runner.timeout = Duration::from_millis(300);
    let e = vw.open_session().unwrap_err().to_string();
    assert!(e.contains("timed out"), "{e}");
}
