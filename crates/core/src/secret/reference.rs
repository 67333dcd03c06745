//! Typed secret references: `vault://mount/path#key`, `k8s://namespace/name#key`,
//! `bw://item#field`, `env://VAR`, parsed once by a hand-written parser (no regexp, never
//! panics) and printed back in a canonical form.
//!
//! # Grammar
//!
//! ```text
//! reference = "vault://" mount "/" segment *("/" segment) "#" key
//!           | "k8s://"   namespace "/" name "#" key
//!           | "bw://"    item "#" field
//!           | "env://"   VAR
//! ```
//!
//! - The scheme is lowercase. A fragment (`#…`) is required for `vault`, `k8s` and `bw`
//!   (a reference names one value: fail closed, never "the whole secret") and refused for
//!   `env`.
//! - **Escape rule** (vault mount/segments/key, bw item/field): the characters
//!   `A–Z a–z 0–9 - . _ ~ ! $ & ' ( ) * + , ; = : @` stand for themselves; every other byte
//!   (space, `#`, `/` inside a segment, `%`, `?`, `{`, `}`, non-ASCII UTF-8) is written
//!   `%XX` (two hex digits). So a Bitwarden item called `GitHub Personal` is
//!   `bw://GitHub%20Personal#password`. The canonical form encodes exactly those bytes,
//!   with uppercase hex. Decoded values must be valid UTF-8 without control characters.
//! - Vault: the first segment is the KV v2 mount (explicit, so the `/data/` confusion of
//!   other tools cannot arise), the rest is the secret path; segments are non-empty and not
//!   `.` or `..`.
//! - Kubernetes: `namespace` is a DNS-1123 label, `name` a DNS-1123 subdomain, `key` a
//!   Secret data key (`[-._a-zA-Z0-9]+`); no escapes (none are needed).
//! - Env: a variable name `[A-Za-z_][A-Za-z0-9_]*`.

use std::fmt;

/// The backend a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Vault / OpenBao KV v2.
    Vault,
    /// A Kubernetes Secret.
    K8s,
    /// Vaultwarden, through the `bw` CLI.
    Bw,
    /// An environment variable of the calling process.
    Env,
}

impl Scheme {
    /// Every scheme, in documentation order.
    pub const ALL: [Scheme; 4] = [Scheme::Vault, Scheme::K8s, Scheme::Bw, Scheme::Env];

    /// The scheme's name as written before `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Vault => "vault",
            Scheme::K8s => "k8s",
            Scheme::Bw => "bw",
            Scheme::Env => "env",
        }
    }

    fn parse(s: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Vault KV v2 location: the mount and the secret path below it (segments joined by
/// `/`, each non-empty and without `/`). The path may be empty only for listing a mount's
/// root ([`KvPath::parse_cli`] with `allow_root`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KvPath {
    mount: String,
    path: String,
}

impl KvPath {
    /// Builds a path from decoded parts, validating them as the parser does.
    pub fn new(mount: &str, segments: &[&str]) -> Result<KvPath, RefError> {
        check_segment(mount, "mount")?;
        for s in segments {
            check_segment(s, "path segment")?;
        }
        if segments.is_empty() {
            return Err(RefError::new(
                "a Vault path needs a mount and a secret path (mount/path)",
            ));
        }
        Ok(KvPath {
            mount: mount.to_owned(),
            path: segments.join("/"),
        })
    }

    /// Parses a path as typed to `homelab vault kv …` (`secret/app/db`): raw text, no
    /// escapes, the first segment is the mount. A trailing `/` is allowed. With
    /// `allow_root`, `secret` or `secret/` (the mount's root, for `kv list`) is accepted.
    pub fn parse_cli(input: &str, allow_root: bool) -> Result<KvPath, RefError> {
        let trimmed = input.strip_suffix('/').unwrap_or(input);
        if trimmed.is_empty() {
            return Err(RefError::new("empty Vault path (want mount/path, e.g. secret/app)"));
        }
        let mut parts = trimmed.split('/');
        let mount = parts.next().unwrap_or_default();
        let segments: Vec<&str> = parts.collect();
        check_segment(mount, "mount").map_err(|e| e.context(input))?;
        for s in &segments {
            check_segment(s, "path segment").map_err(|e| e.context(input))?;
        }
        if segments.is_empty() && !allow_root {
            return Err(RefError::new(format!(
                "Vault path {input:?} has no secret path after the mount (want mount/path, e.g. secret/app)"
            )));
        }
        Ok(KvPath {
            mount: mount.to_owned(),
            path: segments.join("/"),
        })
    }

    /// The KV v2 mount (`secret`).
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// The secret path below the mount (`app/db`), empty for a mount's root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path segments below the mount.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }
}

/// `mount/path` as a person types it (raw, unescaped).
impl fmt::Display for KvPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}/", self.mount)
        } else {
            write!(f, "{}/{}", self.mount, self.path)
        }
    }
}

