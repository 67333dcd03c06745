//! Running `bw`: a minimal, explicit child environment, stdout kept as a secret, errors
//! that carry bw's own message but never a value.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use homelab_core::secret::SecretString;
use homelab_core::vaultwarden::BwCommand;

/// The environment of a `bw` child: plain variables plus secret ones. `Debug` shows
/// only the names.
#[derive(Clone, Default)]
pub struct ChildEnv {
    pub(super) plain: Vec<(String, String)>,
    pub(super) secret: Vec<(String, SecretString)>,
}

impl ChildEnv {
    pub fn base(vars: &[(String, String)]) -> Self {
        ChildEnv {
            plain: vars.to_vec(),
            secret: Vec::new(),
        }
    }

    pub fn push_secret(&mut self, name: &str, value: SecretString) {
        self.secret.retain(|(n, _)| n != name);
        self.secret.push((name.to_owned(), value));
    }

    /// Every variable, in order: the plain ones, then the secret ones.
    pub fn names(&self) -> Vec<&str> {
        self.plain
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.secret.iter().map(|(n, _)| n.as_str()))
            .collect()
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env_clear();
        for (k, v) in &self.plain {
            cmd.env(k, v);
        }
        for (k, v) in &self.secret {
            cmd.env(k, v.expose());
        }
    }

    /// Replaces every secret value found in `text` (bw echoing one back in an error).
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (_, v) in &self.secret {
            if v.len() >= 4 {
                out = out.replace(v.expose(), "[redacted]");
            }
        }
        out
    }
}

impl fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Runs `bw`. Implemented by [`ProcessRunner`]; tests may script it.
pub trait BwRunner {
    /// Runs `bw <argv>` with exactly `env`; returns stdout with only trailing `\r\n`
    /// removed (leading and trailing spaces of a value are part of it).
    fn run(&self, cmd: &BwCommand, env: &ChildEnv) -> Result<SecretString, BwError>;
}

/// A failed `bw` run. The message is bw's stderr (scrubbed of the child's secret values),
/// never its stdout.
#[derive(Debug, thiserror::Error)]
pub enum BwError {
    #[error("`{program}` not found on PATH (install the official Bitwarden CLI, `bw`)")]
    NotFound { program: String },
    #[error("running bw: {0}")]
    Spawn(std::io::Error),
    #[error("bw {verb}: timed out after {secs}s")]
    Timeout { verb: String, secs: u64 },
    #[error("bw {verb}: {status}{detail}")]
    Failed {
        verb: String,
        status: String,
        detail: String,
    },
}

/// Runs the real `bw` (found on the child's `PATH`) with a deadline.
#[derive(Debug, Clone)]
pub struct ProcessRunner {
    pub program: PathBuf,
    pub timeout: Duration,
}

impl Default for ProcessRunner {
    fn default() -> Self {
        ProcessRunner {
            program: PathBuf::from("bw"),
            timeout: Duration::from_secs(120),
        }
    }
}

impl BwRunner for ProcessRunner {
    fn run(&self, cmd: &BwCommand, env: &ChildEnv) -> Result<SecretString, BwError> {
        let argv = cmd.argv();
        let verb = argv.first().cloned().unwrap_or_default();
        let mut command = Command::new(&self.program);
        command
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        env.apply(&mut command);
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BwError::NotFound {
                program: self.program.display().to_string(),
            },
            _ => BwError::Spawn(e),
        })?;
        // Drain both pipes on threads so a chatty child never blocks on a full pipe.
        let mut out_pipe = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out_pipe.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err_pipe.read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().map_err(BwError::Spawn)? {
                Some(s) => break s,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(BwError::Timeout {
                        verb,
                        secs: self.timeout.as_secs(),
                    });
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            let detail = if first.is_empty() {
                String::new()
            } else {
                format!(": {}", env.scrub(first))
            };
            let status = match status.code() {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".to_owned(),
            };
            return Err(BwError::Failed { verb, status, detail });
        }
        let mut text = String::from_utf8_lossy(&stdout).into_owned();
        let kept = text.trim_end_matches(['\r', '\n']).len();
        text.truncate(kept);
        Ok(SecretString::new(text))
    }
}
