//! The manifest policy engine behind `homelab policy check`: rules with stable IDs over
//! any Kubernetes objects parsed by [`crate::manifest`].
//!
//! - Workloads: `Pod`, `PodTemplate` and the pod templates of `Deployment`, `StatefulSet`,
//!   `DaemonSet`, `ReplicaSet`, `ReplicationController`, `Job`, `CronJob`; init, regular
//!   and ephemeral containers.
//! - `Ingress` (auth posture, [`crate::posture`]) and `NetworkPolicy` (metadata egress,
//!   namespace-aware).
//!
//! Each rule has a page `docs/policy/<ID>.md` (what, why, how to fix, how to exempt).
//! Exemptions ([`exempt`]) need a non-blank reason and may expire; the clock is an input.
//! The report ([`Report`]) decides the exit code, and the renderings ([`render`]) never
//! change it.

pub mod exempt;
pub mod image;
pub mod netpol;
pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::manifest::{Document, name_and_namespace};
use crate::posture;
pub use exempt::{Date, Exemption, ExemptionStatus};
pub use image::{ImageRef, InvalidTrustedRegistry, TrustedRegistry};

/// How bad a finding is. Both fail the check (exit 1); the level shows in reports and
/// maps to SARIF `error`/`warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// `default` for every environment; `prod` adds digest pinning and requires trusted
/// registries to be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Default,
    Prod,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Prod => "prod",
        }
    }
}

/// A rule's catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable ID, never reused: `HL-<AREA>-<NNN>`.
    pub id: &'static str,
    /// Stable slug, used in exemption annotation keys.
    pub slug: &'static str,
    pub severity: Severity,
    /// One line: what the rule requires.
    pub title: &'static str,
    /// Only evaluated under `--profile prod`.
    pub prod_only: bool,
}

pub const IMAGE_TAG: Rule = Rule {
    id: "HL-IMG-001",
    slug: "image-tag",
    severity: Severity::Error,
    title: "Images have a fixed tag or digest (not :latest, not untagged)",
    prod_only: false,
};
pub const IMAGE_DIGEST: Rule = Rule {
    id: "HL-IMG-002",
    slug: "image-digest",
    severity: Severity::Error,
    title: "Production images are pinned by a sha256 digest",
    prod_only: true,
};
pub const TRUSTED_REGISTRY: Rule = Rule {
    id: "HL-IMG-003",
    slug: "trusted-registry",
    severity: Severity::Error,
    title: "Images come from a trusted registry",
    prod_only: false,
};
pub const RUN_AS_NON_ROOT: Rule = Rule {
    id: "HL-POD-001",
    slug: "run-as-non-root",
    severity: Severity::Error,
    title: "Containers run with runAsNonRoot: true and not as UID 0",
    prod_only: false,
};
pub const RESOURCE_REQUESTS: Rule = Rule {
    id: "HL-RES-001",
    slug: "resource-requests",
    severity: Severity::Warning,
    title: "Containers request CPU and memory",
    prod_only: false,
};
pub const MEMORY_LIMIT: Rule = Rule {
    id: "HL-RES-002",
    slug: "memory-limit",
    severity: Severity::Warning,
    title: "Containers have a memory limit",
    prod_only: false,
};
pub const PRIVILEGED: Rule = Rule {
    id: "HL-SEC-001",
    slug: "privileged",
    severity: Severity::Error,
    title: "Containers are not privileged",
    prod_only: false,
};
pub const HOST_NAMESPACES: Rule = Rule {
    id: "HL-SEC-002",
    slug: "host-namespaces",
    severity: Severity::Error,
    title: "Pods do not share the host's network, PID or IPC namespace",
    prod_only: false,
};
pub const SYS_ADMIN: Rule = Rule {
    id: "HL-SEC-003",
    slug: "sys-admin",
    severity: Severity::Error,
    title: "Containers do not add the SYS_ADMIN (or ALL) capability",
    prod_only: false,
};
pub const METADATA_EGRESS: Rule = Rule {
    id: "HL-NET-001",
    slug: "metadata-egress",
    severity: Severity::Warning,
    title: "Namespaces with workloads default-deny egress and never allow 169.254.169.254",
    prod_only: false,
};
pub const INGRESS_AUTH: Rule = Rule {
    id: posture::INGRESS_AUTH_POSTURE_ID,
    slug: posture::INGRESS_AUTH_POSTURE,
    severity: Severity::Error,
    title: "Admin UIs are not exposed without an authenticating middleware",
    prod_only: false,
};

