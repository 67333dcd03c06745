//! Exemptions: an annotation `exempt.policy.homelab.dev/<rule-slug>: "<reason>"` on the
//! object (or on a workload's pod template) with an optional
//! `exempt.policy.homelab.dev/<rule-slug>-until: YYYY-MM-DD` (valid through that day).
//! A blank reason, an unparseable or passed expiry, or an expiry without a reason does not
//! exempt: the finding stands and says why the exemption was not honoured.

use std::fmt;

use serde_json::Value;

use crate::posture::EXEMPT_PREFIX;

/// A calendar date (proleptic Gregorian, UTC). The clock is an input: core never reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Strict `YYYY-MM-DD` with a real day of the month.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let year = i32::try_from(year).ok()?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month as u8).into() {
            return None;
        }
        Some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// The date `days` days after 1970-01-01 (H. Hinnant's civil_from_days).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

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
    fn dates() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026-01-32",
            "+026-01-01",
            "2026-00-10",
            "",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(20_414).to_string(), "2025-11-22");
        assert_eq!(Date::from_unix_days(-1).to_string(), "1969-12-31");
    }

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
