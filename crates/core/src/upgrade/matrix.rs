//! The addon compatibility matrix (`addon-compat.json`), in the original's format.
//!
//! ```json
//! { "addons": [ { "name": "calico", "namespace": "calico-system", "kind": "daemonset",
//!     "resource": "calico-node", "image_re": "node:v?([0-9]+\\.[0-9]+)",
//!     "max_k8s": { "3.30": "1.35", "3.32": "1.36" },
//!     "pinned": false, "pin_reason": "…" } ],
//!   "containerd_min": { "1.36": "2.0" } }
//! ```
//! Unknown keys (such as `_comment`) are ignored so existing files keep working.
//! [`CompatMatrix::from_json`] validates everything up front: a matrix that parses is
//! one the gate can evaluate without further errors.

use std::collections::{BTreeMap, HashSet};

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use thiserror::Error;

use super::snapshot::WorkloadKind;
use crate::version::{DottedVersion, Minor};

/// A validated compatibility matrix.
#[derive(Debug, Clone)]
pub struct CompatMatrix {
    pub addons: Vec<Addon>,
    /// `(k8s minor, minimum containerd)`, sorted by minor.
    pub containerd_min: Vec<(Minor, DottedVersion)>,
}

/// One addon row of the matrix.
#[derive(Debug, Clone)]
pub struct Addon {
    pub name: String,
    pub namespace: String,
    pub kind: WorkloadKind,
    pub resource: String,
    /// Capture group 1 is the addon version.
    pub image_re: Regex,
    /// `(addon version floor, highest supported k8s minor)`, sorted by floor.
    pub max_k8s: Vec<(DottedVersion, Minor)>,
    pub pinned: bool,
    pub pin_reason: Option<String>,
}

impl Addon {
    /// The row that applies to a running version: the highest floor ≤ `running`.
    pub fn row_for(&self, running: &DottedVersion) -> Option<&(DottedVersion, Minor)> {
        self.max_k8s.iter().rev().find(|(floor, _)| floor <= running)
    }

    /// The smallest floor above `running` whose `max_k8s` reaches `target`.
    pub fn smallest_sufficient(&self, running: &DottedVersion, target: Minor) -> Option<&DottedVersion> {
        self.max_k8s
            .iter()
            .find(|(floor, max)| floor > running && *max >= target)
            .map(|(floor, _)| floor)
    }

    /// The running version read from a workload's images with `image_re`: the lowest
    /// version among the images that match (a conservative pick if sidecars disagree).
    /// `None` when no image yields a version.
    pub fn running_version<'a, I>(&self, images: I) -> Option<DottedVersion>
    where
        I: IntoIterator<Item = &'a str>,
    {
        images
            .into_iter()
            .filter_map(|img| self.image_re.captures(img))
            .filter_map(|c| c.get(1))
            .filter_map(|m| DottedVersion::parse(m.as_str()).ok())
            .min()
    }

    /// Where this addon's version is read from, as `namespace/kind/name`.
    pub fn workload_ref(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind, self.resource)
    }
}

impl CompatMatrix {
    /// Parses and validates the matrix JSON.
    pub fn from_json(text: &str) -> Result<Self, MatrixError> {
        let raw: RawMatrix = serde_json::from_str(text).map_err(|e| MatrixError::Json {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawMatrix) -> Result<Self, MatrixError> {
        let mut seen = HashSet::new();
        let mut addons = Vec::with_capacity(raw.addons.len());
        for a in raw.addons {
            let name = a.name.trim().to_owned();
            if name.is_empty() {
                return Err(MatrixError::Addon {
                    addon: "<unnamed>".into(),
                    problem: "missing \"name\"".into(),
                });
            }
            let err = |problem: String| MatrixError::Addon {
                addon: name.clone(),
                problem,
            };
            if !seen.insert(name.clone()) {
                return Err(err("listed twice".into()));
            }
            let kind = WorkloadKind::parse(&a.kind).ok_or_else(|| {
                err(format!(
                    "unknown kind {:?} (expected deployment, daemonset or statefulset)",
                    truncate(&a.kind)
                ))
            })?;
            if a.namespace.trim().is_empty() || a.resource.trim().is_empty() {
                return Err(err("\"namespace\" and \"resource\" must not be empty".into()));
            }
            let image_re = RegexBuilder::new(&a.image_re)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| MatrixError::ImageRe {
                    addon: name.clone(),
                    message: e.to_string().lines().last().unwrap_or("invalid").trim().to_owned(),
                })?;
            if image_re.captures_len() < 2 {
                return Err(MatrixError::ImageRe {
                    addon: name.clone(),
                    message: "needs a capture group for the version, e.g. node:v?([0-9]+\\.[0-9]+)".into(),
                });
            }
            if a.max_k8s.is_empty() {
                return Err(err("\"max_k8s\" has no rows".into()));
            }
            let mut rows = Vec::with_capacity(a.max_k8s.len());
            for (floor, max) in &a.max_k8s {
                let f = DottedVersion::parse(floor).map_err(|e| err(format!("max_k8s key: {e}")))?;
                let m = Minor::parse(max).map_err(|e| err(format!("max_k8s[{floor:?}]: {e}")))?;
                rows.push((f, m));
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            if rows.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(err("\"max_k8s\" lists the same version twice".into()));
            }
            addons.push(Addon {
                name,
                namespace: a.namespace,
                kind,
                resource: a.resource,
                image_re,
                max_k8s: rows,
                pinned: a.pinned,
                pin_reason: a.pin_reason.filter(|r| !r.trim().is_empty()),
            });
        }
        let mut containerd_min = Vec::with_capacity(raw.containerd_min.len());
        for (k8s, min) in &raw.containerd_min {
            let m = Minor::parse(k8s).map_err(|e| MatrixError::Containerd(format!("key: {e}")))?;
            let v = DottedVersion::parse(min).map_err(|e| MatrixError::Containerd(format!("[{k8s:?}]: {e}")))?;
            containerd_min.push((m, v));
        }
        containerd_min.sort_by_key(|a| a.0);
        Ok(Self { addons, containerd_min })
    }

    /// The containerd floor for a target minor: the entry with the highest key ≤ the
    /// target (a floor stays in force for later minors).
    pub fn containerd_floor(&self, target: Minor) -> Option<&DottedVersion> {
        self.containerd_min
            .iter()
            .rev()
            .find(|(m, _)| *m <= target)
            .map(|(_, v)| v)
    }
}

/// Why a matrix was refused. The gate turns every one of these into exit 3.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MatrixError {
    #[error("line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("addon {addon:?}: invalid image_re: {message}")]
    ImageRe { addon: String, message: String },
    #[error("addon {addon:?}: {problem}")]
    Addon { addon: String, problem: String },
    #[error("containerd_min {0}")]
    Containerd(String),
}

