//! Finding removed `apiVersion`/`kind` pairs in manifests (`homelab upgrade apis`).

use serde::Serialize;

use super::removed_apis::{self, RemovedApi};
use crate::manifest::{Document, name_and_namespace, type_meta};
use crate::version::Minor;

/// One object that uses an API removed at or before the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiFinding {
    /// Where it was found (a file path, `-` for stdin); set by the caller.
    pub file: String,
    pub line: usize,
    pub document: usize,
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub removed_in: String,
    pub replacement: String,
    pub source: String,
}

impl ApiFinding {
    /// `file:line: apiVersion Kind "name" is removed in 1.25; use batch/v1`.
    pub fn line_text(&self) -> String {
        let name = match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => format!(" {ns}/{n}"),
            (None, Some(n)) => format!(" {n}"),
            _ => String::new(),
        };
        format!(
            "{}:{}: {} {}{} is removed in {}; use {}",
            self.file, self.line, self.api_version, self.kind, name, self.removed_in, self.replacement
        )
    }
}

/// Objects in `docs` whose `apiVersion`/`kind` is removed in a release ≤ `target`.
pub fn scan(file: &str, docs: &[Document], target: Minor) -> Vec<ApiFinding> {
    docs.iter()
        .filter_map(|d| {
            let (api_version, kind) = type_meta(&d.value)?;
            let r: &RemovedApi = removed_apis::by_kind(api_version, kind)?;
            if r.removed_minor() > target {
                return None;
            }
            let (name, ns) = name_and_namespace(&d.value);
            Some(ApiFinding {
                file: file.to_owned(),
                line: d.line,
                document: d.index,
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                name: name.map(str::to_owned),
                namespace: ns.map(str::to_owned),
                removed_in: r.removed_in.clone(),
                replacement: r.replacement.clone(),
                source: r.source.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_documents;

    #[test]
    fn finds_only_removals_up_to_target() {
        let text = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: backup, namespace: db}\n---\napiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata: {name: fs}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ok}\n";
        let docs = parse_documents(text).unwrap();
        let at_125 = scan("m.yaml", &docs, Minor::new(1, 25));
        assert_eq!(at_125.len(), 1);
        assert_eq!(
            at_125[0].line_text(),
            "m.yaml:1: batch/v1beta1 CronJob db/backup is removed in 1.25; use batch/v1"
        );
        let at_136 = scan("m.yaml", &docs, Minor::new(1, 36));
        assert_eq!(at_136.len(), 2);
        assert_eq!(at_136[1].line, 5);
        assert!(scan("m.yaml", &docs, Minor::new(1, 24)).is_empty());
    }
}
