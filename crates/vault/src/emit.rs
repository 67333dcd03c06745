//! Writing a secret out per the core output decision
//! ([`homelab_core::secret::output`]): stdout when piped, OSC 52 clipboard on a known
//! terminal (cleared by a detached child after 30 s), refusal otherwise.

use std::io::{self, IsTerminal, Write};
use std::process::{Command, Stdio};

use homelab_core::secret::SecretString;
use homelab_core::secret::output::{
    self, CLIPBOARD_CLEAR_SECS, CLIPBOARD_MESSAGE, Emission, REFUSE_SECRET, TerminalFacts,
};

use crate::resolve::{ErrorKind, SecretError};

/// What this process's stdout/stderr are, and `$TERM`/`$TERM_PROGRAM`.
pub fn terminal_facts() -> TerminalFacts {
    TerminalFacts {
        stdout_tty: io::stdout().is_terminal(),
        stderr_tty: io::stderr().is_terminal(),
        term: std::env::var("TERM").ok(),
        term_program: std::env::var("TERM_PROGRAM").ok(),
    }
}

/// How the clipboard is cleared after a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipboardClear {
    /// A detached `sh -c 'sleep N; printf <clear>'` writing to the inherited stderr.
    Detached { delay_secs: u32 },
    /// Do not clear (tests of the sequence only).
    Never,
}

impl Default for ClipboardClear {
    fn default() -> Self {
        ClipboardClear::Detached {
            delay_secs: CLIPBOARD_CLEAR_SECS,
        }
    }
}

/// Starts the detached clear child. Its argv is [`output::clear_command`] (never the
/// secret), its environment only `PATH` (no token leaks into `/proc/<pid>/environ`), its
/// stdin/stdout null, its stderr this process's stderr (the terminal), and it runs in its
/// own process group so the shell's Ctrl-C does not cancel the clear.
pub fn spawn_clipboard_clear(delay_secs: u32) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let argv = output::clear_command(delay_secs);
    #[allow(
        clippy::zombie_processes,
        reason = "detached on purpose: it outlives this short-lived process"
    )]
    Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// Emits a secret: [`Emission::Stdout`] prints the value and a newline to `out`;
/// [`Emission::Clipboard`] writes the OSC 52 sequence and [`CLIPBOARD_MESSAGE`] to `err`
/// and starts the clear; [`Emission::Refuse`] writes nothing and returns an error whose
/// message is [`REFUSE_SECRET`] (kind [`ErrorKind::Refused`]).
pub fn emit_secret(
    value: &SecretString,
    facts: &TerminalFacts,
    out: &mut dyn Write,
    err: &mut dyn Write,
    clear: ClipboardClear,
) -> Result<Emission, SecretError> {
    let io_err = |e: io::Error| SecretError::new(ErrorKind::Other, format!("cannot write the secret: {e}"));
    let decision = output::decide(facts);
    match decision {
        Emission::Stdout => {
            out.write_all(value.expose().as_bytes()).map_err(io_err)?;
            out.write_all(b"\n").map_err(io_err)?;
            out.flush().map_err(io_err)?;
        }
        Emission::Clipboard => {
            err.write_all(output::osc52(value.expose().as_bytes()).as_bytes())
                .map_err(io_err)?;
            writeln!(err, "{CLIPBOARD_MESSAGE}").map_err(io_err)?;
            err.flush().map_err(io_err)?;
            if let ClipboardClear::Detached { delay_secs } = clear {
                spawn_clipboard_clear(delay_secs).map_err(|e| {
                    SecretError::new(
                        ErrorKind::Other,
                        format!("copied, but cannot start the clipboard clear (clear it yourself): {e}"),
                    )
                })?;
            }
        }
        Emission::Refuse => return Err(SecretError::new(ErrorKind::Refused, REFUSE_SECRET)),
    }
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stdout: bool, stderr: bool, term: &str) -> TerminalFacts {
        TerminalFacts {
            stdout_tty: stdout,
            stderr_tty: stderr,
            term: Some(term.into()),
            term_program: None,
        }
    }

    #[test]
    fn three_outcomes() {
        let v = SecretString::new("hi".into());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let d = emit_secret(
            &v,
            &facts(false, true, "xterm"),
            &mut out,
            &mut err,
            ClipboardClear::Never,
        )
        .unwrap();
        assert_eq!(
            (d, out.as_slice(), err.as_slice()),
            (Emission::Stdout, &b"hi\n"[..], &b""[..])
        );

        let (mut out, mut err) = (Vec::new(), Vec::new());
        let d = emit_secret(
            &v,
            &facts(true, true, "xterm-kitty"),
            &mut out,
            &mut err,
            ClipboardClear::Never,
        )
        .unwrap();
        assert_eq!(d, Emission::Clipboard);
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "\x1b]52;c;aGk=\x07copied to clipboard; clearing in 30s\n"
        );

        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = emit_secret(
            &v,
            &facts(true, true, "xterm"),
            &mut out,
            &mut err,
            ClipboardClear::Never,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert_eq!(e.to_string(), REFUSE_SECRET);
        assert!(out.is_empty() && err.is_empty());
    }
}
