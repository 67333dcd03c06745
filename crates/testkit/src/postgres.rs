//! [`TempPostgres`], a throwaway PostgreSQL server in a temporary directory, for tests and
//! benchmarks.
//!
//! It needs the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`, `createdb`;
//! Debian package `postgresql`), found in `$PG_BIN`, then `PATH`, then
//! `/usr/lib/postgresql/<version>/bin` (newest version first). PostgreSQL refuses to run as
//! root, so when the effective uid is 0 the server runs as the `postgres` OS user (created by
//! the Debian package) through `setpriv` (or `runuser`), and the temporary directory is
//! handed to that user.
//!
//! A test that needs PostgreSQL calls [`TempPostgres::available_or_skip`] first: it
//! **fails** when the server binaries are missing, unless the developer skips PostgreSQL
//! on purpose with [`SKIP_ENV`]`=1` (the test then prints `SKIPPED <test>: …` and
//! returns). A missing server never makes a test pass silently.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use homelab_testkit::postgres::TempPostgres;
//! if !TempPostgres::available_or_skip("my_test") {
//!     return Ok(());
//! }
//! let pg = TempPostgres::start()?; // initdb + start + CREATE DATABASE goldmane_edges
//! let url = pg.url(); // postgres://postgres@127.0.0.1:<port>/goldmane_edges
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// The database every [`TempPostgres`] creates (the production database's name).
pub const DATABASE: &str = "goldmane_edges";

/// The superuser role (trust authentication, no password).
pub const SUPERUSER: &str = "postgres";

/// Bound on each wait for the server (start, stop) and on each helper command (generous:
/// a `pg_ctl stop -m fast` took over 30 s on this 2-vCPU VM under a parallel build).
pub const WAIT: Duration = Duration::from_secs(90);

/// Set to `1` to skip the PostgreSQL tests on purpose (they fail when PostgreSQL is
/// missing otherwise).
pub const SKIP_ENV: &str = "HOMELAB_SKIP_POSTGRES";

const PG_ENV: [&str; 12] = [
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSSLMODE",
    "PGOPTIONS",
    "PGTARGETSESSIONATTRS",
];

/// Why a temporary server could not be set up or driven.
#[derive(Debug, Error)]
#[error("temporary PostgreSQL: {0}")]
pub struct TempPostgresError(String);

fn err(msg: impl Into<String>) -> TempPostgresError {
    TempPostgresError(msg.into())
}

#[derive(Debug, Clone)]
enum Switch {
    Setpriv(PathBuf),
    Runuser(PathBuf),
}

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone)]
struct OsUser {
    name: String,
    uid: u32,
    gid: u32,
    switch: Switch,
}

/// A throwaway PostgreSQL server: listens on 127.0.0.1 at a free port (Unix socket in its
/// temporary directory), trust authentication, database [`DATABASE`] created. Dropping it
/// stops the server (immediate shutdown) and removes the directory.
#[derive(Debug)]
pub struct TempPostgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<OsUser>,
    running: bool,
}

