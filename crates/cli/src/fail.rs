//! Errors that end a command: one line on stderr and a documented exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use homelab_vault::{ErrorKind, SecretError};

use crate::exit;

/// A command failure: the exit code to use and the error to print (one line, `{:#}`).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }
}

/// A secret-adapter error as a failure of the secret family: configuration problems are
/// usage (2), the rest failed (1).
pub fn secret(e: SecretError) -> Failure {
    let code = if e.kind() == ErrorKind::NotConfigured {
        exit::secrets::USAGE
    } else {
        exit::secrets::FAILED
    };
    Failure::new(code, e)
}

/// The exit code for bad arguments: 3 for the gate and snapshot (the gate "failing"
/// is exit 3, so the upgrade chain routes it to a fail-safe block), 2 elsewhere.
pub fn usage_exit_code(argv: &[OsString]) -> u8 {
    let words: Vec<&str> = argv
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    match words.as_slice() {
        ["upgrade", "gate" | "snapshot", ..] => exit::upgrade::GATE_ERROR,
        _ => exit::ERROR,
    }
}

/// Handles a clap parse error: help and version print normally and exit 0; anything
/// else prints clap's first line (no usage dump) and exits with the command's usage code.
pub fn usage(e: clap::Error, argv: &[OsString]) -> ExitCode {
    usage_with(e, usage_exit_code(argv), "homelab")
}

/// [`usage`] for a binary with a single usage-error code.
pub fn usage_with(e: clap::Error, code: u8, program: &str) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(code)
        }
        _ => {
            eprintln!("{program}: error: {} (see --help)", one_line(&e.render().to_string()));
            ExitCode::from(code)
        }
    }
}

/// clap's message up to its usage block, on one line (`… not provided: --target <VERSION>`).
fn one_line(rendered: &str) -> String {
    let msg = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("tip:"))
        .collect::<Vec<_>>()
        .join(" ");
    let msg = msg.trim_start_matches("error: ");
    if msg.is_empty() {
        "invalid arguments".into()
    } else {
        msg.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_messages_become_one_line() {
        let r = "error: the following required arguments were not provided:\n  --target <VERSION>\n\nUsage: homelab upgrade gate --target <VERSION>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(r),
            "the following required arguments were not provided: --target <VERSION>"
        );
        let r = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: x\n";
        assert_eq!(one_line(r), "unexpected argument '--bogus' found");
    }

    #[test]
    fn usage_codes() {
        let v = |s: &str| s.split(' ').map(OsString::from).collect::<Vec<_>>();
        assert_eq!(usage_exit_code(&v("homelab upgrade gate --bogus")), 3);
        assert_eq!(usage_exit_code(&v("homelab -v upgrade snapshot -x")), 3);
        assert_eq!(usage_exit_code(&v("homelab upgrade apis --bogus")), 2);
        assert_eq!(usage_exit_code(&v("homelab bogus")), 2);
    }
}
