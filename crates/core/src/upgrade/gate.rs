//! The compat gate: may the cluster upgrade to a target Kubernetes version now?
//!
//! A drop-in for the original `compat-gate.py` (docs/contracts/compat-gate.md). [`evaluate`] takes the target,
//! the validated matrix and the cluster facts, and returns a [`Decision`]: the reasons,
//! each tagged `[ACTIONABLE]`, `[WAITING]` or `[PINNED]`, and the verdict with its exit
//! code (0 safe, 2 actionable block, 4 held). A gate that cannot decide returns a
//! [`GateError`], which callers map to exit 3.
//!
//! Rules, in the order they are applied:
//! 1. running minor = the oldest kubelet minor across nodes;
//! 2. a target at or below the running minor is a patch: the gate is inert for addons,
//!    containerd floors and Prometheus availability (no API removal or containerd floor
//!    occurs inside a minor); removed-API samples and skew are still checked;
//! 3. on a minor jump, each addon: unreadable image or below the lowest matrix floor →
//!    `[ACTIONABLE]` (refusing to upgrade blind); else the highest floor ≤ running decides;
//!    if the target exceeds its `max_k8s`: pinned → `[PINNED]`, a higher floor supports
//!    the target → `[ACTIONABLE]` "upgrade X to >= V" (smallest such V), else `[WAITING]`;
//! 4. removed APIs in use (`removed_release` ≤ target) → `[ACTIONABLE]`; Prometheus
//!    unreachable on a minor jump → `[ACTIONABLE]` (fail-safe);
//! 5. containerd below the floor for the target minor on any node → `[ACTIONABLE]`;
//! 6. beyond the original, version skew: more than one minor at a time, a kubelet that
//!    would fall outside the supported skew, or a node newer than the target →
//!    `[ACTIONABLE]`;
//! 7. held (any `[WAITING]`/`[PINNED]`) wins over actionable.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use serde::Serialize;
use thiserror::Error;

use super::matrix::CompatMatrix;
use super::removed_apis;
use super::snapshot::{ClusterSnapshot, NodeFacts};
use crate::version::{DottedVersion, KubeVersion, Minor, VersionError};

/// The class of a reason; it decides the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tag {
    /// Something we can do now would clear it (alert).
    Actionable,
    /// No released version supports the target yet (quiet, held).
    Waiting,
    /// Deliberately held by the operator in the matrix (quiet, held).
    Pinned,
}

impl Tag {
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Actionable => "ACTIONABLE",
            Tag::Waiting => "WAITING",
            Tag::Pinned => "PINNED",
        }
    }

    pub fn is_held(self) -> bool {
        matches!(self, Tag::Waiting | Tag::Pinned)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.as_str())
    }
}

/// What a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    Addon,
    RemovedApi,
    Prometheus,
    Containerd,
    Skew,
}

/// One blocker, as one report line: `[TAG] message`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Reason {
    pub tag: Tag,
    pub kind: ReasonKind,
    /// The addon, API (`batch/v1beta1/cronjobs`), node, or `cluster`.
    pub subject: String,
    /// The line after the tag (wording and its differences from the original:
    /// docs/contracts/compat-gate.md).
    pub message: String,
    /// What would clear it.
    pub hint: String,
    /// Where the finding comes from.
    pub source: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tag, self.message)
    }
}

/// The gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Safe,
    Blocked,
    Held,
}