impl TempPostgres {
    /// The directory holding `initdb` and `pg_ctl`: `$PG_BIN`, then `PATH` (following a
    /// `pg_ctl` symlink to its real directory), then `/usr/lib/postgresql/*/bin`, newest
    /// version first.
    pub fn bin_dir() -> Option<PathBuf> {
        let mut candidates = Vec::new();
        if let Some(dir) = std::env::var_os("PG_BIN").filter(|v| !v.is_empty()) {
            candidates.push(PathBuf::from(dir));
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if let Ok(real) = fs::canonicalize(dir.join("pg_ctl"))
                    && let Some(parent) = real.parent()
                {
                    candidates.push(parent.to_path_buf());
                }
                candidates.push(dir);
            }
        }
        let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
                Some((version?, e.path().join("bin")))
            })
            .collect();
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
        candidates
            .into_iter()
            .find(|d| is_executable(&d.join("initdb")) && is_executable(&d.join("pg_ctl")))
    }

    /// Whether PostgreSQL server binaries are installed at all.
    pub fn is_available() -> bool {
        Self::bin_dir().is_some()
    }

    /// For tests: `true` when the test should run. With [`SKIP_ENV`]`=1` it prints a loud
    /// `SKIPPED <test>: …` line and returns `false` (skipped on purpose); otherwise it panics
    /// when the PostgreSQL server binaries are missing, so a missing server is a failure,
    /// never a silent pass.
    pub fn available_or_skip(test: &str) -> bool {
        if std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1") {
            let msg = format!("SKIPPED {test}: PostgreSQL tests skipped on purpose ({SKIP_ENV}=1)");
            eprintln!("{msg}");
            println!("{msg}");
            return false;
        }
        if Self::is_available() {
            return true;
        }
        panic!(
            "{test}: no PostgreSQL server binaries (initdb, pg_ctl) in $PG_BIN, PATH or /usr/lib/postgresql/*/bin \
             — install the Debian package `postgresql`, or set {SKIP_ENV}=1 to skip the PostgreSQL tests on purpose"
        );
    }

    /// initdb, start, create [`DATABASE`]. Default server settings (fsync on), so
    /// benchmarks measure real commits.
    pub fn start() -> Result<TempPostgres, TempPostgresError> {
        Self::start_with(&[])
    }

    /// Like [`TempPostgres::start`] with extra `postgresql.conf` settings
    /// (`&[("fsync", "off")]`); values are written quoted.
    pub fn start_with(settings: &[(&str, &str)]) -> Result<TempPostgres, TempPostgresError> {
        let bin = Self::bin_dir().ok_or_else(|| {
            err("no PostgreSQL server binaries (initdb, pg_ctl) in $PG_BIN, PATH or /usr/lib/postgresql/*/bin")
        })?;
        let run_as = if effective_uid()? == 0 {
            Some(postgres_user()?)
        } else {
            None
        };
        let root = make_root(run_as.as_ref())?;
        // From here on, Drop removes the directory (and stops the server).
        let mut pg = TempPostgres {
            root,
            bin,
            port: 0,
            run_as,
            running: false,
        };
        pg.initdb()?;
        let mut conf = String::from("\n# homelab TempPostgres\nlisten_addresses = '127.0.0.1'\n");
        // A Unix socket path is limited to ~107 bytes; without one pg_ctl still works.
        let sockets = if pg.root.as_os_str().len() < 80 {
            pg.root.to_string_lossy().into_owned()
        } else {
            String::new()
        };
        conf.push_str(&format!("unix_socket_directories = {}\n", quote(&sockets)));
        for (key, value) in settings {
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                return Err(err(format!("bad setting name {key:?}")));
            }
            conf.push_str(&format!("{key} = {}\n", quote(value)));
        }
        pg.append_conf(&conf)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            pg.port = free_port()?;
            pg.append_conf(&format!("port = {}\n", pg.port))?;
            match pg.start_server() {
                Ok(()) => break,
                Err(e) if attempt < 3 && pg.log_tail(20).contains("could not bind") => {
                    tracing::debug!(error = %e, "port taken, retrying");
                }
                Err(e) => return Err(e),
            }
        }
        pg.create_database(DATABASE)?;
        Ok(pg)
    }

    /// `postgres://postgres@127.0.0.1:<port>/goldmane_edges`.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database of this server.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (data directory in `data/`, log in `postgres.log`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the server binaries in use (`psql` is usually there too).
    pub fn bin_dir_in_use(&self) -> &Path {
        &self.bin
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Creates a database (name: lowercase letters, digits, `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, TempPostgresError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(err(format!("bad database name {name:?}")));
        }
        let createdb = [self.bin.join("createdb"), PathBuf::from("/usr/bin/createdb")]
            .into_iter()
            .find(|p| is_executable(p))
            .ok_or_else(|| err(format!("no createdb next to {}", self.bin.display())))?;
        let mut cmd = Command::new(createdb);
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", SUPERUSER, name]);
        self.run("createdb", cmd)?;
        Ok(self.url_for(name))
    }

    /// Stops the server (fast shutdown: connections are cut), keeping its data and port.
    pub fn stop(&mut self) -> Result<(), TempPostgresError> {
        if !self.running {
            return Ok(());
        }
        self.pg_ctl_stop("fast")?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again (same data, same port); stops it first if it runs.
    pub fn restart(&mut self) -> Result<(), TempPostgresError> {
        self.stop()?;
        self.start_server()
    }

    /// Turns TLS on with this server certificate and key (PEM) and restarts the server if
    /// it runs. Clients then need `sslmode` ≠ `disable` to use it.
    pub fn enable_tls(&mut self, cert_pem: &str, key_pem: &str) -> Result<(), TempPostgresError> {
        let data = self.data_dir();
        for (name, pem) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            f.write_all(pem.as_bytes())
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            self.give(&path)?;
        }
        self.append_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")?;
        if self.running { self.restart() } else { Ok(()) }
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn initdb(&self) -> Result<(), TempPostgresError> {
        let mut cmd = self.as_server_user(&self.bin.join("initdb"));
        cmd.arg("-D").arg(self.data_dir()).args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        self.run("initdb", cmd).map_err(|e| {
            if self.run_as.is_some() {
                err(format!(
                    "{e} (running as root: the server runs as the `postgres` user, which must be able to reach {})",
                    self.root.display()
                ))
            } else {
                e
            }
        })
    }

    fn start_server(&mut self) -> Result<(), TempPostgresError> {
        let mut cmd = self.as_server_user(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("postgres.log"))
            .args(["-w", "-t", &WAIT.as_secs().to_string(), "start"]);
        match self.run("pg_ctl start", cmd) {
            Ok(()) => {
                self.running = true;
                Ok(())
            }
            Err(e) => {
                // A server that came up after the wait is still ours to stop.
                self.running = self.data_dir().join("postmaster.pid").exists();
                Err(err(format!("{e}; server log:\n{}", self.log_tail(20))))
            }
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), TempPostgresError> {
        let mut cmd = self.as_server_user(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", &WAIT.as_secs().to_string(), "stop"]);
        self.run("pg_ctl stop", cmd)
    }

    fn append_conf(&self, text: &str) -> Result<(), TempPostgresError> {
        let path = self.data_dir().join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| err(format!("{}: {e}", path.display())))
    }

    /// Hands a file we created to the server's user.
    fn give(&self, path: &Path) -> Result<(), TempPostgresError> {
        match &self.run_as {
            Some(u) => std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid))
                .map_err(|e| err(format!("chown {}: {e}", path.display()))),
            None => Ok(()),
        }
    }

    /// A command for a server binary, run as the `postgres` user when we are root.
    fn as_server_user(&self, program: &Path) -> Command {
        let mut cmd = match &self.run_as {
            None => Command::new(program),
            Some(u) => {
                let mut cmd;
                match &u.switch {
                    Switch::Setpriv(setpriv) => {
                        cmd = Command::new(setpriv);
                        cmd.arg(format!("--reuid={}", u.uid))
                            .arg(format!("--regid={}", u.gid))
                            .arg("--clear-groups")
                            .arg("--");
                    }
                    Switch::Runuser(runuser) => {
                        cmd = Command::new(runuser);
                        cmd.args(["-u", &u.name, "--"]);
                    }
                }
                cmd.arg(program);
                cmd
            }
        };
        if self.run_as.is_some() {
            cmd.env("HOME", &self.root);
        }
        cmd
    }

    /// Runs a helper command to completion within [`WAIT`], output captured in a file (a
    /// pipe could be inherited by the daemonised server and never reach EOF).
    fn run(&self, what: &str, mut cmd: Command) -> Result<(), TempPostgresError> {
        let out_path = self.root.join(format!("{}.out", what.replace(' ', "-")));
        let out = File::create(&out_path).map_err(|e| err(format!("{}: {e}", out_path.display())))?;
        let out2 = out.try_clone().map_err(|e| err(format!("{what}: {e}")))?;
        for var in PG_ENV {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(out2)
            .current_dir(&self.root);
        let mut child = cmd
            .spawn()
            .map_err(|e| err(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
        let deadline = Instant::now() + WAIT + Duration::from_secs(5);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err(format!("{what}: no answer within {} s", WAIT.as_secs() + 5)));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(err(format!("{what}: {e}"))),
            }
        };
        if status.success() {
            return Ok(());
        }
        let output = fs::read_to_string(&out_path).unwrap_or_default();
        Err(err(format!("{what} failed ({status}): {}", output.trim())))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if self.running && self.pg_ctl_stop("immediate").is_err() {
            // Last resort: the postmaster's pid is the first line of postmaster.pid.
            if let Ok(pid) = fs::read_to_string(self.data_dir().join("postmaster.pid"))
                && let Some(pid) = pid.lines().next().filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| is_executable(p))
}

/// The effective uid, from `/proc/self/status` (else `id -u`).
fn effective_uid() -> Result<u32, TempPostgresError> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
        && let Some(euid) = line.split_whitespace().nth(2).and_then(|u| u.parse().ok())
    {
        return Ok(euid);
    }
    command_number("id", &["-u"]).ok_or_else(|| err("cannot tell the effective uid (no /proc, no `id`)"))
}

fn command_number(program: &str, args: &[&str]) -> Option<u32> {
    let out = Command::new(program).args(args).stderr(Stdio::null()).output().ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|_| out.status.success())
}

/// The `postgres` OS user and how to switch to it.
fn postgres_user() -> Result<OsUser, TempPostgresError> {
    let name = "postgres";
    let from_passwd = fs::read_to_string("/etc/passwd").ok().and_then(|passwd| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
    });
    let (uid, gid) = from_passwd
        .or_else(|| Some((command_number("id", &["-u", name])?, command_number("id", &["-g", name])?)))
        .ok_or_else(|| {
            err("running as root, but there is no `postgres` OS user to run the server as (the Debian package `postgresql` creates it)")
        })?;
    let switch = if let Some(p) = find_program("setpriv", &["/usr/bin/setpriv", "/bin/setpriv"]) {
        Switch::Setpriv(p)
    } else if let Some(p) = find_program("runuser", &["/usr/sbin/runuser", "/sbin/runuser"]) {
        Switch::Runuser(p)
    } else {
        return Err(err(
            "running as root, but neither `setpriv` nor `runuser` (util-linux) is installed",
        ));
    };
    Ok(OsUser {
        name: name.to_owned(),
        uid,
        gid,
        switch,
    })
}

/// A fresh private directory under the system temp dir (owned by the server's user).
fn make_root(run_as: Option<&OsUser>) -> Result<PathBuf, TempPostgresError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for _ in 0..100 {
        let dir = base.join(format!(
            "homelab-pg-{}-{}-{nanos:x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                let setup = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).and_then(|()| match run_as {
                    Some(u) => std::os::unix::fs::chown(&dir, Some(u.uid), Some(u.gid)),
                    None => Ok(()),
                });
                if let Err(e) = setup {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(err(format!("{}: {e}", dir.display())));
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err(format!("{}: {e}", dir.display()))),
        }
    }
    Err(err(format!("cannot create a directory in {}", base.display())))
}

fn free_port() -> Result<u16, TempPostgresError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| err(format!("no free port on 127.0.0.1: {e}")))
}
