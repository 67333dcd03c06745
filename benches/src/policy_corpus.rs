//! The policy benchmark corpus: `objects` Kubernetes objects (workloads of every kind with
//! a deterministic mix of good and bad settings, one NetworkPolicy per namespace for half
//! of the namespaces, some Ingresses) as multi-document YAML files. Std only: `xtask`
//! includes this file too (`cargo xtask bench policy`), so both benches check the same
//! corpus.

use std::fmt::Write as _;

/// Generated files: (relative file name, YAML text), and how many objects they hold.
#[derive(Debug, Clone)]
pub struct PolicyCorpus {
    pub files: Vec<(String, String)>,
    pub objects: usize,
}

const NAMESPACES: usize = 50;
const KINDS: [&str; 6] = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"];

fn mix(i: u64) -> u64 {
    // splitmix64: a fixed, well-spread sequence.
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn container(out: &mut String, indent: &str, i: usize, c: usize, h: u64) {
    let bits = |shift: u32| (h >> shift) & 0xF;
    let image = match bits(0) {
        0 | 1 => format!("ghcr.io/org/app-{i}:latest"),
        2 => format!("ghcr.io/org/app-{i}"),
        3 | 4 => format!(
            "ghcr.io/org/app-{i}:1.{}.0@sha256:{:016x}{:016x}{:016x}{:016x}",
            i % 10,
            h,
            !h,
            h ^ 0xAA,
            i
        ),
        _ => format!("ghcr.io/org/app-{i}:1.{}.{c}", i % 10),
    };
    let _ = writeln!(out, "{indent}- name: c{c}\n{indent}  image: {image}");
    match bits(8) {
        0 => {}
        1 => {
            let _ = writeln!(out, "{indent}  resources: {{requests: {{cpu: 50m, memory: 64Mi}}}}");
        }
        _ => {
            let _ = writeln!(
                out,
                "{indent}  resources: {{requests: {{cpu: 50m, memory: 64Mi}}, limits: {{cpu: 500m, memory: 128Mi}}}}"
            );
        }
    }
    let privileged = bits(12) == 0;
    let sys_admin = bits(20) == 0;
    if privileged || sys_admin {
        let _ = writeln!(out, "{indent}  securityContext:");
        if privileged {
            let _ = writeln!(out, "{indent}    privileged: true");
        }
        if sys_admin {
            let _ = writeln!(out, "{indent}    capabilities: {{add: [SYS_ADMIN]}}");
        }
    }
}

fn pod_spec(out: &mut String, indent: &str, i: usize, h: u64) {
    match (h >> 16) & 0xF {
        0 => out.push_str(&format!("{indent}hostNetwork: true\n")),
        1 => out.push_str(&format!("{indent}hostPID: true\n")),
        2 => out.push_str(&format!("{indent}hostIPC: true\n")),
        _ => {}
    }
    match (h >> 4) & 0xF {
        0 => {}
        1 => out.push_str(&format!("{indent}securityContext: {{runAsNonRoot: false}}\n")),
        _ => out.push_str(&format!(
            "{indent}securityContext: {{runAsNonRoot: true, runAsUser: 10001}}\n"
        )),
    }
    if i.is_multiple_of(7) {
        out.push_str(&format!("{indent}restartPolicy: OnFailure\n"));
    }
    out.push_str(&format!("{indent}containers:\n"));
    let containers = 1 + ((h >> 24) & 1) as usize;
    for c in 0..containers {
        container(out, indent, i, c, mix(h ^ c as u64));
    }
}

fn workload(out: &mut String, i: usize) {
    let h = mix(i as u64);
    let kind = KINDS[i % KINDS.len()];
    let ns = i % NAMESPACES;
    let api = match kind {
        "Pod" => "v1",
        "Job" | "CronJob" => "batch/v1",
        _ => "apps/v1",
    };
    let _ = writeln!(
        out,
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: app-{i}\n  namespace: ns-{ns}\n  labels: {{app: app-{i}}}"
    );
    match kind {
        "Pod" => {
            out.push_str("spec:\n");
            pod_spec(out, "  ", i, h);
        }
        "CronJob" => {
            out.push_str(
                "spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n",
            );
            pod_spec(out, "          ", i, h);
        }
        _ => {
            let _ = writeln!(
                out,
                "spec:\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}}}}}\n    spec:"
            );
            pod_spec(out, "      ", i, h);
        }
    }
}

/// `objects` objects in files of `per_file` documents each.
pub fn generate(objects: usize, per_file: usize) -> PolicyCorpus {
    let mut docs: Vec<String> = Vec::with_capacity(objects);
    for ns in (0..NAMESPACES).step_by(2) {
        docs.push(format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: block-metadata, namespace: ns-{ns}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n    - to: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}}}]\n"
        ));
    }
    let mut i = 0;
    while docs.len() < objects {
        let mut d = String::new();
        if i % 100 == 99 {
            let name = if i % 200 == 199 { "grafana" } else { "blog" };
            let _ = writeln!(
                d,
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}-{i}\n  namespace: ns-{}\nspec:\n  rules:\n    - host: {name}-{i}.example.org\n      http:\n        paths:\n          - {{path: /, pathType: Prefix, backend: {{service: {{name: {name}-{i}, port: {{number: 80}}}}}}}}",
                i % NAMESPACES
            );
        } else {
            workload(&mut d, i);
        }
        docs.push(d);
        i += 1;
    }
    let files = docs
        .chunks(per_file.max(1))
        .enumerate()
        .map(|(n, chunk)| (format!("corpus-{n:04}.yaml"), chunk.join("---\n")))
        .collect();
    PolicyCorpus {
        files,
        objects: docs.len(),
    }
}