impl Verdict {
    /// 0 safe, 2 actionable block, 4 held. (3, the gate failing, is a [`GateError`].)
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Safe => 0,
            Verdict::Blocked => 2,
            Verdict::Held => 4,
        }
    }

    /// Held wins on a mix; no reasons is safe.
    pub fn from_reasons<'a>(reasons: impl IntoIterator<Item = &'a Reason>) -> Verdict {
        let mut v = Verdict::Safe;
        for r in reasons {
            if r.tag.is_held() {
                return Verdict::Held;
            }
            v = Verdict::Blocked;
        }
        v
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub target: KubeVersion,
    /// The oldest kubelet minor.
    pub running: Minor,
    /// The node that sets `running` (first by name among the oldest).
    pub oldest_node: String,
    /// `false` for a patch (target minor ≤ running minor).
    pub minor_jump: bool,
    pub verdict: Verdict,
    /// Canonically ordered (tag, kind, subject, message): independent of input order.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }

    /// The stdout report: one `[TAG] message` line per reason, or the OK line.
    pub fn report(&self) -> String {
        if self.reasons.is_empty() {
            return format!("compat-gate OK: cluster is safe to upgrade to {}\n", self.target);
        }
        let mut out = String::new();
        for r in &self.reasons {
            let _ = writeln!(out, "{r}");
        }
        out
    }

    /// The `--json` document: `{verdict, exit_code, target, running, minor_jump,
    /// reasons: [{tag, kind, subject, message, hint, source}]}`. The shape is a contract.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "verdict": self.verdict,
            "exit_code": self.exit_code(),
            "target": self.target.to_string(),
            "running": self.running.to_string(),
            "minor_jump": self.minor_jump,
            "reasons": self.reasons,
        })
    }

    /// A one-line summary for stderr.
    pub fn summary(&self) -> String {
        let count = |t: Tag| self.reasons.iter().filter(|r| r.tag == t).count();
        match self.verdict {
            Verdict::Safe => format!("compat-gate SAFE: {} may be upgraded to {}", self.running, self.target),
            Verdict::Blocked => format!(
                "compat-gate BLOCKED: {} is blocked by {} actionable reason(s)",
                self.target,
                count(Tag::Actionable)
            ),
            Verdict::Held => format!(
                "compat-gate HELD: {} not yet upgradable ({} actionable, {} waiting, {} pinned)",
                self.target,
                count(Tag::Actionable),
                count(Tag::Waiting),
                count(Tag::Pinned)
            ),
        }
    }

    /// A human explanation of the verdict: what was compared, and the reasons grouped
    /// the way the nightly report groups them.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let verdict = match self.verdict {
            Verdict::Safe => "SAFE",
            Verdict::Blocked => "BLOCKED (action needed)",
            Verdict::Held => "HELD",
        };
        let _ = writeln!(out, "Verdict: {verdict} — exit code {}", self.exit_code());
        let _ = writeln!(
            out,
            "Running minor {} (the oldest kubelet, on {}); target {} is {}.",
            self.running,
            self.oldest_node,
            self.target,
            if self.minor_jump {
                "a minor upgrade: addons, removed APIs, containerd and skew are checked"
            } else {
                "a patch: addons are never blocking"
            }
        );
        for (tag, title) in [
            (Tag::Actionable, "Action needed"),
            (Tag::Waiting, "Waiting on upstream"),
            (Tag::Pinned, "Pinned (held by us)"),
        ] {
            let group: Vec<&Reason> = self.reasons.iter().filter(|r| r.tag == tag).collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:");
            for r in group {
                let _ = writeln!(out, "  - {}", r.message);
                let _ = writeln!(out, "      fix: {}  (source: {})", r.hint, r.source);
            }
        }
        match self.verdict {
            Verdict::Safe => {
                let _ = writeln!(out, "Nothing blocks the upgrade; the chain may proceed.");
            }
            Verdict::Blocked => {
                let _ = writeln!(
                    out,
                    "Every blocker is actionable: clearing them lets the next nightly run proceed (K8sUpgradeBlocked fires)."
                );
            }
            Verdict::Held => {
                let _ = writeln!(
                    out,
                    "Held wins: at least one blocker waits on upstream or a pin, so acting on the actionable ones alone would not unblock {}; no alert, the nightly report shows it.",
                    self.target
                );
            }
        }
        out
    }
}

/// The gate could not decide (exit 3, fail-safe).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum GateError {
    #[error("the cluster has no nodes; cannot determine the running version")]
    NoNodes,
    #[error("node {node:?}: {source}")]
    Kubelet {
        node: String,
        #[source]
        source: VersionError,
    },
}