/// Every rule, in report order.
pub const RULES: &[Rule] = &[
    IMAGE_TAG,
    IMAGE_DIGEST,
    TRUSTED_REGISTRY,
    RUN_AS_NON_ROOT,
    RESOURCE_REQUESTS,
    MEMORY_LIMIT,
    PRIVILEGED,
    HOST_NAMESPACES,
    SYS_ADMIN,
    METADATA_EGRESS,
    INGRESS_AUTH,
];

/// The rule with this ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// What to check and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub profile: Profile,
    /// Empty: HL-IMG-003 is not evaluated (reported as skipped) under `default`, and
    /// `prod` refuses to run.
    pub trusted_registries: Vec<TrustedRegistry>,
    /// Today's date (UTC), for exemption expiry. `None`: expiring exemptions are not honoured.
    pub today: Option<Date>,
}

/// A configuration the engine refuses (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "--profile prod needs trusted registries: pass --trusted-registry HOST[/PATH] or set [policy] trusted_registries in the config"
    )]
    ProdWithoutTrustedRegistries,
}

/// One input file's documents.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// How the file is named in reports (`<stdin>` for standard input).
    pub file: &'a str,
    pub documents: &'a [Document],
}

/// One rule violation on one object (and container, for container rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub slug: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    /// 0-based document index in the file.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub container: Option<String>,
    /// Set when an exemption annotation exists but is not honoured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption_problem: Option<String>,
}

/// A finding that an honoured exemption covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exempted {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
    pub until: Option<String>,
}

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub profile: Profile,
    pub files: usize,
    /// Kubernetes objects seen (documents with `apiVersion` and `kind`).
    pub objects: usize,
    /// Workloads (pod specs) checked.
    pub workloads: usize,
    /// Findings not covered by an exemption, in input order.
    pub findings: Vec<Finding>,
    pub exempted: Vec<Exempted>,
    /// Rules that were not evaluated, with why.
    pub skipped_rules: Vec<SkippedRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRule {
    pub rule: &'static str,
    pub reason: String,
}

impl Report {
    /// 1 when any finding is not exempted, else 0. (Errors reading or parsing input are the
    /// caller's exit 2 and never reach a report.)
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.findings.is_empty())
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }

    /// Findings whose exemption annotation was present but not honoured.
    pub fn invalid_exemptions(&self) -> usize {
        self.findings.iter().filter(|f| f.exemption_problem.is_some()).count()
    }
}

/// A workload's pod spec with where it came from.
struct Workload<'a> {
    object: &'a Value,
    pod_spec: &'a Value,
    template_metadata: Option<&'a Value>,
}

