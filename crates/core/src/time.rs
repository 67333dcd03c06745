//! The one calendar of homelab-core: Unix seconds ⇄ civil dates (proleptic Gregorian,
//! UTC), RFC 3339 and `YYYY-MM-DD` parsing, durations, and the [`Date`] type. There is no
//! clock here: callers pass `now` (or today's [`Date`]) in.
//! Days-from-civil and its inverse follow Howard Hinnant's public-domain algorithms.

use std::fmt;

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `2026-06-28T08:00:00Z`.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The number of days in month `m` (1–12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `YYYY-MM-DD` → Unix seconds at 00:00:00 UTC. Invalid dates (2026-02-30) are refused.
pub fn parse_date(s: &str) -> Option<i64> {
    Date::parse(s).map(|d| d.unix_days() * 86_400)
}

/// A calendar date (proleptic Gregorian, UTC). The clock is an input: core never reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Strict `YYYY-MM-DD` (four-digit year) with a real day of the month.
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.split('-');
        let (y, m, d) = (num(it.next()?, 4)?, num(it.next()?, 2)?, num(it.next()?, 2)?);
        if it.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
            return None;
        }
        Some(Date {
            year: i32::try_from(y).ok()?,
            month: m as u8,
            day: d as u8,
        })
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_unix_days(days: i64) -> Date {
        let (y, m, d) = civil_from_days(days);
        Date {
            year: i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX }),
            month: m as u8,
            day: d as u8,
        }
    }

    /// The (UTC) date of a Unix time in seconds.
    pub fn from_unix_seconds(secs: i64) -> Date {
        Date::from_unix_days(secs.div_euclid(86_400))
    }

    /// Days since 1970-01-01.
    pub fn unix_days(self) -> i64 {
        days_from_civil(i64::from(self.year), u32::from(self.month), u32::from(self.day))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `±HH:MM` (fractions of a second ignored).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let day = parse_date(date)?;
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return None,
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':');
    let (h, mi, se) = (num(c.next()?, 2)?, num(c.next()?, 2)?, num(c.next()?, 2)?);
    if c.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let off = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            let (oh, om) = (num(oh, 2)?, num(om, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * i64::from(oh * 3600 + om * 60)
        }
    };
    Some(day + i64::from(h * 3600 + mi * 60 + se) - off)
}

/// A duration like `90s`, `30m`, `24h`, `7d` or `2w`, in seconds (positive).
pub fn parse_duration(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_date("2026-06-28"), Some(1_782_604_800));
        assert_eq!(format_rfc3339(1_782_633_600), "2026-06-28T08:00:00Z");
        assert_eq!(parse_rfc3339("2026-06-28T09:00:00+01:00"), Some(1_782_633_600));
        assert_eq!(parse_rfc3339("2026-06-28T08:00:00.123Z"), Some(1_782_633_600));
        assert_eq!(
            parse_date("2024-02-29").map(format_rfc3339).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-01-01", "2026-01-01x", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_rfc3339("2026-06-28T25:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-06-28T08:00:00"), None);
    }

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
            "2026-01-0a",
            "",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(20_414).to_string(), "2025-11-22");
        assert_eq!(Date::from_unix_days(-1).to_string(), "1969-12-31");
        assert_eq!(Date::from_unix_seconds(1_782_633_600).to_string(), "2026-06-28");
        assert_eq!(Date::from_unix_seconds(-1).to_string(), "1969-12-31");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("90s"), Some(90));
        for bad in [
            "",
            "h",
            "0h",
            "-1h",
            "1y",
            "1.5h",
            "99999999999999999999d",
            "9223372036854775807w",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn civil_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn date_round_trip(days in -1_000_000i64..1_000_000) {
            let date = Date::from_unix_days(days);
            prop_assert_eq!(date.unix_days(), days);
            if date.year >= 0 && date.year <= 9999 {
                prop_assert_eq!(Date::parse(&date.to_string()), Some(date));
            }
        }

        #[test]
        fn rfc3339_round_trip(secs in 0i64..8_000_000_000) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
    }
}
