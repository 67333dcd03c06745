//! Reading Kubernetes manifests: multi-document YAML streams and JSON, into
//! `serde_json::Value` documents that remember where they start.
//!
//! Documents are split the way kubectl splits them: on lines that are exactly `---`
//! (optionally followed by a comment or spaces). Each piece is parsed on its own, so a
//! finding can point at `file:line` and one broken document is reported by position.
//! `kind: List` objects are flattened into their `items`.

use serde_json::Value;
use thiserror::Error;

/// One parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position in the stream (after `List` flattening, items share it).
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    pub value: Value,
}

/// A document that is not valid YAML/JSON.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("document {index} (line {line}): {message}")]
pub struct ManifestError {
    pub index: usize,
    pub line: usize,
    pub message: String,
}

/// Parses a YAML stream or a JSON document. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ManifestError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let line = 1 + text[..text.len() - trimmed.len()].matches('\n').count();
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(v) => Ok(flatten(0, line, v)),
            Err(e) => Err(ManifestError {
                index: 0,
                line: line - 1 + e.line(),
                message: crate::upgrade::matrix::strip_position(&e.to_string()),
            }),
        };
    }
    let mut docs = Vec::new();
    for (index, (line, chunk)) in split_yaml(text).into_iter().enumerate() {
        if chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "..."
        }) {
            continue;
        }
        let value: Value = serde_saphyr::from_str(chunk).map_err(|e| ManifestError {
            index,
            line,
            message: first_line(&e.to_string()),
        })?;
        if value.is_null() {
            continue;
        }
        // Point at the first line with content, not at leading comments.
        let skip = chunk
            .lines()
            .take_while(|l| {
                let t = l.trim();
                t.is_empty() || t.starts_with('#')
            })
            .count();
        docs.extend(flatten(index, line + skip, value));
    }
    Ok(docs)
}

/// `apiVersion` and `kind` of a Kubernetes object, if it has both as strings.
pub fn type_meta(v: &Value) -> Option<(&str, &str)> {
    Some((v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?))
}

/// `metadata.name` (or `generateName`), and `metadata.namespace`.
pub fn name_and_namespace(v: &Value) -> (Option<&str>, Option<&str>) {
    let meta = v.get("metadata");
    let name = meta
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(Value::as_str);
    let ns = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str);
    (name, ns)
}

fn flatten(index: usize, line: usize, value: Value) -> Vec<Document> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    match value {
        Value::Array(items) => items.into_iter().flat_map(|v| flatten(index, line, v)).collect(),
        Value::Object(mut map) if is_list => match map.remove("items") {
            Some(Value::Array(items)) => items.into_iter().flat_map(|v| flatten(index, line, v)).collect(),
            _ => Vec::new(),
        },
        other => vec![Document {
            index,
            line,
            value: other,
        }],
    }
}

/// Splits on `---` separator lines; returns (1-based start line, text) per document.
fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let is_sep = body == "---"
            || (body.starts_with("---") && body[3..].starts_with([' ', '\t']) && {
                let rest = body[3..].trim();
                rest.is_empty() || rest.starts_with('#')
            });
        if is_sep {
            out.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    out.push((start_line, &text[start..]));
    out
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid YAML")
        .trim()
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_multi_document_yaml_with_lines() {
        let text = "# header\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---  # empty\n\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: b\n...\n";
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2, "leading comments are skipped");
        assert_eq!(type_meta(&docs[1].value), Some(("batch/v1beta1", "CronJob")));
        assert_eq!(docs[1].line, 8);
        assert_eq!(name_and_namespace(&docs[1].value).0, Some("b"));
    }

    #[test]
    fn json_and_lists() {
        let text = r#"
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"}},
  {"apiVersion": "v1", "kind": "Service"}]}"#;
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2);
        assert_eq!(type_meta(&docs[0].value), Some(("extensions/v1beta1", "Ingress")));
    }

    #[test]
    fn broken_document_is_located() {
        let text = "apiVersion: v1\nkind: A\n---\nkind: [unclosed\n";
        let e = parse_documents(text).unwrap_err();
        assert_eq!((e.index, e.line), (1, 4));
        let e = parse_documents("{\"a\": }").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn separator_like_content_is_not_split() {
        let text = "a: |\n  ---x\nb: \"---\"\n";
        assert_eq!(parse_documents(text).unwrap().len(), 1);
    }
}
