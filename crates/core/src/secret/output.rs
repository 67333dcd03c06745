//! Where a secret may go: stdout when stdout is not a terminal (a pipe or a file); the
//! clipboard through OSC 52 when stdout is a terminal, the terminal is known to handle
//! OSC 52 and stderr is a terminal too (the sequence is written to stderr); otherwise
//! refuse, so a secret never lands in a scrollback.

use base64::Engine as _;

/// Where [`decide`] sends a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emission {
    /// Print the value and a newline on stdout (stdout is not a terminal).
    Stdout,
    /// Copy it with OSC 52 (written to stderr) and clear the clipboard after
    /// [`CLIPBOARD_CLEAR_SECS`].
    Clipboard,
    /// Print nothing sensitive; fail with [`REFUSE_SECRET`].
    Refuse,
}

/// What the process observed about its terminal (the adapter fills this in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalFacts {
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    /// `$TERM`.
    pub term: Option<String>,
    /// `$TERM_PROGRAM`.
    pub term_program: Option<String>,
}

/// Terminals known to implement OSC 52 (case-insensitive substring of `$TERM` or
/// `$TERM_PROGRAM`). A plain `xterm` is not on the list.
pub const OSC52_TERMINALS: [&str; 7] = ["kitty", "alacritty", "foot", "wezterm", "ghostty", "tmux", "screen"];

/// Seconds before the clipboard is cleared.
pub const CLIPBOARD_CLEAR_SECS: u32 = 30;

/// Printed on stderr after a clipboard copy.
pub const CLIPBOARD_MESSAGE: &str = "copied to clipboard; clearing in 30s";

/// The refusal when a secret would be printed to a terminal that cannot take OSC 52.
pub const REFUSE_SECRET: &str = "refusing to print secret: this terminal can't do OSC52 clipboard safely; pipe the command (e.g. | cat) or use a supported terminal";

/// `homelab vault get --json` on a terminal.
pub const REFUSE_JSON: &str = "refusing to print a secret as JSON to a terminal; pipe it (e.g. | cat) or drop --json";

/// `homelab vault get --all` on a terminal (checked before anything is fetched).
pub const REFUSE_ALL_FIELDS: &str = "refusing to print all fields as JSON to a terminal; pipe it (e.g. | jq)";

/// `homelab vault kv get <path>` without `--field` on a terminal.
pub const REFUSE_KV_JSON: &str =
    "refusing to print all KV fields as JSON to a terminal; use --field <key>, or pipe it (e.g. | jq)";

/// `homelab secret inject` without `-o` when stdout is a terminal.
pub const REFUSE_RENDERED: &str =
    "refusing to print a rendered template with secrets to a terminal; use -o FILE, or pipe it (e.g. | cat)";

/// True when `$TERM` or `$TERM_PROGRAM` names a terminal from [`OSC52_TERMINALS`].
pub fn terminal_allowed(term: Option<&str>, term_program: Option<&str>) -> bool {
    [term, term_program].into_iter().flatten().any(|v| {
        let v = v.to_ascii_lowercase();
        OSC52_TERMINALS.iter().any(|t| v.contains(t))
    })
}

/// The seed's `clipboardDecision(stdoutTTY, stderrTTY, term, termProgram)`.
pub fn decide(facts: &TerminalFacts) -> Emission {
    if !facts.stdout_tty {
        Emission::Stdout
    } else if facts.stderr_tty && terminal_allowed(facts.term.as_deref(), facts.term_program.as_deref()) {
        Emission::Clipboard
    } else {
        Emission::Refuse
    }
}

/// Whole-record JSON (`--json`, `--all`, `kv get` without `--field`, a rendered
/// template) may go to stdout only when stdout is not a terminal: there is no clipboard
/// fallback for it. Returns the refusal to print otherwise.
pub fn json_refusal(stdout_tty: bool, refusal: &'static str) -> Option<&'static str> {
    stdout_tty.then_some(refusal)
}

/// The OSC 52 "set clipboard" sequence: `ESC ] 52 ; c ; <base64> BEL`.
pub fn osc52(value: &[u8]) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(value)
    )
}

