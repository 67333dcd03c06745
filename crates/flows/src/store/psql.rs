//! The store's queries as `psql` scripts, for reading the PostgreSQL table without a
//! database connection of our own: `homelab edges` runs them with `psql` inside the CNPG
//! primary pod (`homelab_k8s::PsqlExec`, which runs
//! `psql -X -q -A -t -v ON_ERROR_STOP=1 -d <database> -f -` with the script on stdin).
//!
//! The statements are [`super::PgStore`]'s, rendered for psql (see `query.rs`): same
//! semantics and order. Values never become SQL text: each is set as a psql variable
//! (`\set ns '…'`, quoted for psql's meta-command parser) and used as `:'ns'`, which psql
//! sends as a properly quoted literal. Each script prints ONE JSON
//! value (rows as arrays), so the output parses the same whatever the values contain.

use homelab_core::flows::EdgeRow;
use homelab_core::flows::query::{EdgeQuery, PeerRow, PeersQuery};
use thiserror::Error;

use super::parse_action;
use super::query::{self, Dialect};

/// The least `first_seen` as `[<unix seconds>]`, or `[null]` when the table is empty.
pub const OBSERVED_SINCE_SCRIPT: &str = query::observed_since(Dialect::Psql);

/// psql printed something that is not the script's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unexpected psql output ({reason}): {excerpt:?}")]
pub struct PsqlOutputError {
    reason: String,
    excerpt: String,
}

fn bad_output(out: &str, reason: impl ToString) -> PsqlOutputError {
    PsqlOutputError {
        reason: reason.to_string(),
        excerpt: out.trim().chars().take(120).collect(),
    }
}

/// `homelab edges`: the script for [`super::EdgeStore::edges`]. Prints a JSON array of
/// `[src_ns, dst_ns, action, first_seen, last_seen, flow_count]`.
pub fn edges_script(q: &EdgeQuery) -> String {
    query::psql_script(&query::edges(Dialect::Psql, q))
}

/// `homelab edges --peers-of`: the script for [`super::EdgeStore::peers`]. Prints a JSON
/// array of `[peer, action]`.
pub fn peers_script(q: &PeersQuery) -> String {
    query::psql_script(&query::peers(Dialect::Psql, q))
}

fn json<T: serde::de::DeserializeOwned>(out: &str) -> Result<T, PsqlOutputError> {
    let text = out.trim();
    if text.is_empty() {
        return Err(bad_output(out, "no output"));
    }
    serde_json::from_str(text).map_err(|e| bad_output(out, e))
}

/// Parses the output of [`edges_script`].
pub fn parse_edges(out: &str) -> Result<Vec<EdgeRow>, PsqlOutputError> {
    let rows: Vec<super::RawEdge> = json(out)?;
    Ok(rows.into_iter().map(super::edge_row).collect())
}

/// Parses the output of [`peers_script`].
pub fn parse_peers(out: &str) -> Result<Vec<PeerRow>, PsqlOutputError> {
    let rows: Vec<(String, String)> = json(out)?;
    Ok(rows
        .into_iter()
        .map(|(peer, action)| PeerRow {
            peer,
            action: parse_action(&action),
        })
        .collect())
}

/// Parses the output of [`OBSERVED_SINCE_SCRIPT`].
pub fn parse_optional_i64(out: &str) -> Result<Option<i64>, PsqlOutputError> {
    let (value,): (Option<i64>,) = json(out)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use homelab_core::flows::Action;

    use super::*;

    #[test]
    fn values_are_psql_variables_never_sql() {
        let q = EdgeQuery {
            ns: Some("x' OR '1'='1".into()),
            src: Some("a\\'; DROP TABLE edge; --\nb".into()),
            dst: None,
            new_since: Some(1_782_633_600),
            action: Some(Action::Deny),
            limit: 0,
        };
        let script = edges_script(&q);
        let mut lines = script.lines();
        assert_eq!(lines.next(), Some("\\set ns 'x'' OR ''1''=''1'"));
        assert_eq!(lines.next(), Some("\\set src 'a\\\\''; DROP TABLE edge; --\\nb'"));
        assert_eq!(lines.next(), Some("\\set since '1782633600'"));
        assert_eq!(lines.next(), Some("\\set action 'deny'"));
        assert_eq!(lines.next(), Some("\\set lim '200'"));
        let sql = lines.next().unwrap();
        assert!(lines.next().is_none());
        assert!(
            !sql.contains("DROP") && !sql.contains("1782633600") && !sql.contains("deny"),
            "{sql}"
        );
        assert!(
            sql.contains("(src_ns = :'ns' OR dst_ns = :'ns') AND src_ns = :'src'"),
            "{sql}"
        );
        let peers = peers_script(&PeersQuery {
            of: "kube-system".into(),
            new_since: None,
            action: None,
            limit: 5,
        });
        assert!(
            peers.starts_with("\\set of 'kube-system'\n\\set lim '5'\nSELECT "),
            "{peers}"
        );
    }

    #[test]
    fn outputs_parse() {
        assert_eq!(
            parse_edges("[[\"a\", \"b|c\", \"deny\", 1, 2, 3], \n [\"b\", \"a\", \"bogus\", 4, 5, 6]]\n").unwrap(),
            vec![
                EdgeRow {
                    src_ns: "a".into(),
                    dst_ns: "b|c".into(),
                    action: Action::Deny,
                    first_seen: 1,
                    last_seen: 2,
                    flow_count: 3
                },
                EdgeRow {
                    src_ns: "b".into(),
                    dst_ns: "a".into(),
                    action: Action::Unspecified,
                    first_seen: 4,
                    last_seen: 5,
                    flow_count: 6
                },
            ]
        );
        assert_eq!(parse_edges("[]\n").unwrap(), vec![]);
        assert_eq!(
            parse_peers("[[\"b\", \"allow\"]]").unwrap(),
            vec![PeerRow {
                peer: "b".into(),
                action: Action::Allow
            }]
        );
        assert_eq!(parse_optional_i64("[null]\n"), Ok(None));
        assert_eq!(parse_optional_i64("[1782633600]"), Ok(Some(1_782_633_600)));
        for bad in ["", "\n", "ERROR: relation \"edge\" does not exist", "[1, 2"] {
            assert!(parse_edges(bad).is_err() && parse_optional_i64(bad).is_err(), "{bad:?}");
        }
    }
}