fn workload(v: &Value) -> Option<Workload<'_>> {
    let kind = v.get("kind")?.as_str()?;
    let template = match kind {
        "Pod" => {
            return Some(Workload {
                object: v,
                pod_spec: v.get("spec")?,
                template_metadata: None,
            });
        }
        "PodTemplate" => v.get("template")?,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            v.get("spec")?.get("template")?
        }
        "CronJob" => v.get("spec")?.get("jobTemplate")?.get("spec")?.get("template")?,
        _ => return None,
    };
    Some(Workload {
        object: v,
        pod_spec: template.get("spec")?,
        template_metadata: template.get("metadata"),
    })
}

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// Checks every object of every source.
pub fn check(sources: &[Source<'_>], options: &Options) -> Result<Report, ConfigError> {
    if options.profile == Profile::Prod && options.trusted_registries.is_empty() {
        return Err(ConfigError::ProdWithoutTrustedRegistries);
    }
    // Pass 1: NetworkPolicies per namespace (cross-object, so all inputs first).
    let mut egress: BTreeMap<String, netpol::NamespaceEgress> = BTreeMap::new();
    for s in sources {
        for d in s.documents {
            if d.value.get("kind").and_then(Value::as_str) == Some("NetworkPolicy") {
                netpol::add_policy(&mut egress, &d.value);
            }
        }
    }
    let mut ctx = Ctx {
        options,
        findings: Vec::new(),
        exempted: Vec::new(),
    };
    let mut objects = 0;
    let mut workloads = 0;
    for s in sources {
        for d in s.documents {
            let Some((_, kind)) = crate::manifest::type_meta(&d.value) else {
                continue;
            };
            objects += 1;
            let (name, namespace) = name_and_namespace(&d.value);
            let at = At {
                file: s.file,
                doc: d,
                kind,
                name,
                namespace,
            };
            if let Some(w) = workload(&d.value) {
                workloads += 1;
                ctx.workload(&at, &w, &egress);
            } else if kind == "Ingress" {
                ctx.ingress(&at);
            }
        }
    }
    let mut skipped_rules = Vec::new();
    if options.profile != Profile::Prod {
        skipped_rules.push(SkippedRule {
            rule: IMAGE_DIGEST.id,
            reason: "only evaluated with --profile prod".into(),
        });
    }
    if options.trusted_registries.is_empty() {
        skipped_rules.push(SkippedRule {
            rule: TRUSTED_REGISTRY.id,
            reason: "no trusted registries configured (--trusted-registry or [policy] trusted_registries)".into(),
        });
    }
    Ok(Report {
        profile: options.profile,
        files: sources.len(),
        objects,
        workloads,
        findings: ctx.findings,
        exempted: ctx.exempted,
        skipped_rules,
    })
}

struct At<'a> {
    file: &'a str,
    doc: &'a Document,
    kind: &'a str,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
}

struct Ctx<'o> {
    options: &'o Options,
    findings: Vec<Finding>,
    exempted: Vec<Exempted>,
}

fn annotations(meta: Option<&Value>) -> Option<&Value> {
    meta.and_then(|m| m.get("annotations"))
}

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

