//! The command context: what every `homelab` verb shares instead of building its own —
//! the config (loaded once, lazily, so a verb checks its own arguments first), ONE tokio
//! runtime with an overall deadline, the stdout writer, the atomic file writer, and the
//! secret verbs' shared steps (core dumps off, refuse early, emit a value). The other binaries use [`runtime`] too.

use std::cell::OnceCell;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use homelab_core::secret::SecretString;
use homelab_core::secret::output::{self, Emission, REFUSE_SECRET, TerminalFacts};
use homelab_vault::emit::{ClipboardClear, emit_secret};

use crate::config::{self, Config};
use crate::exit;
use crate::fail::{self, Failure};

/// Process-wide setup every binary does first: the rustls crypto provider (`ring`),
/// installed once here rather than discovered by whichever library builds a TLS client
/// first. [`Ctx::new`] and [`runtime`] call it, so every binary has it before any client
/// exists. Idempotent.
pub fn init() {
    homelab_k8s::ensure_crypto_provider();
}

/// The one runtime every binary uses: multi-threaded with two workers (the machines are
/// small; the work is I/O-bound). Calls [`init`].
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// What a `homelab` verb runs with.
#[derive(Debug, Default)]
pub struct Ctx {
    config: OnceCell<Result<Config, String>>,
    runtime: OnceCell<tokio::runtime::Runtime>,
}

impl Ctx {
    /// The context of one `homelab` run; calls [`init`].
    pub fn new() -> Self {
        init();
        Self::default()
    }

    /// The config file (`homelab_cli::config`), loaded on first use; a broken file fails
    /// with `code`.
    pub fn config(&self, code: u8) -> Result<&Config, Failure> {
        self.config
            .get_or_init(|| config::load().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| Failure::new(code, anyhow!("{e}")))
    }

    /// Runs `f` to completion on the runtime (built on first use; a failure to build it
    /// fails with `code`).
    pub fn block_on<F: Future>(&self, code: u8, f: F) -> Result<F::Output, Failure> {
        let rt = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = runtime().map_err(|e| Failure::new(code, anyhow!("cannot start the async runtime: {e}")))?;
                self.runtime.get_or_init(|| rt)
            }
        };
        Ok(rt.block_on(f))
    }

    /// [`Ctx::block_on`] bounded by `limit`: past it, `no answer within N s` with `code`.
    pub fn block_on_within<T>(
        &self,
        code: u8,
        limit: Duration,
        f: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        self.block_on(code, async {
            tokio::time::timeout(limit, f)
                .await
                .unwrap_or_else(|_| Err(Failure::new(code, anyhow!("no answer within {} s", limit.as_secs()))))
        })?
    }
}

/// The wall clock in Unix seconds: the one place a `homelab` verb reads it (core takes
/// `now` as an argument). A clock before 1970 is an error, not a date: decisions that
/// depend on today (exemption expiry, `--new-since 7d`) must not run on a wrong one.
pub fn unix_now() -> anyhow::Result<i64> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| anyhow!("system clock before 1970: {e}"))?
        .as_secs();
    Ok(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// How long a command waits on its backends (Vault, the cluster, the database) overall.
pub const OVERALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes `text` to stdout and flushes. The caller decides what a failure means: a
/// closed stdout (`| head`) is never a panic.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// [`write_stdout`], a failure being `cannot write to stdout: …` with `code`.
pub fn print(text: &str, code: u8) -> Result<(), Failure> {
    write_stdout(text).map_err(|e| Failure::new(code, anyhow!("cannot write to stdout: {e}")))
}

/// The permissions of a file written by [`write_atomic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Owner read/write only (secrets).
    Private,
    /// What a plain create gives: 0666 less the umask.
    Default,
}

