//! [`SecretString`]: a secret value that cannot be printed by accident.

use std::fmt;

use zeroize::Zeroize;

/// What `Debug` and `Display` print instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret value (password, token, key). `Debug` and `Display` print `[redacted]`; it
/// implements neither `Serialize` nor `Deserialize`, so it cannot land in JSON, a log
/// field or an error by accident. The only way to the value is [`SecretString::expose`],
/// which is easy to grep for. The buffer is zeroed when the value is dropped.
///
/// ```
/// use homelab_core::secret::SecretString;
/// let s = SecretString::new("hunter2".to_owned());
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value; the caller should not keep another copy.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value. Every call site is a place where the secret leaves the type: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for an empty value (secrets are never empty: an empty one is refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length in bytes (safe to log: it says nothing about the content).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Trims a secret typed or piped in: only trailing `\r` and `\n` go (a PEM keeps its
/// internal newlines; leading and trailing spaces are part of the value).
///
/// ```
/// use homelab_core::secret::trim_input;
/// assert_eq!(trim_input("  s3cret  \n"), "  s3cret  ");
/// assert_eq!(trim_input("L1\nL2\r\n\n"), "L1\nL2");
/// ```
pub fn trim_input(raw: &str) -> &str {
    raw.trim_end_matches(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = SecretString::new("canary-123".into());
        for shown in [
            format!("{s:?}"),
            format!("{s}"),
            format!("{s:#?}"),
            format!("{:?}", Some(&s)),
        ] {
            assert!(!shown.contains("canary"), "{shown}");
        }
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: SecretString,
        }
        let h = format!("{:?}", Holder { token: s.clone() });
        assert_eq!(h, "Holder { token: [redacted] }");
        assert_eq!(s.expose(), "canary-123");
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn trims_only_trailing_line_ends() {
        assert_eq!(trim_input(""), "");
        assert_eq!(trim_input("\n"), "");
        assert_eq!(trim_input("a\n\nb\n"), "a\n\nb");
        assert_eq!(trim_input(" a \r\n"), " a ");
        assert_eq!(trim_input("\ta"), "\ta");
    }
}
