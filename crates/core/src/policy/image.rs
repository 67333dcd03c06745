//! Container image references: `[registry[:port]/]repository[:tag][@algorithm:hex]`,
//! normalised the way the container runtime resolves them (`nginx` is
//! `docker.io/library/nginx`, `index.docker.io` is `docker.io`).

use std::fmt;

/// The implicit registry of a reference without one.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port) as written, `docker.io` when implicit or an alias of it.
    pub registry: String,
    /// Repository path; `library/` is added for single-name Docker Hub images.
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex` as written after `@`.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ImageError {
    pub reference: String,
    pub reason: &'static str,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let err = |reason| ImageError {
            reference: reference.chars().take(200).collect(),
            reason,
        };
        if reference.is_empty() {
            return Err(err("empty"));
        }
        if reference.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains whitespace"));
        }
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) => {
                let (alg, hex) = d.split_once(':').ok_or_else(|| err("digest without algorithm"))?;
                if alg.is_empty()
                    || hex.is_empty()
                    || !alg
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                    || !hex.chars().all(|c| c.is_ascii_hexdigit())
                {
                    return Err(err("malformed digest"));
                }
                (n, Some(d.to_owned()))
            }
            None => (reference, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name_tag[last_slash + i + 1..];
                if tag.is_empty()
                    || tag.len() > 128
                    || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    || tag.starts_with(['.', '-'])
                {
                    return Err(err("malformed tag"));
                }
                (&name_tag[..last_slash + i], Some(tag.to_owned()))
            }
            None => (name_tag, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_owned(), rest)
            }
            _ => (DOCKER_HUB.to_owned(), name),
        };
        if registry.is_empty() || registry.starts_with(':') {
            return Err(err("empty registry"));
        }
        if !is_registry_host(&registry) {
            return Err(err(
                "registry must be a host name with a dot, localhost or an IP, optionally with :port",
            ));
        }
        let registry = normalise_registry(&registry);
        if path.is_empty() {
            return Err(err("empty repository"));
        }
        for component in path.split('/') {
            if component.is_empty()
                || !component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                || !component.starts_with(|c: char| c.is_ascii_alphanumeric())
            {
                return Err(err("repository must be lowercase letters, digits and ._-"));
            }
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Is the digest a real `sha256:` followed by exactly 64 lowercase hex digits?
    pub fn has_sha256_digest(&self) -> bool {
        self.digest.as_deref().is_some_and(is_sha256_digest)
    }

    /// `registry/repository`, the part trusted-registry entries are matched against.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// `sha256:` + 64 lowercase hex digits, nothing else.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// `host[:port]` as the container runtime reads the first path component: a DNS name of
/// ASCII letters, digits and `-` in dot-separated labels, `localhost`, or a bracketed IPv6
/// literal; a port of 1–5 digits. A name must have a dot (or be `localhost`), else it is
/// only a registry because of its capital letters, and its lower-cased canonical form would
/// read back as a Docker Hub repository (`Registry/app` vs `registry/app`).
fn is_registry_host(r: &str) -> bool {
    let (host, port) = match r.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, after)) => {
                if ip.is_empty() || !ip.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
                    return false;
                }
                match after {
                    "" => return true,
                    p => match p.strip_prefix(':') {
                        Some(port) => ("[ipv6]", Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        },
        None => match r.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (r, None),
        },
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host == "[ipv6]" {
        return true;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (host.contains('.') || host.eq_ignore_ascii_case("localhost") || port.is_some()) && host.split('.').all(label_ok)
}

fn normalise_registry(r: &str) -> String {
    match r.to_ascii_lowercase().as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.to_owned(),
        other => other.to_owned(),
    }
}

/// Canonical form: `registry/repository[:tag][@digest]` (always with the registry).
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A trusted-registry entry: a registry host (`ghcr.io`, `registry.local:5000`) or a
/// registry with a path prefix (`ghcr.io/my-org`, `docker.io/library`). A bare
/// `docker.io`-style entry trusts the whole registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRegistry(String);

/// Why a trusted-registry entry was refused (one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTrustedRegistry(String);

impl TrustedRegistry {
    /// Normalises an entry: lowercase host (hosts are case-insensitive), `index.docker.io` → `docker.io`, no scheme,
    /// no trailing slash. Refuses empty entries and entries with a scheme or tag.
    pub fn parse(entry: &str) -> Result<Self, InvalidTrustedRegistry> {
        let e = entry.trim().trim_end_matches('/');
        if e.is_empty() {
            return Err(InvalidTrustedRegistry("empty trusted registry".into()));
        }
        if e.contains("://") || e.contains('@') || e.chars().any(char::is_whitespace) {
            return Err(InvalidTrustedRegistry(format!(
                "trusted registry {e:?} must be a host or host/path prefix (no scheme, tag or digest)"
            )));
        }
        let (host, rest) = match e.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (e, None),
        };
        let host = normalise_registry(&host.to_ascii_lowercase());
        Ok(TrustedRegistry(match rest {
            Some(r) => format!("{host}/{r}"),
            None => host,
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does this entry cover the image? Whole path components only: `ghcr.io/org` covers
    /// `ghcr.io/org/app`, not `ghcr.io/organisation/app`.
    pub fn covers(&self, image: &ImageRef) -> bool {
        let name = image.name().to_ascii_lowercase();
        name == self.0 || name.strip_prefix(&self.0).is_some_and(|r| r.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(p("nginx").to_string(), "docker.io/library/nginx");
        assert_eq!(p("nginx:1.27").tag.as_deref(), Some("1.27"));
        assert_eq!(p("index.docker.io/library/nginx").registry, "docker.io");
        assert_eq!(p("bitnami/redis:7").to_string(), "docker.io/bitnami/redis:7");
        assert_eq!(p("localhost/app").registry, "localhost");
    }

    #[test]
    fn registry_hosts_are_validated() {
        assert_eq!(p("registry:5000/app").registry, "registry:5000");
        assert_eq!(p("Registry.Example.org/app").registry, "registry.example.org");
        assert_eq!(p("[::1]:5000/app").registry, "[::1]:5000");
        assert_eq!(p("LOCALHOST/app").registry, "localhost");
        // A capital letter alone makes the first component a host, but its lower-cased
        // canonical form would read back as a Docker Hub path: refused (proptest found "A/a").
        for bad in [
            "A/a",
            "MyReg/app",
            "bm$.x/f",
            "reg.é.org/app",
            "-a.org/app",
            "a.org:/app",
            "a.org:123456/app",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
        for ok in ["ghcr.io/o/app", "registry.local:5000/team/app", "localhost:5000/app"] {
            let r = p(ok);
            assert_eq!(ImageRef::parse(&r.to_string()).as_ref(), Ok(&r), "{ok}");
        }
    }

    #[test]
    fn registry_ports_are_not_tags() {
        let r = p("registry.local:5000/team/app");
        assert_eq!((r.registry.as_str(), r.tag), ("registry.local:5000", None));
        let r = p("registry.local:5000/team/app:v2");
        assert_eq!(r.tag.as_deref(), Some("v2"));
    }

    #[test]
    fn digests() {
        let h = "a".repeat(64);
        let r = p(&format!("ghcr.io/o/app:1.0@sha256:{h}"));
        assert!(r.has_sha256_digest());
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert!(!p("ghcr.io/o/app@sha256:abc").has_sha256_digest());
        assert!(!p(&format!("ghcr.io/o/app@sha512:{h}")).has_sha256_digest());
        assert!(!is_sha256_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(ImageRef::parse("app@sha256").is_err());
        assert!(ImageRef::parse("app@sha256:xyz").is_err());
    }

    #[test]
    fn invalid() {
        for bad in ["", "app:", "App", "a b", "app:-x", "/app", "ghcr.io/", "ghcr.io//a"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_entries() {
        let t = TrustedRegistry::parse("GHCR.io/org/").unwrap();
        assert!(t.covers(&p("ghcr.io/org/app:1")));
        assert!(!t.covers(&p("ghcr.io/organisation/app:1")));
        let hub = TrustedRegistry::parse("index.docker.io").unwrap();
        assert!(hub.covers(&p("nginx")));
        let lib = TrustedRegistry::parse("docker.io/library").unwrap();
        assert!(lib.covers(&p("nginx")));
        assert!(!lib.covers(&p("bitnami/redis")));
        assert!(TrustedRegistry::parse("https://ghcr.io").is_err());
        assert!(TrustedRegistry::parse(" ").is_err());
    }
}
