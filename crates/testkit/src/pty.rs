//! Pseudo-terminals for tests of the terminal rules (no unsafe code).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

/// How long [`Pty::wait_for`] and [`Pty::drain_to_end`] wait before failing the test.
const PATIENCE: Duration = Duration::from_secs(20);

/// Written by [`Pty::drain_to_end`] behind everything else on the terminal.
const END_MARKER: &str = "\u{1}homelab-testkit-end-of-output\u{1}";

/// A pseudo-terminal: the controller side, and the path of the terminal side.
#[derive(Debug)]
pub struct Pty {
    pub master: File,
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a new pseudo-terminal (the controller side non-blocking).
    ///
    /// # Panics
    /// If the system has no pseudo-terminals to give.
    pub fn open() -> Pty {
        let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        rustix::io::ioctl_fionbio(&master, true).expect("non-blocking master");
        Pty {
            master: File::from(master),
            slave_path: PathBuf::from(name.to_str().expect("pty name is UTF-8")),
        }
    }

    /// A new handle on the terminal side (for a child's stdin/stdout/stderr).
    pub fn slave(&self) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.slave_path)
            .expect("open pty slave")
    }

    /// Reads what is available now, without waiting.
    pub fn drain(&mut self) -> String {
        let mut out = Vec::new();
        self.read_available(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Everything written to the terminal so far, for "nothing reached the terminal"
    /// assertions once the child has exited. Call it after `wait`: it writes a marker on the
    /// terminal side (behind everything the child wrote) and reads until the marker, or
    /// until EOF/EIO (every terminal-side handle closed), whichever comes first. A detached
    /// grandchild (the clipboard-clear child) may keep the terminal open for a long time,
    /// so neither a sleep nor EOF alone would do.
    ///
    /// # Panics
    /// After 20 s without the marker or EOF.
    pub fn drain_to_end(&mut self) -> String {
        // A write that fails means no handle on the terminal side is left open (the child is
        // gone): then EIO ends the read below.
        if let Ok(mut slave) = std::fs::OpenOptions::new().write(true).open(&self.slave_path) {
            slave.write_all(END_MARKER.as_bytes()).expect("write the end marker");
        }
        let start = Instant::now();
        let mut out = Vec::new();
        loop {
            if self.read_available(&mut out) {
                break;
            }
            let text = String::from_utf8_lossy(&out);
            if let Some(at) = text.find(END_MARKER) {
                return text[..at].to_owned();
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the terminal never reached its end; got {text:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        String::from_utf8_lossy(&out).replace(END_MARKER, "")
    }

    /// Reads until `needle` appears (or fails after 20 s).
    pub fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        let mut seen = String::new();
        while !seen.contains(needle) {
            assert!(
                start.elapsed() < PATIENCE,
                "no {needle:?} on the terminal; got {seen:?}"
            );
            seen.push_str(&self.drain());
            std::thread::sleep(Duration::from_millis(20));
        }
        seen
    }

    /// Appends what can be read now to `out`; `true` at EOF/EIO (every terminal-side handle
    /// is closed and everything was read).
    fn read_available(&mut self, out: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Linux answers EIO once the last terminal-side handle is closed.
                Err(_) => return true,
            }
        }
    }
}

/// What [`run_on_pty`] saw.
#[derive(Debug)]
pub struct PtyRun {
    pub code: i32,
    /// Everything that reached the terminal.
    pub terminal: String,
    /// The child's stdout when it was not the terminal (empty otherwise).
    pub stdout: String,
    /// The child's stderr when it was a pipe (empty when it was the terminal).
    pub stderr: String,
}

/// Runs `c` to completion with stdout on a new pseudo-terminal, and stderr on the same
/// terminal (`stderr_tty`) or a pipe; stdin is left as `c` has it.
pub fn run_on_pty(mut c: Command, stderr_tty: bool) -> PtyRun {
    let mut pty = Pty::open();
    c.stdout(pty.slave());
    if stderr_tty {
        c.stderr(pty.slave());
    } else {
        c.stderr(Stdio::piped());
    }
    let child = c.spawn().expect("spawn");
    // The command holds our copies of the terminal side: drop them, so only the child does.
    drop(c);
    let out = child.wait_with_output().expect("wait");
    PtyRun {
        code: out.status.code().unwrap_or(-1),
        terminal: pty.drain_to_end(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
