//! Process hardening and serialisation for the secret verbs: no core dumps, one
//! per-user lock around `bw` state, and the privacy-preserving op-log.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use homelab_core::vaultwarden::OpRecord;

/// Sets `RLIMIT_CORE` to 0 (soft and hard) so a crash can never write process memory —
/// decrypted secrets included — to disk. Call before touching any secret.
pub fn disable_core_dumps() -> io::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(io::Error::from)
}

/// The caller's kernel UID: the identity of every per-user resource.
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The per-user runtime directory (tmpfs): `$XDG_RUNTIME_DIR`, else `/run/user/<uid>`.
pub fn runtime_dir(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(format!("/run/user/{uid}")),
    }
}

/// An exclusive per-user lock (`flock` on `<runtime dir>/homelab-vault.lock`, mode 0600).
/// Serialises `bw` state changes (login, unlock, sync, lock) across concurrent sessions of
/// the same user. Released when dropped.
#[derive(Debug)]
pub struct UserLock {
    _file: File,
    path: PathBuf,
}

impl UserLock {
    /// Blocks until the lock is ours.
    pub fn acquire(runtime_dir: &Path) -> io::Result<UserLock> {
        let path = runtime_dir.join("homelab-vault.lock");
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("open lock {}: {e}", path.display())))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("lock {}: {e}", path.display())))?;
        Ok(UserLock { _file: file, path })
    }

    /// Takes the lock only if nobody holds it.
    pub fn try_acquire(runtime_dir: &Path) -> io::Result<Option<UserLock>> {
        let path = runtime_dir.join("homelab-vault.lock");
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(UserLock { _file: file, path })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `/proc/<pid>/comm`, trimmed; empty when unreadable.
pub fn process_comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The parent's PID (0 when unknown).
pub fn parent_pid() -> u32 {
    rustix::process::getppid()
        .map(|p| p.as_raw_nonzero().get() as u32)
        .unwrap_or(0)
}

/// Builds the op-log record for this process.
pub fn op_record(user: &str, verb: &'static str, item_name: &str) -> OpRecord {
    let ppid = parent_pid();
    OpRecord {
        user: user.to_owned(),
        verb,
        pid: std::process::id(),
        ppid,
        parent_comm: process_comm(ppid),
        item_name: item_name.to_owned(),
    }
}

/// Syslog tag of the op-log.
pub const OPLOG_TAG: &str = "homelab-vault";
/// Syslog tag of the TOTP-fetch marker (alerting routes it on its own).
pub const TOTP_TAG: &str = "homelab-vault-totp";

/// Writes the op-log line to syslog with `logger -t homelab-vault` — best effort: a
/// missing `logger` or syslog never blocks a read. Returns whether it was written.
pub fn write_op_log(record: &OpRecord) -> bool {
    logger(OPLOG_TAG, &record.line())
}

/// Writes the TOTP marker (`logger -t homelab-vault-totp`), best effort.
pub fn write_totp_marker(record: &OpRecord) -> bool {
    logger(TOTP_TAG, &record.totp_marker())
}

fn logger(tag: &str, line: &str) -> bool {
    Command::new("logger")
        .args(["-t", tag, "--", line])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let held = UserLock::acquire(dir.path()).unwrap();
        assert!(UserLock::try_acquire(dir.path()).unwrap().is_none());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(held.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(held);
        assert!(UserLock::try_acquire(dir.path()).unwrap().is_some());
    }

    #[test]
    fn core_dumps_off() {
        disable_core_dumps().unwrap();
        let l = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!(l.current, Some(0));
        assert_eq!(l.maximum, Some(0));
    }

    #[test]
    fn own_comm_is_readable() {
        assert!(!process_comm(std::process::id()).is_empty());
        assert_eq!(process_comm(u32::MAX), "");
    }
}
