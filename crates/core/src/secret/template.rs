//! The template syntax of `homelab secret inject` (like 1Password's `op inject`):
//!
//! ```text
//! DATABASE_PASSWORD={{ vault://secret/app/db#password }}
//! API_TOKEN={{k8s://apps/api#token}}
//! ```
//!
//! - A reference is `{{`, optional spaces/tabs, a reference (see
//!   [`mod@super::reference`]), optional spaces/tabs, `}}`. It is replaced by the value, with
//!   nothing added or trimmed.
//! - `{{` followed (after optional spaces) by a scheme-like word and `://` is always a
//!   reference: a typo or an unknown scheme is an error, never passed through. Any other
//!   `{{` (Helm, Go templates, `{{ .Values.x }}`) is ordinary text.
//! - Escape: `\{{` is a literal `{{` (the backslash is dropped); a backslash anywhere
//!   else is ordinary text.
//! - Rendering fails closed: every reference must resolve (the caller resolves all
//!   of them before anything is written); a missing one is an error, never an empty string.

use std::collections::BTreeSet;

use super::{RefError, SecretRef, SecretString};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is (escapes already applied).
    Literal(String),
    /// A reference, with its 1-based line and column (of the `{{`) for error messages.
    Ref {
        reference: SecretRef,
        line: usize,
        column: usize,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// A template syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template line {line}, column {column}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Template {
    /// Parses a template (never panics).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(pos) = rest.find("{{") {
            let escaped = rest[..pos].ends_with('\\');
            if escaped {
                literal.push_str(&rest[..pos - 1]);
                literal.push_str("{{");
                rest = &rest[pos + 2..];
                offset += pos + 2;
                continue;
            }
            literal.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            let inner = after.trim_start_matches([' ', '\t']);
            if !looks_like_reference(inner) {
                literal.push_str("{{");
                rest = after;
                offset += pos + 2;
                continue;
            }
            let (line, column) = position(text, offset + pos);
            let err = |message: String| TemplateError { line, column, message };
            let end = inner
                .find(|c: char| c.is_whitespace() || c == '}')
                .unwrap_or(inner.len());
            let reference = SecretRef::parse(&inner[..end]).map_err(|e| err(e.to_string()))?;
            let tail = inner[end..].trim_start_matches([' ', '\t']);
            let Some(tail) = tail.strip_prefix("}}") else {
                return Err(err(format!("reference {} is not closed with \"}}}}\"", &inner[..end])));
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Ref {
                reference,
                line,
                column,
            });
            offset += rest.len() - tail.len();
            rest = tail;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The distinct references, in canonical order (each is resolved once).
    pub fn references(&self) -> BTreeSet<&SecretRef> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Ref { reference, .. } => Some(reference),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// Renders with resolved values; the first reference without a value is an error
    /// (fail closed). The result holds secrets, so it is a [`SecretString`].
    pub fn render<'a>(
        &self,
        mut value: impl FnMut(&SecretRef) -> Option<&'a SecretString>,
    ) -> Result<SecretString, TemplateError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Ref {
                    reference,
                    line,
                    column,
                } => match value(reference) {
                    Some(v) => out.push_str(v.expose()),
                    None => {
                        use zeroize::Zeroize;
                        out.zeroize();
                        return Err(TemplateError {
                            line: *line,
                            column: *column,
                            message: format!("no value for {reference}"),
                        });
                    }
                },
            }
        }
        Ok(SecretString::new(out))
    }
}

/// `scheme://` at the start (a lowercase/digit word): the template treats it as a reference.
fn looks_like_reference(s: &str) -> bool {
    let word = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'-')
        .count();
    word > 0 && s[word..].starts_with("://")
}

fn position(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl From<RefError> for TemplateError {
    fn from(e: RefError) -> Self {
        TemplateError {
            line: 0,
            column: 0,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    #[test]
    fn splits_literals_and_references() {
        let t = Template::parse("A={{ vault://secret/app#pw }}\nB={{env://HOME_X}}!\n").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Literal("A=".into()),
                Part::Ref {
                    reference: r("vault://secret/app#pw"),
                    line: 1,
                    column: 3
                },
                Part::Literal("\nB=".into()),
                Part::Ref {
                    reference: r("env://HOME_X"),
                    line: 2,
                    column: 3
                },
                Part::Literal("!\n".into()),
            ]
        );
        assert_eq!(t.references().len(), 2);
    }

    #[test]
    fn other_braces_and_escapes_are_text() {
        let t = Template::parse("{{ .Values.x }} \\{{ vault://secret/a#k }} a\\b {{").unwrap();
        assert_eq!(
            t.parts,
            vec![Part::Literal("{{ .Values.x }} {{ vault://secret/a#k }} a\\b {{".into())]
        );
        assert!(t.references().is_empty());
        assert_eq!(Template::parse("").unwrap().parts, vec![]);
    }

    #[test]
    fn errors_name_the_position() {
        let e = Template::parse("ok\n  x={{ vualt://secret/a#k }}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5));
        assert!(e.to_string().contains("unknown scheme \"vualt\""), "{e}");
        let e = Template::parse("{{ vault://secret/a#k").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        let e = Template::parse("{{ vault://secret/a#k x }}").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        let e = Template::parse("{{ vault://secret/a }}").unwrap_err();
        assert!(e.message.contains("missing \"#key\""), "{e}");
    }

    #[test]
    fn render_fails_closed() {
        let t = Template::parse("a={{ env://A }} b={{ env://B }}").unwrap();
        let a = SecretString::new("1".into());
        let out = t.render(|x| (x == &r("env://A")).then_some(&a)).unwrap_err();
        assert!(out.message.contains("no value for env://B"), "{out}");
        let b = SecretString::new("two\nlines".into());
        let ok = t
            .render(|x| if x == &r("env://A") { Some(&a) } else { Some(&b) })
            .unwrap();
        assert_eq!(ok.expose(), "a=1 b=two\nlines");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = Template::parse(&s);
        }

        #[test]
        fn text_without_braces_is_one_literal(s in "[^{\\\\]{1,80}") {
            prop_assert_eq!(Template::parse(&s).unwrap().parts, vec![Part::Literal(s.clone())]);
        }

        #[test]
        fn literals_and_refs_round_trip(chunks in proptest::collection::vec(("[a-z =\\n]{0,8}", "[A-Z_]{1,6}"), 0..5)) {
            let mut text = String::new();
            let mut expected = String::new();
            for (lit, var) in &chunks {
                text.push_str(lit);
                text.push_str(&format!("{{{{ env://{var} }}}}"));
                expected.push_str(lit);
                expected.push_str(&format!("<{var}>"));
            }
            let t = Template::parse(&text).unwrap();
            let values: Vec<(SecretRef, SecretString)> = t.references().into_iter().map(|r| {
                let SecretRef::Env { var } = r else { unreachable!() };
                (r.clone(), SecretString::new(format!("<{var}>")))
            }).collect();
            let out = t.render(|r| values.iter().find(|(k, _)| k == r).map(|(_, v)| v)).unwrap();
            prop_assert_eq!(out.expose(), expected.as_str());
        }
    }
}