/// Decides whether the cluster may upgrade to `target`.
pub fn evaluate(target: KubeVersion, matrix: &CompatMatrix, snapshot: &ClusterSnapshot) -> Result<Decision, GateError> {
    let nodes = parse_nodes(&snapshot.nodes)?;
    // Oldest kubelet; ties broken by node name so the answer ignores node order.
    let (oldest_version, oldest_node) = nodes
        .iter()
        .map(|(n, v)| (v.minor(), n.name.as_str()))
        .min()
        .ok_or(GateError::NoNodes)?;
    let running = oldest_version;
    let t = target.minor();
    let minor_jump = t > running;

    let mut reasons = BTreeSet::new();
    if minor_jump {
        check_addons(t, matrix, snapshot, &mut reasons);
        check_containerd(t, matrix, &snapshot.nodes, &mut reasons);
    }
    check_removed_apis(t, minor_jump, snapshot, &mut reasons);
    check_skew(target, running, minor_jump, &nodes, &mut reasons);

    let reasons: Vec<Reason> = reasons.into_iter().collect();
    Ok(Decision {
        target,
        running,
        oldest_node: oldest_node.to_owned(),
        minor_jump,
        verdict: Verdict::from_reasons(&reasons),
        reasons,
    })
}

fn parse_nodes(nodes: &[NodeFacts]) -> Result<Vec<(&NodeFacts, KubeVersion)>, GateError> {
    nodes
        .iter()
        .map(|n| {
            KubeVersion::parse_kubelet(&n.kubelet_version)
                .map(|v| (n, v))
                .map_err(|source| GateError::Kubelet {
                    node: n.name.chars().take(253).collect(),
                    source,
                })
        })
        .collect()
}

fn check_addons(t: Minor, matrix: &CompatMatrix, snap: &ClusterSnapshot, out: &mut BTreeSet<Reason>) {
    for addon in &matrix.addons {
        let name = &addon.name;
        let wref = addon.workload_ref();
        let source = format!("addon-compat matrix + workload {wref}");
        let reason = |tag, message: String, hint: String| Reason {
            tag,
            kind: ReasonKind::Addon,
            subject: name.clone(),
            message,
            hint,
            source: source.clone(),
        };
        let Some(workload) = snap.workload(&addon.namespace, addon.kind, &addon.resource) else {
            out.insert(reason(
                Tag::Actionable,
                format!("{name}: workload {wref} not found; cannot read its version — refusing to upgrade blind"),
                format!("check that {wref} exists, or fix the matrix entry for {name}"),
            ));
            continue;
        };
        let Some(running) = addon.running_version(workload.images.iter().map(String::as_str)) else {
            let images: BTreeSet<&str> = workload.images.iter().map(String::as_str).collect();
            out.insert(reason(
                Tag::Actionable,
                format!(
                    "{name}: cannot read version from {wref} images [{}] with image_re {} — refusing to upgrade blind",
                    images.into_iter().collect::<Vec<_>>().join(", "),
                    addon.image_re.as_str()
                ),
                format!("fix image_re for {name} in the matrix, or check the workload's image"),
            ));
            continue;
        };
        let Some((floor, max)) = addon.row_for(&running) else {
            let lowest = &addon.max_k8s[0].0;
            out.insert(reason(
                Tag::Actionable,
                format!(
                    "{name}: running {running} is below the matrix (lowest row {lowest}) — refusing to upgrade blind"
                ),
                format!("upgrade {name} to >= {lowest}, or add a matrix row for {running}"),
            ));
            continue;
        };
        if t <= *max {
            continue;
        }
        let head = format!("{name}: running {running} (matrix row {floor}) supports k8s <= {max}");
        if addon.pinned {
            let why = addon.pin_reason.as_deref().unwrap_or("no pin_reason given");
            out.insert(reason(
                Tag::Pinned,
                format!("{head}; {name} is pinned: {why}"),
                format!("lift the pin (delete \"pinned\" and \"pin_reason\" for {name}) when ready"),
            ));
        } else if let Some(v) = addon.smallest_sufficient(&running, t) {
            out.insert(reason(
                Tag::Actionable,
                format!("{head}; upgrade {name} to >= {v}"),
                format!("upgrade {name} to >= {v}"),
            ));
        } else {
            out.insert(reason(
                Tag::Waiting,
                format!("{head}; no released {name} version supports k8s {t} yet"),
                format!("wait for a release of {name} that supports k8s {t}, then add it to the matrix"),
            ));
        }
    }
}