/// A parsed secret reference. `Display` prints the canonical form; `parse(print(r)) == r`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretRef {
    /// `vault://mount/path#key`: one key of a KV v2 secret.
    Vault { path: KvPath, key: String },
    /// `k8s://namespace/name#key`: one key of a Kubernetes Secret (base64-decoded).
    K8s {
        namespace: String,
        name: String,
        key: String,
    },
    /// `bw://item#field`: one field of a Vaultwarden item (name or id).
    Bw { item: String, field: String },
    /// `env://VAR`: an environment variable of the calling process.
    Env { var: String },
}

impl SecretRef {
    /// Parses a reference (see the module docs for the grammar). Never panics.
    pub fn parse(input: &str) -> Result<SecretRef, RefError> {
        parse(input).map_err(|e| e.context(input))
    }

    /// The backend this reference needs.
    pub fn scheme(&self) -> Scheme {
        match self {
            SecretRef::Vault { .. } => Scheme::Vault,
            SecretRef::K8s { .. } => Scheme::K8s,
            SecretRef::Bw { .. } => Scheme::Bw,
            SecretRef::Env { .. } => Scheme::Env,
        }
    }
}

impl std::str::FromStr for SecretRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretRef::parse(s)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Vault { path, key } => {
                write!(f, "vault://{}", encode(&path.mount))?;
                for s in path.segments() {
                    write!(f, "/{}", encode(s))?;
                }
                write!(f, "#{}", encode(key))
            }
            SecretRef::K8s { namespace, name, key } => write!(f, "k8s://{namespace}/{name}#{key}"),
            SecretRef::Bw { item, field } => write!(f, "bw://{}#{}", encode(item), encode(field)),
            SecretRef::Env { var } => write!(f, "env://{var}"),
        }
    }
}

/// Why a reference (or a Vault path) is malformed: one line, naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RefError {
    message: String,
}

impl RefError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    fn context(self, input: &str) -> Self {
        if self.message.starts_with("invalid reference") || self.message.starts_with("Vault path") {
            return self;
        }
        Self::new(format!("invalid reference {:?}: {}", shorten(input), self.message))
    }
}

fn shorten(input: &str) -> String {
    const MAX: usize = 120;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        let mut s: String = input.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

const SCHEMES_HINT: &str = "want vault://mount/path#key, k8s://namespace/name#key, bw://item#field or env://VAR";

fn parse(input: &str) -> Result<SecretRef, RefError> {
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err(RefError::new(format!("no scheme ({SCHEMES_HINT})")));
    };
    let Some(scheme) = Scheme::parse(scheme) else {
        return Err(RefError::new(format!("unknown scheme {scheme:?} ({SCHEMES_HINT})")));
    };
    let (body, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let need_fragment = |what: &str| -> Result<&str, RefError> {
        match fragment {
            None => Err(RefError::new(format!(
                "missing \"#{what}\" (a reference names one value)"
            ))),
            Some("") => Err(RefError::new(format!("empty {what} after \"#\""))),
            Some(f) => Ok(f),
        }
    };
    match scheme {
        Scheme::Env => {
            if fragment.is_some() {
                return Err(RefError::new("env:// takes no \"#\" fragment (want env://VAR)"));
            }
            check_env_var(body)?;
            Ok(SecretRef::Env { var: body.to_owned() })
        }
        Scheme::Vault => {
            let key = decode(need_fragment("key")?, "key")?;
            let mut parts = body.split('/');
            let mount = decode(parts.next().unwrap_or_default(), "mount")?;
            let segments = parts
                .map(|p| decode(p, "path segment"))
                .collect::<Result<Vec<_>, _>>()?;
            check_segment(&mount, "mount")?;
            if segments.is_empty() {
                return Err(RefError::new("missing secret path (want vault://mount/path#key)"));
            }
            for s in &segments {
                check_segment(s, "path segment")?;
            }
            Ok(SecretRef::Vault {
                path: KvPath {
                    mount,
                    path: segments.join("/"),
                },
                key,
            })
        }
        Scheme::K8s => {
            let key = need_fragment("key")?;
            let Some((namespace, name)) = body.split_once('/') else {
                return Err(RefError::new("want k8s://namespace/name#key"));
            };
            check_dns_label(namespace, "namespace")?;
            check_dns_subdomain(name, "Secret name")?;
            check_secret_key(key)?;
            Ok(SecretRef::K8s {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
            })
        }
        Scheme::Bw => {
            let field = decode(need_fragment("field")?, "field")?;
            if body.is_empty() {
                return Err(RefError::new("empty item (want bw://item#field)"));
            }
            let item = decode(body, "item")?;
            Ok(SecretRef::Bw { item, field })
        }
    }
}

/// Bytes that stand for themselves in an escaped component.
fn is_raw(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Percent-encodes every byte outside the raw set (uppercase hex): the canonical form.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_raw(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one escaped component; refuses raw bytes outside the raw set, bad escapes,
/// invalid UTF-8, control characters and an empty result.
fn decode(s: &str, what: &str) -> Result<String, RefError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => {
                    return Err(RefError::new(format!(
                        "bad escape in {what}: \"%\" must be followed by two hex digits"
                    )));
                }
            }
            i += 3;
        } else if is_raw(b) {
            out.push(b);
            i += 1;
        } else {
            let c = s[i..].chars().next().unwrap_or('?');
            return Err(RefError::new(format!(
                "character {c:?} in {what} must be percent-encoded (e.g. a space is %20)"
            )));
        }
    }
    let decoded =
        String::from_utf8(out).map_err(|_| RefError::new(format!("{what} is not valid UTF-8 once decoded")))?;
    if decoded.is_empty() {
        return Err(RefError::new(format!("empty {what}")));
    }
    if decoded.chars().any(char::is_control) {
        return Err(RefError::new(format!("{what} contains a control character")));
    }
    Ok(decoded)
}

