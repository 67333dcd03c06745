//! Kubernetes and addon version numbers.
//!
//! Three shapes appear in the gate's inputs:
//! - a Kubernetes *target* (`1.36`, `1.36.2`, `v1.36.2`), see [`KubeVersion::parse_target`];
//! - a kubelet `gitVersion` as nodes report it (`v1.35.6`, sometimes with a vendor
//!   suffix such as `v1.33.5-gke.1200`), see [`KubeVersion::parse_kubelet`];
//! - an addon version captured from an image tag (`3.30`, `3.30.7`), compared
//!   numerically component by component, see [`DottedVersion`].

use std::cmp::Ordering;
use std::fmt;

use thiserror::Error;

/// A Kubernetes `major.minor` pair: the unit every compatibility rule speaks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minor {
    pub major: u32,
    pub minor: u32,
}

impl Minor {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `1.36` or `v1.36` (exactly two numeric components).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let v = parse_numeric(s.trim().trim_start_matches('v'), 2, 2)
            .ok_or_else(|| VersionError::new(s, "expected MAJOR.MINOR, e.g. 1.36"))?;
        Ok(Self::new(v[0], v[1]))
    }

    /// The minor `n` releases later (or earlier for a negative `n`), saturating at 0.
    pub fn offset(self, n: i64) -> Self {
        let m = (i64::from(self.minor) + n).clamp(0, i64::from(u32::MAX));
        Self::new(self.major, m as u32)
    }

    /// How many minors `self` is ahead of `other` (negative when behind). Only meaningful
    /// within one major, which is all Kubernetes has ever had.
    pub fn minus(self, other: Minor) -> i64 {
        if self.major != other.major {
            return (i64::from(self.major) - i64::from(other.major)) * 1000;
        }
        i64::from(self.minor) - i64::from(other.minor)
    }
}

impl fmt::Display for Minor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A Kubernetes release: `major.minor` with an optional patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
}

impl KubeVersion {
    /// Parses a gate target: `1.36`, `1.36.2` or `v1.36.2`. Pre-releases and vendor
    /// suffixes are refused: the gate never targets them.
    pub fn parse_target(s: &str) -> Result<Self, VersionError> {
        let body = s.trim();
        let body = body.strip_prefix('v').unwrap_or(body);
        let v = parse_numeric(body, 2, 3)
            .ok_or_else(|| VersionError::new(s, "expected a Kubernetes version like 1.36, 1.36.2 or v1.36.2"))?;
        if v[0] != 1 {
            return Err(VersionError::new(s, "only Kubernetes 1.x exists"));
        }
        Ok(Self {
            major: v[0],
            minor: v[1],
            patch: v.get(2).copied(),
        })
    }

    /// Parses a kubelet `gitVersion` (`v1.35.6`, `v1.33.5-gke.1200`, `v1.34.1+k3s1`).
    /// The suffix after the patch is ignored; the numeric part must be complete.
    pub fn parse_kubelet(s: &str) -> Result<Self, VersionError> {
        let body = s.trim();
        let body = body.strip_prefix('v').unwrap_or(body);
        let end = body.find(['-', '+']).unwrap_or(body.len());
        let v = parse_numeric(&body[..end], 3, 3)
            .ok_or_else(|| VersionError::new(s, "expected a kubelet version like v1.35.6"))?;
        Ok(Self {
            major: v[0],
            minor: v[1],
            patch: Some(v[2]),
        })
    }

    pub fn minor(self) -> Minor {
        Minor::new(self.major, self.minor)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// A dotted numeric version (`3.30`, `2.6.0`, `26.3`), compared component by component
/// with missing components read as zero, so `2.0 == 2.0.0 < 2.6`.
#[derive(Debug, Clone, Eq)]
pub struct DottedVersion {
    parts: Vec<u64>,
    text: String,
}

impl DottedVersion {
    /// Parses one to four dot-separated decimal components, with an optional leading `v`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let body = t.strip_prefix('v').unwrap_or(t);
        let mut parts = Vec::with_capacity(3);
        for p in body.split('.') {
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::new(s, "expected a dotted version like 3.30"));
            }
            parts.push(p.parse::<u64>().map_err(|_| VersionError::new(s, "number too large"))?);
        }
        if parts.len() > 4 {
            return Err(VersionError::new(s, "too many components"));
        }
        Ok(Self {
            parts,
            text: body.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first two components as a `major.minor` (a missing minor reads as 0).
    pub fn major_minor(&self) -> (u64, u64) {
        (self.parts[0], self.parts.get(1).copied().unwrap_or(0))
    }
}

impl PartialEq for DottedVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl PartialOrd for DottedVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DottedVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let a = self.parts.get(i).copied().unwrap_or(0);
            let b = other.parts.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => continue,
                o => return o,
            }
        }
        Ordering::Equal
    }
}

impl fmt::Display for DottedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A version string that could not be understood.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("invalid version {input:?}: {why}")]
pub struct VersionError {
    pub input: String,
    pub why: &'static str,
}

impl VersionError {
    fn new(input: &str, why: &'static str) -> Self {
        // Bound what we echo back: the input may be anything a user typed.
        let input: String = input.chars().take(64).collect();
        Self { input, why }
    }
}

fn parse_numeric(s: &str, min: usize, max: usize) -> Option<Vec<u32>> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < min || parts.len() > max {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = KubeVersion::parse_target("v1.36.2").unwrap();
        assert_eq!((t.major, t.minor, t.patch), (1, 36, Some(2)));
        assert_eq!(KubeVersion::parse_target("1.36").unwrap().patch, None);
        assert_eq!(KubeVersion::parse_target(" 1.36.0 ").unwrap().to_string(), "1.36.0");
        for bad in [
            "",
            "1",
            "1.",
            "1.x",
            "1.36.2.1",
            "v",
            "2.0",
            "1.36-rc.1",
            "v1.36.0-rc.1",
            "1..2",
            "-1.3",
            "1.36 ",
            "1.9999999999",
        ] {
            if bad == "1.36 " {
                continue; // trimmed: valid
            }
            assert!(KubeVersion::parse_target(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn kubelets() {
        assert_eq!(
            KubeVersion::parse_kubelet("v1.35.6").unwrap().minor(),
            Minor::new(1, 35)
        );
        assert_eq!(KubeVersion::parse_kubelet("v1.33.5-gke.1200").unwrap().patch, Some(5));
        assert_eq!(
            KubeVersion::parse_kubelet("v1.34.1+k3s1").unwrap().minor(),
            Minor::new(1, 34)
        );
        assert!(KubeVersion::parse_kubelet("v1.35").is_err());
        assert!(KubeVersion::parse_kubelet("unknown").is_err());
    }

    #[test]
    fn dotted_ordering() {
        let v = |s| DottedVersion::parse(s).unwrap();
        assert!(v("2.0") == v("2.0.0"));
        assert!(v("2.6") > v("2.0"));
        assert!(v("3.30") > v("3.4"));
        assert!(v("26.3") > v("25.10"));
        assert!(v("v1.18.1") > v("1.18"));
        assert!(DottedVersion::parse("latest").is_err());
        assert!(DottedVersion::parse("1.2.3.4.5").is_err());
        assert!(DottedVersion::parse("").is_err());
    }

    #[test]
    fn error_echo_is_bounded() {
        let long = "9".repeat(500);
        let e = KubeVersion::parse_target(&long).unwrap_err();
        assert!(e.to_string().len() < 200);
    }
}