fn check_removed_apis(t: Minor, minor_jump: bool, snap: &ClusterSnapshot, out: &mut BTreeSet<Reason>) {
    const SOURCE: &str = "prometheus apiserver_requested_deprecated_apis";
    let Some(requests) = &snap.deprecated_api_requests else {
        if minor_jump {
            let cause = snap
                .deprecated_api_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            out.insert(Reason {
                tag: Tag::Actionable,
                kind: ReasonKind::Prometheus,
                subject: "prometheus".into(),
                message: format!(
                    "cannot query deprecated API usage from Prometheus{cause} — refusing to upgrade blind"
                ),
                hint: "make Prometheus reachable (--prometheus URL or PROM) and re-run".into(),
                source: SOURCE.into(),
            });
        }
        return;
    };
    let unique: BTreeSet<_> = requests.iter().collect();
    for req in unique {
        let gv = req.group_version();
        let subject = format!("{gv}/{}", req.resource);
        let builtin = removed_apis::by_resource(&req.group, &req.version, &req.resource);
        let (removed, source) = if req.removed_release.trim().is_empty() {
            match builtin {
                Some(r) => (
                    r.removed_minor(),
                    format!("{SOURCE} + built-in removed-API table ({})", r.source),
                ),
                None => continue, // deprecated, no removal scheduled: not a blocker
            }
        } else {
            match Minor::parse(&req.removed_release) {
                Ok(m) => (m, SOURCE.to_owned()),
                Err(_) => {
                    out.insert(Reason {
                        tag: Tag::Actionable,
                        kind: ReasonKind::RemovedApi,
                        subject,
                        message: format!(
                            "deprecated API {gv} {} is in use and its removed_release {:?} is unreadable — refusing to upgrade blind",
                            req.resource,
                            req.removed_release.chars().take(20).collect::<String>()
                        ),
                        hint: format!("migrate callers of {gv} {} off the deprecated API", req.resource),
                        source: SOURCE.into(),
                    });
                    continue;
                }
            }
        };
        if removed > t {
            continue;
        }
        let replacement = builtin
            .map(|r| format!("move callers to {}", r.replacement))
            .unwrap_or_else(|| "move callers to a served API version".into());
        out.insert(Reason {
            tag: Tag::Actionable,
            kind: ReasonKind::RemovedApi,
            subject,
            message: format!(
                "removed API in use: {gv} {} is removed in {removed} (target {t}); migrate its callers",
                req.resource
            ),
            hint: replacement,
            source,
        });
    }
}

fn check_containerd(t: Minor, matrix: &CompatMatrix, nodes: &[NodeFacts], out: &mut BTreeSet<Reason>) {
    let Some(floor) = matrix.containerd_floor(t) else {
        return;
    };
    for n in nodes {
        let Some(raw) = n.container_runtime_version.strip_prefix("containerd://") else {
            continue; // another runtime: the containerd floor does not apply
        };
        let numeric: String = raw.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let source = format!("node {} status.nodeInfo.containerRuntimeVersion", n.name);
        match DottedVersion::parse(numeric.trim_end_matches('.')) {
            Ok(v) if v >= *floor => {}
            Ok(v) => {
                out.insert(Reason {
                    tag: Tag::Actionable,
                    kind: ReasonKind::Containerd,
                    subject: n.name.clone(),
                    message: format!(
                        "node {}: containerd {v} is below {floor}, the minimum for k8s {t}; bump containerd on {}",
                        n.name, n.name
                    ),
                    hint: format!("upgrade containerd on {} to >= {floor}", n.name),
                    source,
                });
            }
            Err(_) => {
                out.insert(Reason {
                    tag: Tag::Actionable,
                    kind: ReasonKind::Containerd,
                    subject: n.name.clone(),
                    message: format!(
                        "node {}: cannot read containerd version {:?} — refusing to upgrade blind",
                        n.name,
                        n.container_runtime_version.chars().take(40).collect::<String>()
                    ),
                    hint: format!("check the container runtime on {}", n.name),
                    source,
                });
            }
        }
    }
}

