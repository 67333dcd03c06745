//! Pseudo-terminals for tests of the terminal rules (no unsafe code).
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

/// A pseudo-terminal: the controller side, and the path of the terminal side.
pub struct Pty {
    pub master: File,
    pub slave_path: std::path::PathBuf,
}

impl Pty {
    pub fn open() -> Pty {
        let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        rustix::io::ioctl_fionbio(&master, true).expect("non-blocking master");
        Pty {
            master: File::from(master),
            slave_path: std::path::PathBuf::from(name.to_str().unwrap()),
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

    /// Reads what is available now (the child may have exited; the clipboard-clear
    /// child may still hold the terminal open, so never wait for EOF).
    pub fn drain(&mut self) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads until `needle` appears (or fails after 20 s).
    pub fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        let mut seen = String::new();
        while !seen.contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {needle:?} on the terminal; got {seen:?}"
            );
            seen.push_str(&self.drain());
            std::thread::sleep(Duration::from_millis(20));
        }
        seen
    }
}