fn check_segment(s: &str, what: &str) -> Result<(), RefError> {
    if s.is_empty() {
        return Err(RefError::new(format!("empty {what} (a doubled or leading \"/\"?)")));
    }
    if s == "." || s == ".." {
        return Err(RefError::new(format!("{what} {s:?} is not allowed")));
    }
    if s.contains('/') {
        return Err(RefError::new(format!("{what} contains \"/\"")));
    }
    if s.chars().any(char::is_control) {
        return Err(RefError::new(format!("{what} contains a control character")));
    }
    Ok(())
}

fn check_env_var(s: &str) -> Result<(), RefError> {
    let mut chars = s.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(RefError::new(format!(
            "{:?} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
            shorten(s)
        )))
    }
}

pub use crate::names::{is_dns_label, is_dns_subdomain};

fn check_dns_label(s: &str, what: &str) -> Result<(), RefError> {
    if is_dns_label(s) {
        Ok(())
    } else {
        Err(RefError::new(format!(
            "{what} {:?} is not a DNS-1123 label (lowercase letters, digits, '-', at most 63)",
            shorten(s)
        )))
    }
}

fn check_dns_subdomain(s: &str, what: &str) -> Result<(), RefError> {
    if is_dns_subdomain(s) {
        Ok(())
    } else {
        Err(RefError::new(format!(
            "{what} {:?} is not a DNS-1123 subdomain (lowercase letters, digits, '-', '.', at most 253)",
            shorten(s)
        )))
    }
}