/// Writes `bytes` to `path` through a temporary file in the same directory: write, fsync,
/// rename. Readers never see a partial file; on failure the temporary file is removed.
/// Errors are one line naming the step and the path.
///
/// What is at `path` decides where the bytes go: a symlink is followed (its target is
/// replaced atomically, the link stays; a dangling link is an error), and a device, FIFO
/// or socket is never replaced by a regular file (as root, `-o /dev/null` would otherwise
/// turn the device node into a file holding the secret): that is refused.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: FileMode) -> anyhow::Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let fail = |what: &str, e: &dyn std::fmt::Display| anyhow!("cannot {what} {}: {e}", path.display());
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).map_err(|e| fail("follow the symlink", &e))?
        }
        _ => path.to_path_buf(),
    };
    if let Ok(m) = std::fs::metadata(&target) {
        let t = m.file_type();
        if t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket() {
            return Err(anyhow!("refusing to replace {}: not a regular file", path.display()));
        }
    }
    let path = target.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".homelab-");
    // tempfile creates 0600 by default; the open(2) mode is subject to the umask.
    if mode == FileMode::Default {
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| fail("create a temporary file next to", &e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", &e))?;
    tmp.persist(path)
        .map_err(|e| fail("rename the temporary file to", &e.error))?;
    Ok(())
}

/// Fails before fetching anything when the output rules would refuse a single secret
/// value anyway (`vault kv get --field`, `vault get`, `vault code`, `secret get`).
pub fn refuse_early(facts: &TerminalFacts) -> Result<(), Failure> {
    if output::decide(facts) == Emission::Refuse {
        return Err(Failure::new(exit::secrets::FAILED, anyhow!(REFUSE_SECRET)));
    }
    Ok(())
}

/// Writes one secret per the output rules (stdout when piped, the clipboard on a known
/// terminal, otherwise a refusal).
pub fn emit(value: &SecretString, facts: &TerminalFacts) -> Result<(), Failure> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    emit_secret(value, facts, &mut out, &mut err, ClipboardClear::default()).map_err(fail::secret)?;
    Ok(())
}

/// Core dumps off before any secret is in memory (best effort; a failure is logged).
pub fn harden() {
    if let Err(e) = homelab_vault::hardening::disable_core_dumps() {
        tracing::warn!("cannot disable core dumps: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn atomic_writes_replace_and_leave_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.json");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new", FileMode::Private).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let q = d.path().join("wide.json");
        write_atomic(&q, b"x", FileMode::Default).unwrap();
        assert_ne!(std::fs::metadata(&q).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let e = write_atomic(Path::new("/nonexistent-dir/x"), b"x", FileMode::Private).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot create a temporary file next to /nonexistent-dir/x: "),
            "{e}"
        );
        // A directory in the way: the rename fails and the temporary file goes.
        let dir_in_the_way = d.path().join("sub");
        std::fs::create_dir(&dir_in_the_way).unwrap();
        std::fs::write(dir_in_the_way.join("f"), "x").unwrap();
        let e = write_atomic(&dir_in_the_way, b"x", FileMode::Private).unwrap_err();
        assert!(e.to_string().starts_with("cannot rename the temporary file to "), "{e}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 3);
    }

    #[test]
    fn atomic_writes_follow_symlinks_and_never_replace_special_files() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.env");
        std::fs::write(&real, "old").unwrap();
        let link = d.path().join("link.env");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", FileMode::Private).unwrap();
        assert!(
            std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
            "the link stays"
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("missing/x"), &dangling).unwrap();
        let e = write_atomic(&dangling, b"x", FileMode::Private).unwrap_err();
        assert!(e.to_string().starts_with("cannot follow the symlink "), "{e}");
        // A socket node (and a symlink to it) stands for devices and FIFOs here, so that a
        // regression cannot clobber a real device: refused, left as it is.
        let socket = d.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let socket_link = d.path().join("sock-link");
        std::os::unix::fs::symlink(&socket, &socket_link).unwrap();
        for p in [&socket, &socket_link] {
            let e = write_atomic(p, b"secret", FileMode::Private).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("refusing to replace {}: not a regular file", p.display())
            );
        }
        assert!(std::os::unix::fs::FileTypeExt::is_socket(
            &std::fs::metadata(&socket).unwrap().file_type()
        ));
        // Nothing was left behind beside the files the test made.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 5);
    }

    #[test]
    fn the_runtime_is_built_once_and_deadlines_name_the_limit() {
        let ctx = Ctx::new();
        assert_eq!(ctx.block_on(9, async { 1 }).unwrap(), 1);
        let e = ctx
            .block_on_within(7, Duration::from_millis(10), async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .unwrap_err();
        assert_eq!(e.code, 7);
        assert_eq!(e.error.to_string(), "no answer within 0 s");
    }
}