/// The OSC 52 sequence that clears the clipboard.
pub const OSC52_CLEAR: &str = "\x1b]52;c;\x07";

/// The argv of the detached child that clears the clipboard after `delay` seconds by
/// printing [`OSC52_CLEAR`] to its (inherited) stderr. It never carries the secret: the
/// escape sequence is spelled with `printf` octal escapes.
pub fn clear_command(delay: u32) -> [String; 3] {
    [
        "sh".to_owned(),
        "-c".to_owned(),
        format!("sleep {delay}; printf '\\033]52;c;\\007' >&2"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(stdout: bool, stderr: bool, term: &str, prog: &str) -> TerminalFacts {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        TerminalFacts {
            stdout_tty: stdout,
            stderr_tty: stderr,
            term: opt(term),
            term_program: opt(prog),
        }
    }

    #[test]
    fn seed_cases_44_to_49() {
        assert_eq!(decide(&facts(false, true, "xterm-kitty", "")), Emission::Stdout);
        assert_eq!(decide(&facts(false, false, "", "")), Emission::Stdout);
        assert_eq!(decide(&facts(true, true, "xterm-kitty", "")), Emission::Clipboard);
        assert_eq!(decide(&facts(true, true, "xterm-256color", "")), Emission::Refuse);
        assert_eq!(decide(&facts(true, false, "tmux-256color", "")), Emission::Refuse);
        assert_eq!(decide(&facts(true, true, "xterm", "WezTerm")), Emission::Clipboard);
        assert_eq!(osc52(b"hi"), "\x1b]52;c;aGk=\x07");
        assert_eq!(OSC52_CLEAR, "\x1b]52;c;\x07");
    }

    #[test]
    fn known_terminals() {
        for t in [
            "xterm-kitty",
            "alacritty",
            "foot-extra",
            "WEZTERM",
            "xterm-ghostty",
            "screen.xterm-256color",
        ] {
            assert!(terminal_allowed(Some(t), None), "{t}");
        }
        for t in ["xterm", "xterm-256color", "linux", "vt100", "dumb", ""] {
            assert!(!terminal_allowed(Some(t), None), "{t}");
        }
        assert!(!terminal_allowed(None, None));
        assert!(terminal_allowed(None, Some("ghostty")));
    }

    #[test]
    fn json_only_when_piped() {
        assert_eq!(json_refusal(false, REFUSE_KV_JSON), None);
        assert_eq!(json_refusal(true, REFUSE_KV_JSON), Some(REFUSE_KV_JSON));
    }

    #[test]
    fn clear_command_carries_no_secret_and_clears() {
        let argv = clear_command(30);
        assert_eq!(argv[2], "sleep 30; printf '\\033]52;c;\\007' >&2");
        // printf's octal escapes spell exactly the clear sequence.
        let printed = argv[2]
            .split('\'')
            .nth(1)
            .unwrap()
            .replace("\\033", "\x1b")
            .replace("\\007", "\x07");
        assert_eq!(printed, OSC52_CLEAR);
    }

    proptest! {
        #[test]
        fn never_prints_to_a_terminal(stderr in any::<bool>(), term in "\\PC{0,20}", prog in "\\PC{0,20}") {
            let f = facts(true, stderr, &term, &prog);
            let d = decide(&f);
            prop_assert_ne!(d, Emission::Stdout);
            if d == Emission::Clipboard {
                prop_assert!(stderr);
            }
        }

        #[test]
        fn piped_stdout_always_gets_the_value(stderr in any::<bool>(), term in "\\PC{0,20}") {
            prop_assert_eq!(decide(&facts(false, stderr, &term, "")), Emission::Stdout);
        }

        #[test]
        fn osc52_is_one_escape_sequence(value in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = osc52(&value);
            prop_assert!(s.starts_with("\x1b]52;c;") && s.ends_with('\x07'));
            let body = &s[7..s.len() - 1];
            prop_assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
            prop_assert_eq!(base64::engine::general_purpose::STANDARD.decode(body).unwrap(), value);
        }
    }
}
