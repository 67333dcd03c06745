//! The daily digest: edges first seen inside the window, as one Slack message. Quiet
//! (no message) when nothing is new.

use std::fmt::Write as _;

use super::{Action, EdgeRow};
use crate::time::format_rfc3339;

/// At most this many edges are listed; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// The message text, or `None` when there is nothing new. Denied edges come first,
/// then newest first.
pub fn message(new_edges: &[EdgeRow], window_label: &str, total: usize) -> Option<String> {
    if new_edges.is_empty() {
        return None;
    }
    let mut rows: Vec<&EdgeRow> = new_edges.iter().collect();
    rows.sort_by(|a, b| {
        (b.action == Action::Deny)
            .cmp(&(a.action == Action::Deny))
            .then(b.first_seen.cmp(&a.first_seen))
            .then(a.src_ns.cmp(&b.src_ns))
            .then(a.dst_ns.cmp(&b.dst_ns))
    });
    let total = total.max(new_edges.len());
    let denied = new_edges.iter().filter(|e| e.action == Action::Deny).count();
    let mut out = format!(
        "Goldmane flow trail: {total} new namespace edge{} in the last {window_label}",
        if total == 1 { "" } else { "s" }
    );
    if denied > 0 {
        let _ = write!(out, " ({denied} denied)");
    }
    out.push('\n');
    for e in rows.iter().take(MAX_LISTED) {
        let mark = if e.action == Action::Deny { ":no_entry:" } else { "•" };
        let _ = writeln!(
            out,
            "{mark} {} → {} ({}, {} flow{}, first seen {})",
            e.src_ns,
            e.dst_ns,
            e.action,
            e.flow_count,
            if e.flow_count == 1 { "" } else { "s" },
            format_rfc3339(e.first_seen)
        );
    }
    if total > MAX_LISTED.min(rows.len()) {
        let _ = writeln!(
            out,
            "…and {} more (homelab edges --new-since {window_label})",
            total - MAX_LISTED.min(rows.len())
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(src: &str, dst: &str, action: Action, first: i64) -> EdgeRow {
        EdgeRow {
            src_ns: src.into(),
            dst_ns: dst.into(),
            action,
            first_seen: first,
            last_seen: first + 15,
            flow_count: 3,
        }
    }

    #[test]
    fn quiet_when_nothing_new() {
        assert_eq!(message(&[], "24h", 0), None);
    }

    #[test]
    fn denied_first_then_newest() {
        let m = message(
            &[
                e("a", "b", Action::Allow, 100),
                e("c", "d", Action::Deny, 50),
                e("e", "f", Action::Allow, 200),
            ],
            "24h",
            3,
        )
        .unwrap();
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(
            lines[0],
            "Goldmane flow trail: 3 new namespace edges in the last 24h (1 denied)"
        );
        assert!(lines[1].starts_with(":no_entry: c → d (deny, 3 flows"));
        assert!(lines[2].starts_with("• e → f"));
        assert!(lines[3].starts_with("• a → b"));
    }

    #[test]
    fn long_lists_are_capped() {
        let many: Vec<EdgeRow> = (0..60).map(|i| e("a", &format!("n{i}"), Action::Allow, i)).collect();
        let m = message(&many, "24h", 75).unwrap();
        assert_eq!(m.lines().count(), 1 + MAX_LISTED + 1);
        assert!(m.ends_with("…and 25 more (homelab edges --new-since 24h)\n"));
    }
}