#[derive(Deserialize)]
struct RawMatrix {
    #[serde(default)]
    addons: Vec<RawAddon>,
    #[serde(default)]
    containerd_min: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawAddon {
    name: String,
    namespace: String,
    kind: String,
    resource: String,
    image_re: String,
    max_k8s: BTreeMap<String, String>,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    pin_reason: Option<String>,
}

/// serde_json appends " at line L column C"; we report the position separately.
pub(crate) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{ "_comment": "x", "addons": [ { "name": "calico", "namespace": "calico-system",
        "kind": "daemonset", "resource": "calico-node", "image_re": "node:v?([0-9]+\\.[0-9]+)",
        "max_k8s": { "3.32": "1.36", "3.30": "1.35" }, "pinned": false } ],
        "containerd_min": { "1.37": "2.1", "1.36": "2.0" } }"#;

    #[test]
    fn parses_and_sorts() {
        let m = CompatMatrix::from_json(OK).unwrap();
        let a = &m.addons[0];
        assert_eq!(a.max_k8s[0].0.as_str(), "3.30");
        assert_eq!(
            a.running_version(["quay.io/calico/node:v3.30.7"]).unwrap().as_str(),
            "3.30"
        );
        assert!(a.running_version(["quay.io/calico/cni:v3.30.7"]).is_none());
        assert_eq!(m.containerd_floor(Minor::new(1, 35)), None);
        assert_eq!(m.containerd_floor(Minor::new(1, 36)).unwrap().as_str(), "2.0");
        assert_eq!(m.containerd_floor(Minor::new(1, 38)).unwrap().as_str(), "2.1");
    }

    #[test]
    fn json_errors_carry_position() {
        let e = CompatMatrix::from_json("{\n  \"addons\": [ 1, ]\n}").unwrap_err();
        match e {
            MatrixError::Json { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn invalid_image_re_names_the_addon() {
        let bad = OK.replace(r#"node:v?([0-9]+\\.[0-9]+)"#, r#"node:v?([0-9]+"#);
        let e = CompatMatrix::from_json(&bad).unwrap_err();
        assert!(
            matches!(&e, MatrixError::ImageRe { addon, .. } if addon == "calico"),
            "{e}"
        );
        let nogroup = OK.replace(r#"node:v?([0-9]+\\.[0-9]+)"#, r#"node:v?[0-9]+"#);
        assert!(matches!(
            CompatMatrix::from_json(&nogroup),
            Err(MatrixError::ImageRe { .. })
        ));
    }

    #[test]
    fn refuses_bad_rows() {
        for (from, to) in [
            (r#""3.32": "1.36""#, r#""3.x": "1.36""#),
            (r#""3.32": "1.36""#, r#""3.32": "one""#),
            (r#""daemonset""#, r#""cronjob""#),
            (r#""calico-node""#, r#""""#),
            (r#""1.37": "2.1""#, r#""1.37": "two""#),
        ] {
            let bad = OK.replace(from, to);
            assert!(CompatMatrix::from_json(&bad).is_err(), "{to} accepted");
        }
    }
}
