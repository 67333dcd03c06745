//! `homelab edges` output formats. Timestamps print as RFC 3339 UTC.

use std::fmt::Write as _;

use serde_json::json;

use super::query::PeerRow;
use super::{Action, EdgeRow};
use crate::time::format_rfc3339;

/// The output formats of `homelab edges`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Dot,
    Mermaid,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "dot" => Some(Format::Dot),
            "mermaid" => Some(Format::Mermaid),
            _ => None,
        }
    }
}

const COLUMNS: [&str; 6] = ["src_ns", "dst_ns", "action", "flow_count", "first_seen", "last_seen"];

fn cells(r: &EdgeRow) -> [String; 6] {
    [
        r.src_ns.clone(),
        r.dst_ns.clone(),
        r.action.to_string(),
        r.flow_count.to_string(),
        format_rfc3339(r.first_seen),
        format_rfc3339(r.last_seen),
    ]
}

/// Renders edge rows in a format.
pub fn edges(rows: &[EdgeRow], format: Format) -> String {
    match format {
        Format::Table => table(&COLUMNS, rows.iter().map(|r| cells(r).to_vec())),
        Format::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({
                        "src_ns": r.src_ns, "dst_ns": r.dst_ns, "action": r.action,
                        "flow_count": r.flow_count,
                        "first_seen": format_rfc3339(r.first_seen), "last_seen": format_rfc3339(r.last_seen),
                    })
                })
                .collect();
            pretty(&serde_json::Value::Array(v))
        }
        Format::Csv => csv(&COLUMNS, rows.iter().map(|r| cells(r).to_vec())),
        Format::Dot => dot(rows),
        Format::Mermaid => mermaid(rows),
    }
}

/// Renders `--peers-of` rows (`peer, action`); graph formats draw them around `of`.
pub fn peers(of: &str, rows: &[PeerRow], format: Format) -> String {
    match format {
        Format::Table => table(
            &["peer", "action"],
            rows.iter().map(|r| vec![r.peer.clone(), r.action.to_string()]),
        ),
        Format::Json => pretty(&serde_json::to_value(rows).unwrap_or_default()),
        Format::Csv => csv(
            &["peer", "action"],
            rows.iter().map(|r| vec![r.peer.clone(), r.action.to_string()]),
        ),
        Format::Dot | Format::Mermaid => {
            // Direction is not part of a peer row: draw undirected-looking edges from `of`.
            let as_edges: Vec<EdgeRow> = rows
                .iter()
                .map(|p| EdgeRow {
                    src_ns: of.to_owned(),
                    dst_ns: p.peer.clone(),
                    action: p.action,
                    first_seen: 0,
                    last_seen: 0,
                    flow_count: 0,
                })
                .collect();
            if format == Format::Dot {
                dot(&as_edges)
            } else {
                mermaid(&as_edges)
            }
        }
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, header);
    for r in &rows {
        line(&mut out, &r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

fn label(r: &EdgeRow) -> String {
    if r.flow_count > 0 {
        format!("{} {}", r.action, r.flow_count)
    } else {
        r.action.to_string()
    }
}

fn dot(rows: &[EdgeRow]) -> String {
    let mut out = String::from("digraph edges {\n  rankdir=LR;\n  node [shape=box];\n");
    for r in rows {
        let style = match r.action {
            Action::Deny => ", color=red, fontcolor=red, style=dashed",
            Action::Allow => "",
            _ => ", color=gray",
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];",
            r.src_ns.replace('"', "\\\""),
            r.dst_ns.replace('"', "\\\""),
            label(r)
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid(rows: &[EdgeRow]) -> String {
    // Node ids are generated (n0, n1, …): namespace names may collide with Mermaid
    // keywords such as `end`.
    let mut ids: Vec<&str> = rows
        .iter()
        .flat_map(|r| [r.src_ns.as_str(), r.dst_ns.as_str()])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let id = |ns: &str| format!("n{}", ids.binary_search(&ns).unwrap_or(0));
    let mut out = String::from("graph LR\n");
    for ns in &ids {
        let _ = writeln!(out, "  {}[\"{}\"]", id(ns), ns.replace('"', "#quot;"));
    }
    for r in rows {
        let arrow = if r.action == Action::Deny { "-.->" } else { "-->" };
        let _ = writeln!(out, "  {} {arrow}|{}| {}", id(&r.src_ns), label(r), id(&r.dst_ns));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<EdgeRow> {
        vec![
            EdgeRow {
                src_ns: "web".into(),
                dst_ns: "api".into(),
                action: Action::Allow,
                first_seen: 1_782_633_600,
                last_seen: 1_782_637_200,
                flow_count: 42,
            },
            EdgeRow {
                src_ns: "web".into(),
                dst_ns: "end".into(),
                action: Action::Deny,
                first_seen: 1_782_600_000,
                last_seen: 1_782_600_015,
                flow_count: 1,
            },
        ]
    }

    #[test]
    fn table_and_csv() {
        let t = edges(&rows(), Format::Table);
        assert_eq!(
            t,
            "src_ns  dst_ns  action  flow_count  first_seen            last_seen\n\
             web     api     allow   42          2026-06-28T08:00:00Z  2026-06-28T09:00:00Z\n\
             web     end     deny    1           2026-06-27T22:40:00Z  2026-06-27T22:40:15Z\n"
        );
        let c = edges(&rows(), Format::Csv);
        assert!(c.starts_with("src_ns,dst_ns,action,flow_count,first_seen,last_seen\nweb,api,allow,42,"));
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&edges(&rows(), Format::Json)).unwrap();
        assert_eq!(v[0]["src_ns"], "web");
        assert_eq!(v[0]["action"], "allow");
        assert_eq!(v[0]["flow_count"], 42);
        assert_eq!(v[0]["first_seen"], "2026-06-28T08:00:00Z");
        assert_eq!(v.as_array().unwrap().len(), 2);
    }

    #[test]
    fn graphs() {
        let d = edges(&rows(), Format::Dot);
        assert!(d.contains("\"web\" -> \"api\" [label=\"allow 42\"];"));
        assert!(d.contains("color=red"));
        let m = edges(&rows(), Format::Mermaid);
        assert!(m.starts_with("graph LR\n"));
        assert!(m.contains("n2 -->|allow 42| n0"), "{m}");
        assert!(m.contains("n2 -.->|deny 1| n1"), "{m}");
        assert!(m.contains("n1[\"end\"]"));
        let p = peers(
            "web",
            &[PeerRow {
                peer: "api".into(),
                action: Action::Allow,
            }],
            Format::Table,
        );
        assert_eq!(p, "peer  action\napi   allow\n");
    }
}