fn check_skew(
    target: KubeVersion,
    running: Minor,
    minor_jump: bool,
    nodes: &[(&NodeFacts, KubeVersion)],
    out: &mut BTreeSet<Reason>,
) {
    const SOURCE: &str = "version-skew policy (kubernetes.io/releases/version-skew-policy) + node kubelet versions";
    let t = target.minor();
    if minor_jump && t.minus(running) > 1 {
        let next = running.offset(1);
        out.insert(Reason {
            tag: Tag::Actionable,
            kind: ReasonKind::Skew,
            subject: "cluster".into(),
            message: format!(
                "target {target} is {} minors ahead of running {running}; kubeadm upgrades one minor at a time — upgrade to {next} first",
                t.minus(running)
            ),
            hint: format!("upgrade to {next} first"),
            source: SOURCE.into(),
        });
    }
    for (n, v) in nodes {
        let kubelet = v.minor();
        if kubelet > t {
            out.insert(Reason {
                tag: Tag::Actionable,
                kind: ReasonKind::Skew,
                subject: n.name.clone(),
                message: format!(
                    "node {}: kubelet {} is newer than target {target}; kubeadm cannot downgrade",
                    n.name, n.kubelet_version
                ),
                hint: format!("target {kubelet} or later"),
                source: SOURCE.into(),
            });
            continue;
        }
        if !minor_jump {
            continue;
        }
        // kubelet may be up to 3 minors older than the apiserver (2 before 1.25).
        let allowed = if kubelet < Minor::new(1, 25) { 2 } else { 3 };
        let behind = t.minus(kubelet);
        if behind > allowed {
            out.insert(Reason {
                tag: Tag::Actionable,
                kind: ReasonKind::Skew,
                subject: n.name.clone(),
                message: format!(
                    "node {}: kubelet {} would be {behind} minors behind a {t} control plane (at most {allowed} allowed); upgrade its kubelet first",
                    n.name, n.kubelet_version
                ),
                hint: format!("upgrade the kubelet on {} to >= {}", n.name, t.offset(-allowed)),
                source: SOURCE.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(nodes: &[(&str, &str)]) -> ClusterSnapshot {
        ClusterSnapshot {
            nodes: nodes
                .iter()
                .map(|(n, v)| NodeFacts {
                    name: (*n).into(),
                    kubelet_version: (*v).into(),
                    container_runtime_version: "containerd://2.0.4".into(),
                    control_plane: false,
                })
                .collect(),
            deprecated_api_requests: Some(vec![]),
            ..ClusterSnapshot::default()
        }
    }

    fn empty_matrix() -> CompatMatrix {
        CompatMatrix::from_json(r#"{"addons": []}"#).unwrap()
    }

    #[test]
    fn gate_errors() {
        let t = KubeVersion::parse_target("1.36").unwrap();
        assert_eq!(evaluate(t, &empty_matrix(), &snap(&[])), Err(GateError::NoNodes));
        let e = evaluate(t, &empty_matrix(), &snap(&[("a", "v1.35.1"), ("b", "garbage")])).unwrap_err();
        assert!(matches!(&e, GateError::Kubelet { node, .. } if node == "b"), "{e}");
    }

    #[test]
    fn json_shape() {
        let t = KubeVersion::parse_target("1.37").unwrap();
        let d = evaluate(t, &empty_matrix(), &snap(&[("a", "v1.35.1")])).unwrap();
        let j = d.to_json();
        assert_eq!(j["verdict"], "blocked");
        assert_eq!(j["exit_code"], 2);
        let r = &j["reasons"][0];
        for k in ["tag", "kind", "subject", "message", "hint", "source"] {
            assert!(r.get(k).is_some(), "missing {k}");
        }
        assert_eq!(r["tag"], "ACTIONABLE");
        assert_eq!(r["kind"], "skew");
        let safe = evaluate(
            KubeVersion::parse_target("1.35.2").unwrap(),
            &empty_matrix(),
            &snap(&[("a", "v1.35.1")]),
        )
        .unwrap();
        assert_eq!(safe.to_json()["verdict"], "safe");
        assert_eq!(safe.report(), "compat-gate OK: cluster is safe to upgrade to 1.35.2\n");
    }
}
