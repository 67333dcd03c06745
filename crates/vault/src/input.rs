//! Reading a secret value typed or piped in (`homelab vault kv put`, `homelab vault
//! setup`): piped stdin is read whole; a terminal gets a no-echo prompt on stderr. Only
//! trailing `\r`/`\n` are trimmed (a PEM keeps its internal newlines); an empty value is
//! refused before anything is written.

use std::io::{self, BufRead, IsTerminal, Read, Write};

use homelab_core::secret::{SecretString, trim_input};
use rustix::termios::{self, LocalModes, OptionalActions};
use zeroize::Zeroize;

use crate::resolve::{ErrorKind, SecretError};

/// The refusal for an empty value.
pub const EMPTY_VALUE: &str = "empty value; aborting (nothing written)";

/// Reads the value from stdin: the whole input when piped, a no-echo prompt (`prompt`
/// on stderr) when stdin is a terminal.
pub fn read_secret_value(prompt: &str) -> Result<SecretString, SecretError> {
    if io::stdin().is_terminal() {
        prompt_no_echo(prompt)
    } else {
        read_secret_from(&mut io::stdin().lock())
    }
}

/// Reads everything from `reader` and applies the trim and empty rules.
pub fn read_secret_from(reader: &mut dyn Read) -> Result<SecretString, SecretError> {
    let mut raw = Vec::new();
    let result = reader.read_to_end(&mut raw);
    let value = match result {
        Ok(_) => match std::str::from_utf8(&raw) {
            Ok(s) => finish(s),
            Err(_) => Err(SecretError::new(
                ErrorKind::Invalid,
                "the value on stdin is not valid UTF-8 (nothing written)",
            )),
        },
        Err(e) => Err(SecretError::new(
            ErrorKind::Other,
            format!("cannot read the value from stdin: {e}"),
        )),
    };
    raw.zeroize();
    value
}

fn finish(raw: &str) -> Result<SecretString, SecretError> {
    let trimmed = trim_input(raw);
    if trimmed.is_empty() {
        Err(SecretError::new(ErrorKind::Invalid, EMPTY_VALUE))
    } else {
        Ok(SecretString::new(trimmed.to_owned()))
    }
}

/// Restores the terminal's echo flag when dropped (also on an early return).
struct EchoGuard {
    saved: Option<termios::Termios>,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, t);
        }
    }
}

/// Prompts on stderr with echo off and reads one line from the terminal on stdin.
pub fn prompt_no_echo(prompt: &str) -> Result<SecretString, SecretError> {
    let io_err = |e: io::Error| {
        SecretError::new(
            ErrorKind::Other,
            format!("cannot read the value from the terminal: {e}"),
        )
    };
    let mut stderr = io::stderr();
    // Echo goes off before the prompt appears, so nothing typed after it is echoed.
    let guard = match termios::tcgetattr(io::stdin()) {
        Ok(saved) => {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            termios::tcsetattr(io::stdin(), OptionalActions::Now, &quiet).map_err(|e| io_err(e.into()))?;
            EchoGuard { saved: Some(saved) }
        }
        // Not a real terminal after all: refuse rather than echo the secret.
        Err(e) => return Err(io_err(e.into())),
    };
    write!(stderr, "{prompt}").map_err(io_err)?;
    stderr.flush().map_err(io_err)?;
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    drop(guard);
    let _ = writeln!(stderr);
    let value = match read {
        Ok(_) => finish(&line),
        Err(e) => Err(io_err(e)),
    };
    line.zeroize();
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<String, String> {
        read_secret_from(&mut s.as_bytes())
            .map(|v| v.expose().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn seed_cases_72_and_74() {
        assert_eq!(read(""), Err(EMPTY_VALUE.into()));
        assert_eq!(read("\r\n\n"), Err(EMPTY_VALUE.into()));
        assert_eq!(read("L1\nL2\n"), Ok("L1\nL2".into()));
        assert_eq!(read("  s3cret  \n"), Ok("  s3cret  ".into()));
        assert!(
            read_secret_from(&mut &[0xff, 0xfe][..])
                .unwrap_err()
                .to_string()
                .contains("not valid UTF-8")
        );
    }
}
