//! Exemptions: an annotation `exempt.policy.homelab.dev/<rule-slug>: "<reason>"` on the
//! object (or on a workload's pod template) with an optional
//! `exempt.policy.homelab.dev/<rule-slug>-until: YYYY-MM-DD` (valid through that day).
//! A blank reason, an unparseable or passed expiry, or an expiry without a reason does not
//! exempt: the finding stands and says why the exemption was not honoured.

use serde_json::Value;

use crate::posture::EXEMPT_PREFIX;
pub use crate::time::Date;

/// An honoured exemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub reason: String,
    pub until: Option<Date>,
}

/// What the annotations say about one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExemptionStatus {
    /// No exemption annotation for this rule.
    None,
    Exempt(Exemption),
    /// An exemption was written but is not honoured; the text says why.
    Invalid(String),
}

/// Evaluates the exemption annotations for `slug` in an `annotations` map (any JSON; a
/// non-object is "no annotations"), as of `today` (`None`: no clock, so an expiry cannot
/// be checked and is not honoured).
pub fn evaluate(annotations: Option<&Value>, slug: &str, today: Option<Date>) -> ExemptionStatus {
    let Some(map) = annotations.and_then(Value::as_object) else {
        return ExemptionStatus::None;
    };
    let key = format!("{EXEMPT_PREFIX}{slug}");
    let until_key = format!("{key}-until");
    let reason = map.get(&key);
    let until = map.get(&until_key);
    let reason = match (reason, until) {
        (None, None) => return ExemptionStatus::None,
        (None, Some(_)) => {
            return ExemptionStatus::Invalid(format!("exemption {until_key} has no reason annotation {key}"));
        }
        (Some(r), _) => match r.as_str().map(str::trim) {
            Some(r) if !r.is_empty() => r.to_owned(),
            _ => return ExemptionStatus::Invalid(format!("exemption {key} has no reason (its value must say why)")),
        },
    };
    let until = match until {
        None => None,
        Some(u) => match u.as_str().and_then(|s| Date::parse(s.trim())) {
            None => return ExemptionStatus::Invalid(format!("exemption expiry {until_key} is not a YYYY-MM-DD date")),
            Some(d) => match today {
                None => {
                    return ExemptionStatus::Invalid(format!(
                        "exemption {key} has an expiry but no date to check it against"
                    ));
                }
                Some(t) if t > d => return ExemptionStatus::Invalid(format!("exemption {key} expired on {d}")),
                Some(_) => Some(d),
            },
        },
    };
    ExemptionStatus::Exempt(Exemption { reason, until })
}

/// Combines the statuses found on several annotation maps (object, pod template): any
/// honoured exemption wins, else the first problem, else none.
pub fn combine(statuses: impl IntoIterator<Item = ExemptionStatus>) -> ExemptionStatus {
    let mut out = ExemptionStatus::None;
    for s in statuses {
        match s {
            ExemptionStatus::Exempt(_) => return s,
            ExemptionStatus::Invalid(_) if out == ExemptionStatus::None => out = s,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TODAY: Option<Date> = Some(Date {
        year: 2026,
        month: 11,
        day: 22,
    });

    #[test]
    fn exemption_cases() {
        let k = "exempt.policy.homelab.dev/image-tag";
        let ev = |v: Value| evaluate(Some(&v), "image-tag", TODAY);
        assert_eq!(ev(json!({})), ExemptionStatus::None);
        assert!(matches!(ev(json!({k: "vendor ships only latest"})), ExemptionStatus::Exempt(e) if e.until.is_none()));
        assert!(matches!(ev(json!({k: "  "})), ExemptionStatus::Invalid(m) if m.contains("no reason")));
        assert!(matches!(ev(json!({k: true})), ExemptionStatus::Invalid(_)));
        let until = format!("{k}-until");
        assert!(
            matches!(ev(json!({k: "r", until.clone(): "2026-11-22"})), ExemptionStatus::Exempt(e) if e.until.is_some())
        );
        assert!(
            matches!(ev(json!({k: "r", until.clone(): "2026-11-21"})), ExemptionStatus::Invalid(m) if m.contains("expired on 2026-11-21"))
        );
        assert!(matches!(
            ev(json!({k: "r", until.clone(): "soon"})),
            ExemptionStatus::Invalid(_)
        ));
        assert!(
            matches!(ev(json!({until.clone(): "2027-01-01"})), ExemptionStatus::Invalid(m) if m.contains("no reason"))
        );
        assert!(matches!(
            evaluate(Some(&json!({k: "r", until: "2027-01-01"})), "image-tag", None),
            ExemptionStatus::Invalid(_)
        ));
        assert_eq!(evaluate(Some(&json!("x")), "image-tag", TODAY), ExemptionStatus::None);
    }
}