impl Ctx<'_> {
    fn report(
        &mut self,
        rule: &Rule,
        at: &At<'_>,
        exemption_sources: &[Option<&Value>],
        container: Option<&str>,
        message: String,
    ) {
        let status = exempt::combine(
            exemption_sources
                .iter()
                .map(|a| exempt::evaluate(*a, rule.slug, self.options.today)),
        );
        let mut finding = Finding {
            rule: rule.id,
            slug: rule.slug,
            severity: rule.severity,
            message,
            file: at.file.to_owned(),
            document: at.doc.index,
            line: at.doc.line,
            kind: at.kind.to_owned(),
            namespace: at.namespace.map(str::to_owned),
            name: at.name.map(str::to_owned),
            container: container.map(str::to_owned),
            exemption_problem: None,
        };
        match status {
            ExemptionStatus::Exempt(e) => self.exempted.push(Exempted {
                finding,
                reason: e.reason,
                until: e.until.map(|d| d.to_string()),
            }),
            ExemptionStatus::Invalid(why) => {
                finding.exemption_problem = Some(why);
                self.findings.push(finding);
            }
            ExemptionStatus::None => self.findings.push(finding),
        }
    }

    fn workload(&mut self, at: &At<'_>, w: &Workload<'_>, egress: &BTreeMap<String, netpol::NamespaceEgress>) {
        let ex = [annotations(w.object.get("metadata")), annotations(w.template_metadata)];
        let spec = w.pod_spec;
        let pod_sc = spec.get("securityContext");
        let host: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
            .into_iter()
            .filter(|k| is_true(spec.get(*k)))
            .collect();
        if !host.is_empty() {
            let msg = format!("pod shares the host's namespaces: {} set to true", host.join(", "));
            self.report(&HOST_NAMESPACES, at, &ex, None, msg);
        }
        for list in CONTAINER_LISTS {
            for c in spec.get(list).and_then(Value::as_array).into_iter().flatten() {
                self.container(at, &ex, list, c, pod_sc);
            }
        }
        let ns = at.namespace.unwrap_or("");
        let shown = if ns.is_empty() { "(unset)" } else { ns };
        // Protected = a default-deny policy and no rule letting the address through.
        match egress
            .get(ns)
            .map(|e| (e.default_deny.is_some(), e.allows_metadata.first()))
        {
            Some((true, None)) => {}
            Some((true, Some((policy, rule)))) => {
                let msg = format!(
                    "namespace {shown}: NetworkPolicy {policy} egress rule {rule} allows {}",
                    netpol::METADATA_ADDRESS
                );
                self.report(&METADATA_EGRESS, at, &ex, None, msg);
            }
            _ => {
                let msg = format!(
                    "namespace {shown} has no NetworkPolicy selecting all pods that denies egress by default or blocks {}",
                    netpol::METADATA_ADDRESS
                );
                self.report(&METADATA_EGRESS, at, &ex, None, msg);
            }
        }
    }

    fn container(&mut self, at: &At<'_>, ex: &[Option<&Value>], list: &str, c: &Value, pod_sc: Option<&Value>) {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        let ephemeral = list == "ephemeralContainers";
        let cn = Some(cname);
        // Images.
        match c.get("image").and_then(Value::as_str) {
            None => self.report(&IMAGE_TAG, at, ex, cn, "container has no image".into()),
            Some(img) => match ImageRef::parse(img) {
                Err(e) => self.report(&IMAGE_TAG, at, ex, cn, e.to_string()),
                Ok(r) => {
                    let pinned = r.has_sha256_digest();
                    match r.tag.as_deref() {
                        _ if pinned => {}
                        None if r.digest.is_none() => {
                            let m = format!("image {img} has no tag (means :latest); pin a version or digest");
                            self.report(&IMAGE_TAG, at, ex, cn, m);
                        }
                        Some(t) if t.eq_ignore_ascii_case("latest") => {
                            let m = format!("image {img} uses the mutable tag :{t}; pin a version or digest");
                            self.report(&IMAGE_TAG, at, ex, cn, m);
                        }
                        _ => {}
                    }
                    if self.options.profile == Profile::Prod && !pinned {
                        let m = format!("image {img} is not pinned by a sha256 digest (@sha256:<64 hex>)");
                        self.report(&IMAGE_DIGEST, at, ex, cn, m);
                    }
                    let trusted = &self.options.trusted_registries;
                    if !trusted.is_empty() && !trusted.iter().any(|t| t.covers(&r)) {
                        let m = format!("image {img} ({}) is not from a trusted registry", r.name());
                        self.report(&TRUSTED_REGISTRY, at, ex, cn, m);
                    }
                }
            },
        }
        // runAsNonRoot: the container's securityContext overrides the pod's.
        let sc = c.get("securityContext");
        let field = |k: &str| sc.and_then(|s| s.get(k)).or_else(|| pod_sc.and_then(|s| s.get(k)));
        let non_root = field("runAsNonRoot").and_then(Value::as_bool);
        let uid = field("runAsUser").and_then(Value::as_i64);
        if uid == Some(0) {
            self.report(&RUN_AS_NON_ROOT, at, ex, cn, "runAsUser is 0 (root)".into());
        } else if non_root != Some(true) {
            let m = match non_root {
                Some(false) => "runAsNonRoot is false",
                _ => "runAsNonRoot is not set (pod or container securityContext)",
            };
            self.report(&RUN_AS_NON_ROOT, at, ex, cn, m.into());
        }
        // Resources (ephemeral containers cannot have any).
        if !ephemeral {
            let res = c.get("resources");
            let has = |section: &str, k: &str| {
                res.and_then(|r| r.get(section))
                    .and_then(|s| s.get(k))
                    .is_some_and(|v| !v.is_null())
            };
            // Kubernetes defaults a missing request to the limit.
            let missing: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|k| !has("requests", k) && !has("limits", k))
                .collect();
            if !missing.is_empty() {
                let m = format!("no {} request", missing.join(" or "));
                self.report(&RESOURCE_REQUESTS, at, ex, cn, m);
            }
            if !has("limits", "memory") {
                self.report(&MEMORY_LIMIT, at, ex, cn, "no memory limit".into());
            }
        }
        // Privileges.
        if is_true(sc.and_then(|s| s.get("privileged"))) {
            self.report(&PRIVILEGED, at, ex, cn, "securityContext.privileged is true".into());
        }
        let added = sc
            .and_then(|s| s.get("capabilities"))
            .and_then(|c| c.get("add"))
            .and_then(Value::as_array);
        if let Some(bad) = added.into_iter().flatten().filter_map(Value::as_str).find(|cap| {
            let c = cap.trim().to_ascii_uppercase();
            let c = c.strip_prefix("CAP_").unwrap_or(&c);
            c == "SYS_ADMIN" || c == "ALL"
        }) {
            let m = format!("securityContext.capabilities.add includes {bad}");
            self.report(&SYS_ADMIN, at, ex, cn, m);
        }
    }

    fn ingress(&mut self, at: &At<'_>) {
        fn backend_name(b: &Value) -> Option<&str> {
            b.get("service")
                .and_then(|s| s.get("name"))
                .or_else(|| b.get("serviceName"))
                .and_then(Value::as_str)
        }
        let v = &at.doc.value;
        let anns = annotations(v.get("metadata"));
        let middlewares = anns
            .and_then(|a| a.get(posture::TRAEFIK_MIDDLEWARES_ANNOTATION))
            .and_then(Value::as_str)
            .unwrap_or("");
        if posture::middleware_refs(middlewares).any(posture::is_auth_middleware) {
            return;
        }
        let spec = v.get("spec");
        let mut names: Vec<&str> = vec![at.name.unwrap_or("")];
        if let Some(n) = spec
            .and_then(|s| s.get("defaultBackend").or_else(|| s.get("backend")))
            .and_then(backend_name)
        {
            names.push(n);
        }
        let mut exposed: Option<String> = None;
        let rules: Vec<&Value> = spec
            .and_then(|s| s.get("rules"))
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for r in &rules {
            let host = r.get("host").and_then(Value::as_str).unwrap_or("");
            let paths: Vec<&Value> = r
                .get("http")
                .and_then(|h| h.get("paths"))
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let path_strs: Vec<&str> = paths
                .iter()
                .filter_map(|p| p.get("path").and_then(Value::as_str))
                .collect();
            let mut candidates = names.clone();
            candidates.extend(paths.iter().filter_map(|p| p.get("backend").and_then(backend_name)));
            if candidates
                .iter()
                .any(|n| posture::looks_like_admin_ui(n, host, path_strs.iter().copied()))
            {
                exposed = Some(if host.is_empty() {
                    "(any host)".into()
                } else {
                    host.to_owned()
                });
                break;
            }
        }
        if exposed.is_none() && names.iter().any(|n| posture::looks_like_admin_ui(n, "", [])) {
            exposed = Some("(any host)".into());
        }
        if let Some(host) = exposed {
            let m = if middlewares.trim().is_empty() {
                format!(
                    "admin UI at {host} has no middlewares at all ({} is unset); add the forward-auth middleware",
                    posture::TRAEFIK_MIDDLEWARES_ANNOTATION
                )
            } else {
                format!(
                    "admin UI at {host} has no authenticating middleware in {middlewares:?}; add the forward-auth middleware"
                )
            };
            self.report(&INGRESS_AUTH, at, &[anns], None, m);
        }
    }
}
