//! The call-site convention of the `ingress_factory` module: `auth = "app"` or
//! `auth = "none"` must carry a comment saying what gates the app, on the same line or
//! the line just above (an empty comment does not count). Future readers read the call
//! site, not the module description.
//!
//! - HCL: `auth` attributes directly inside `module "…" { source = "…ingress_factory…" }`.
//! - Our spec files: a YAML spec's top-level `auth: app|none` line; a non-blank
//!   `auth_gate` satisfies the rule in any spec, and is the only way in JSON (no comments).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// One violation: 1-based line and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub line: usize,
    pub message: String,
}

static HCL_MODULE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"^\s*module\s+"[^"]*"\s*\{"#).expect("regex"));
static HCL_SOURCE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"^\s*source\s*=\s*"([^"]*)""#).expect("regex"));
static HCL_AUTH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"^\s*auth\s*=\s*"(app|none)"\s*$"#).expect("regex"));
static YAML_AUTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^auth\s*:\s*(?:"(app|none)"|'(app|none)'|(app|none))\s*(?:#.*)?$"#).expect("regex"));

/// A line split into code and comment text (comment markers removed).
#[derive(Debug, Default)]
struct Line {
    code: String,
    comment: String,
    depth_before: i32,
}

impl Line {
    fn has_comment(&self) -> bool {
        !self.comment.trim().is_empty()
    }
    fn is_comment_only(&self) -> bool {
        self.code.trim().is_empty() && self.has_comment()
    }
}

/// Splits HCL into lines with code, comments and brace depth; strings, heredocs and
/// comments do not count braces.
fn scan_hcl(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut in_block = false;
    let mut heredoc: Option<String> = None;
    for raw in text.lines() {
        let mut line = Line {
            depth_before: depth,
            ..Line::default()
        };
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            out.push(line);
            continue;
        }
        let chars: Vec<char> = raw.chars().collect();
        let mut i = 0;
        let mut in_str = false;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if in_block {
                if c == '*' && next == Some('/') {
                    in_block = false;
                    i += 2;
                    continue;
                }
                line.comment.push(c);
                i += 1;
                continue;
            }
            if in_str {
                line.code.push(c);
                if c == '\\' {
                    if let Some(n) = next {
                        line.code.push(n);
                    }
                    i += 2;
                    continue;
                }
                if c == '"' {
                    in_str = false;
                }
                i += 1;
                continue;
            }
            match (c, next) {
                ('#', _) | ('/', Some('/')) => {
                    let skip = if c == '#' { 1 } else { 2 };
                    line.comment.push_str(&chars[i + skip..].iter().collect::<String>());
                    break;
                }
                ('/', Some('*')) => {
                    in_block = true;
                    i += 2;
                    continue;
                }
                ('"', _) => in_str = true,
                ('{', _) => depth += 1,
                ('}', _) => depth -= 1,
                ('<', Some('<')) => {
                    let rest: String = chars[i + 2..].iter().collect();
                    let id: String = rest
                        .trim_start_matches('-')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !id.is_empty() {
                        heredoc = Some(id);
                    }
                }
                _ => {}
            }
            line.code.push(c);
            i += 1;
        }
        out.push(line);
    }
    out
}

fn message(value: &str, style: &str) -> String {
    format!("{style} \"{value}\" needs a comment saying what gates the app (on this line or the line just above)")
}

fn commented(lines: &[Line], i: usize) -> bool {
    lines[i].has_comment() || (i > 0 && lines[i - 1].is_comment_only())
}

/// Lints an HCL file: `auth = "app"|"none"` directly inside an `ingress_factory`
/// module block without a comment.
pub fn lint_hcl(text: &str) -> Vec<Violation> {
    let lines = scan_hcl(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.depth_before != 0 || !HCL_MODULE.is_match(&l.code) {
            i += 1;
            continue;
        }
        // The block runs until depth returns to 0.
        let mut is_factory = false;
        let mut auths = Vec::new();
        let mut j = i + 1;
        while j < lines.len() && lines[j].depth_before > 0 {
            let b = &lines[j];
            if b.depth_before == 1 {
                if let Some(c) = HCL_SOURCE.captures(&b.code) {
                    is_factory |= c[1].contains("ingress_factory");
                }
                if let Some(c) = HCL_AUTH.captures(&b.code) {
                    auths.push((j, c[1].to_owned()));
                }
            }
            j += 1;
        }
        if is_factory {
            for (k, value) in auths {
                if !commented(&lines, k) {
                    out.push(Violation {
                        line: k + 1,
                        message: message(&value, "auth ="),
                    });
                }
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// Is this parsed document one of our ingress specs (a mapping with `name` and
/// `namespace` and no Kubernetes `apiVersion`/`kind`)?
pub fn is_spec_document(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.contains_key("name")
            && m.contains_key("namespace")
            && !m.contains_key("apiVersion")
            && !m.contains_key("kind")
    })
}

/// Lints a parsed spec file. `text` is the file, `value` its parsed document, `json`
/// whether it is JSON. Files that are not specs yield nothing.
pub fn lint_spec(text: &str, value: &Value, json: bool) -> Vec<Violation> {
    if !is_spec_document(value) {
        return Vec::new();
    }
    let Some(auth) = value.get("auth").and_then(Value::as_str) else {
        return Vec::new();
    };
    if !matches!(auth, "app" | "none") {
        return Vec::new();
    }
    if value
        .get("auth_gate")
        .and_then(Value::as_str)
        .is_some_and(|g| !g.trim().is_empty())
    {
        return Vec::new();
    }
    let find = |pat: &str| text.lines().position(|l| l.contains(pat)).map_or(1, |i| i + 1);
    if json {
        return vec![Violation {
            line: find("\"auth\""),
            message: format!("auth \"{auth}\" needs auth_gate saying what gates the app (JSON has no comments)"),
        }];
    }
    let raw: Vec<&str> = text.lines().collect();
    let is_comment_line = |l: &str| {
        let t = l.trim();
        t.starts_with('#') && !t.trim_start_matches('#').trim().is_empty()
    };
    for (i, l) in raw.iter().enumerate() {
        if !YAML_AUTH.is_match(l) {
            continue;
        }
        let same_line = l
            .split_once('#')
            .is_some_and(|(before, c)| before.matches(['"', '\'']).count() % 2 == 0 && !c.trim().is_empty());
        if same_line || (i > 0 && is_comment_line(raw[i - 1])) {
            return Vec::new();
        }
        return vec![Violation {
            line: i + 1,
            message: message(auth, "auth:") + " or set auth_gate",
        }];
    }
    // auth written in a form we do not recognise as a line (flow style): the rule
    // can only be met with auth_gate.
    vec![Violation {
        line: find("auth"),
        message: format!("auth \"{auth}\" needs auth_gate saying what gates the app"),
    }]
}

/// What [`lint_file`] found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLint {
    pub violations: Vec<Violation>,
    /// A YAML/JSON file that parsed but is not one of our specs (nothing to check).
    pub not_a_spec: bool,
}

/// Lints one file's text by its extension: `tf` is HCL ([`lint_hcl`]); `json` and anything
/// else (YAML) is parsed as a spec ([`lint_spec`]). A walked directory holds other YAML
/// (multi-document manifests, Helm templates), so only a file named `explicit`ly must
/// parse: the error is the parser's first line.
pub fn lint_file(ext: &str, text: &str, explicit: bool) -> Result<FileLint, String> {
    if ext == "tf" {
        return Ok(FileLint {
            violations: lint_hcl(text),
            not_a_spec: false,
        });
    }
    let json = ext == "json";
    let parsed: Result<Value, String> = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string().lines().next().unwrap_or("").to_owned())
    };
    match parsed {
        Ok(v) => Ok(FileLint {
            not_a_spec: !is_spec_document(&v),
            violations: lint_spec(text, &v, json),
        }),
        Err(e) if explicit => Err(e),
        Err(_) => Ok(FileLint {
            violations: Vec::new(),
            not_a_spec: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_file_dispatches_by_extension() {
        let hcl = "module \"x\" {\n  source = \"../ingress_factory\"\n  auth = \"none\"\n}\n";
        let r = lint_file("tf", hcl, false).unwrap();
        assert_eq!(r.violations.len(), 1);
        assert!(!r.not_a_spec);
        let yaml = "name: a\nnamespace: b\nauth: app\n";
        assert_eq!(lint_file("yaml", yaml, true).unwrap().violations[0].line, 3);
        let json = "{\"name\": \"a\", \"namespace\": \"b\", \"auth\": \"none\"}";
        assert_eq!(lint_file("json", json, false).unwrap().violations.len(), 1);
        assert!(lint_file("yml", "kind: ConfigMap\n", true).unwrap().not_a_spec);
        // Only explicit files must parse.
        assert!(lint_file("yaml", "a: [\n", true).is_err());
        assert_eq!(lint_file("yaml", "a: [\n", false).unwrap().violations, vec![]);
        assert!(lint_file("json", "{", true).is_err());
    }

    #[test]
    fn hcl_rule() {
        let tf = r#"
module "ok_above" {
  source = "../../modules/kubernetes/ingress_factory"
  # Immich's own login gates it
  auth = "app"
}
module "ok_inline" {
  source = "../../modules/kubernetes/ingress_factory"
  auth   = "none" # public blog, Anubis is the gate
}
module "bad" {
  source = "../../modules/kubernetes/ingress_factory"
  name   = "x"
  auth   = "none"
}
module "empty_comment" {
  source = "../../modules/kubernetes/ingress_factory"
  #
  auth = "app"
}
module "not_factory" {
  source = "../other"
  auth = "none"
}
module "nested" {
  source = "../../modules/kubernetes/ingress_factory"
  extra_annotations = {
    auth = "none"
  }
  description = <<-EOT
    auth = "none" {
  EOT
  auth = "required"
}
"#;
        let v = lint_hcl(tf);
        let lines: Vec<usize> = v.iter().map(|v| v.line).collect();
        assert_eq!(lines, [14, 19], "{v:?}");
        assert!(v[0].message.starts_with("auth = \"none\" needs a comment"));
    }

    #[test]
    fn yaml_rule() {
        let check = |text: &str| {
            let v: Value = serde_saphyr::from_str(text).unwrap();
            lint_spec(text, &v, false)
        };
        assert!(check("name: a\nnamespace: b\nauth: app # own login\n").is_empty());
        assert!(check("name: a\nnamespace: b\n# own login\nauth: app\n").is_empty());
        assert!(check("name: a\nnamespace: b\nauth: app\nauth_gate: own login\n").is_empty());
        assert!(check("name: a\nnamespace: b\nauth: required\n").is_empty());
        assert!(check("apiVersion: v1\nkind: X\nname: a\nnamespace: b\nauth: none\n").is_empty());
        assert_eq!(check("name: a\nnamespace: b\nauth: none\n")[0].line, 3);
        assert_eq!(check("name: a\nnamespace: b\n#\nauth: 'none'  #   \n")[0].line, 4);
        let text = "{\n  \"name\": \"a\",\n  \"namespace\": \"b\",\n  \"auth\": \"app\"\n}\n";
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(lint_spec(text, &v, true)[0].line, 4);
    }
}