fn check_secret_key(s: &str) -> Result<(), RefError> {
    if !s.is_empty() && s.len() <= 253 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        Ok(())
    } else {
        Err(RefError::new(format!(
            "Secret key {:?} is not valid ([-._a-zA-Z0-9]+)",
            shorten(s)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn err(s: &str) -> String {
        SecretRef::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            p("vault://secret/app/db#password"),
            SecretRef::Vault {
                path: KvPath::new("secret", &["app", "db"]).unwrap(),
                key: "password".into()
            }
        );
        assert_eq!(
            p("k8s://apps/db-creds#pg.password"),
            SecretRef::K8s {
                namespace: "apps".into(),
                name: "db-creds".into(),
                key: "pg.password".into()
            }
        );
        assert_eq!(
            p("bw://GitHub%20Personal#password"),
            SecretRef::Bw {
                item: "GitHub Personal".into(),
                field: "password".into()
            }
        );
        assert_eq!(
            p("env://HOME_TOKEN"),
            SecretRef::Env {
                var: "HOME_TOKEN".into()
            }
        );
        assert_eq!(p("bw://caf%C3%A9%23%2F#x").to_string(), "bw://caf%C3%A9%23%2F#x");
        assert_eq!(p("vault://secret/a#k").scheme(), Scheme::Vault);
    }

    #[test]
    fn non_canonical_escapes_print_canonically() {
        assert_eq!(p("bw://%61b#f%3a").to_string(), "bw://ab#f:");
        assert_eq!(p("vault://secret/a%20b#%6b").to_string(), "vault://secret/a%20b#k");
    }

    #[test]
    fn refuses_malformed_references() {
        let cases = [
            ("", "no scheme"),
            ("secret/app#k", "no scheme"),
            ("VAULT://secret/a#k", "unknown scheme \"VAULT\""),
            ("op://v/i/f", "unknown scheme \"op\""),
            ("vault://secret/app", "missing \"#key\""),
            ("vault://secret/app#", "empty key"),
            ("vault://secret#k", "missing secret path"),
            ("vault:///app#k", "empty mount"),
            ("vault://secret//app#k", "empty path segment"),
            ("vault://secret/app/#k", "empty path segment"),
            ("vault://secret/../x#k", "not allowed"),
            ("vault://secret/a b#k", "must be percent-encoded"),
            ("vault://secret/a#k#l", "must be percent-encoded"),
            ("vault://secret/a#%zz", "bad escape"),
            ("vault://secret/a#%", "bad escape"),
            ("vault://secret/a#%FF", "not valid UTF-8"),
            ("vault://secret/a#%0A", "control character"),
            ("vault://secret/a%2F#k", "contains \"/\""),
            ("k8s://apps#k", "want k8s://namespace/name#key"),
            ("k8s://Apps/x#k", "not a DNS-1123 label"),
            ("k8s://apps/x/y#k", "not a DNS-1123 subdomain"),
            ("k8s://apps/-x#k", "not a DNS-1123 subdomain"),
            ("k8s://apps/x#k/y", "Secret key"),
            ("k8s://apps/x", "missing \"#key\""),
            ("bw://#password", "empty item"),
            ("bw://item", "missing \"#field\""),
            ("env://1X", "not an environment variable name"),
            ("env://", "not an environment variable name"),
            ("env://X#y", "takes no"),
        ];
        for (input, want) in cases {
            let e = err(input);
            assert!(e.contains(want), "{input:?}: {e}");
            assert!(e.starts_with("invalid reference"), "{input:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let long = format!("k8s://{}/x#k", "a".repeat(64));
        assert!(err(&long).contains("DNS-1123 label"));
        assert!(err(&"x".repeat(10_000)).chars().count() < 300);
    }

    #[test]
    fn cli_paths() {
        let k = KvPath::parse_cli("secret/app/db", false).unwrap();
        assert_eq!((k.mount(), k.path()), ("secret", "app/db"));
        assert_eq!(k.to_string(), "secret/app/db");
        assert_eq!(KvPath::parse_cli("secret/app/", false).unwrap().path(), "app");
        let root = KvPath::parse_cli("secret/", true).unwrap();
        assert_eq!(
            (root.mount(), root.path(), root.to_string().as_str()),
            ("secret", "", "secret/")
        );
        assert!(
            KvPath::parse_cli("secret", false)
                .unwrap_err()
                .to_string()
                .contains("no secret path")
        );
        assert!(KvPath::parse_cli("", true).is_err());
        assert!(KvPath::parse_cli("secret//x", false).is_err());
        assert!(KvPath::parse_cli("/secret/x", false).is_err());
        assert!(KvPath::parse_cli("secret/a b", false).is_ok());
    }

    fn component() -> impl Strategy<Value = String> {
        // Any printable text, including bytes that need escaping (space, '#', '/', '%', é).
        proptest::string::string_regex("[a-zA-Z0-9 #/%?{}é:@._~-]{1,12}").unwrap()
    }
    fn segment() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9 #%?é._-]{1,10}")
            .unwrap()
            .prop_filter("dot segments", |s| s != "." && s != "..")
    }
    fn label() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?").unwrap()
    }

    fn any_ref() -> impl Strategy<Value = SecretRef> {
        prop_oneof![
            (segment(), proptest::collection::vec(segment(), 1..4), component()).prop_map(|(m, segs, key)| {
                let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
                SecretRef::Vault {
                    path: KvPath::new(&m, &segs).unwrap(),
                    key,
                }
            }),
            (
                label(),
                proptest::collection::vec(label(), 1..3),
                "[-._a-zA-Z0-9]{1,20}"
            )
                .prop_map(|(ns, name, key)| {
                    SecretRef::K8s {
                        namespace: ns,
                        name: name.join("."),
                        key,
                    }
                }),
            (component(), component()).prop_map(|(item, field)| SecretRef::Bw { item, field }),
            "[A-Za-z_][A-Za-z0-9_]{0,20}".prop_map(|var| SecretRef::Env { var }),
        ]
    }

    proptest! {
        #[test]
        fn print_then_parse_round_trips(r in any_ref()) {
            let printed = r.to_string();
            let back = SecretRef::parse(&printed).unwrap();
            prop_assert_eq!(&back, &r);
            // The printed form is canonical: printing the parse gives it back unchanged.
            prop_assert_eq!(back.to_string(), printed);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,60}", prefix in prop_oneof![Just(""), Just("vault://"), Just("k8s://"), Just("bw://"), Just("env://")]) {
            let input = format!("{prefix}{s}");
            if let Ok(r) = SecretRef::parse(&input) {
                // Whatever parses prints to something that parses to the same reference.
                prop_assert_eq!(SecretRef::parse(&r.to_string()).unwrap(), r);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = SecretRef::parse(&s);
            let _ = KvPath::parse_cli(&s, true);
        }
    }
}
