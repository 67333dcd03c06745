//! The read queries, described once and rendered per dialect.
//!
//! [`edges`], [`peers`] and [`observed_since`] describe each statement as a list of
//! [`Part`]s: SQL text, and named values. A backend renders them its own way:
//!
//! - PostgreSQL and SQLite through sqlx's `QueryBuilder` ([`Part::Value`] becomes a bound
//!   `$n` / `?` parameter);
//! - psql scripts ([`psql_script`]): each value is set once as a psql variable
//!   (`\set name '…'`) and used as `:'name'`, which psql sends as a quoted literal.
//!
//! Values never become SQL text, in any dialect. The dialect only changes SQL text: epoch
//! conversions (`timestamptz` in PostgreSQL, `INTEGER` seconds in SQLite), byte-wise
//! collation, SQLite's index hint, and the psql scripts' JSON wrapping (so the output
//! parses the same whatever the values contain).

use homelab_core::flows::query::{EdgeQuery, PeersQuery};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::row_limit;

/// Where a statement is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
    /// PostgreSQL through a `psql` script (values as psql variables).
    Psql,
}

/// A value of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Int(i64),
}

/// A piece of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    Sql(&'static str),
    /// A named value: the name is the psql variable; sqlx binds by position.
    Value(&'static str, Value<'a>),
}

struct Statement<'a> {
    dialect: Dialect,
    parts: Vec<Part<'a>>,
}

impl<'a> Statement<'a> {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            parts: Vec::new(),
        }
    }

    fn sql(&mut self, s: &'static str) -> &mut Self {
        self.parts.push(Part::Sql(s));
        self
    }

    fn text(&mut self, name: &'static str, v: &'a str) -> &mut Self {
        self.parts.push(Part::Value(name, Value::Text(v)));
        self
    }

    /// An `int8` value (psql variables are text: they are cast).
    fn int(&mut self, name: &'static str, v: i64) -> &mut Self {
        self.parts.push(Part::Value(name, Value::Int(v)));
        if self.dialect == Dialect::Psql {
            self.sql("::int8");
        }
        self
    }

    /// A Unix-seconds value compared with a timestamp column.
    fn seconds(&mut self, name: &'static str, v: i64) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.int(name, v),
            Dialect::Postgres | Dialect::Psql => {
                self.sql("to_timestamp(");
                self.parts.push(Part::Value(name, Value::Int(v)));
                self.sql("::int8)")
            }
        }
    }

    fn pg(&self) -> bool {
        self.dialect != Dialect::Sqlite
    }
}

/// The edge columns as Unix seconds (`src_ns, dst_ns, action, first_seen, last_seen,
/// flow_count`), from the `edge` table.
const PG_EDGE_COLUMNS: &str = "SELECT src_ns, dst_ns, action, \
     floor(extract(epoch FROM first_seen))::int8, floor(extract(epoch FROM last_seen))::int8, flow_count \
     FROM edge WHERE TRUE";
const SQLITE_EDGE_COLUMNS: &str = "SELECT src_ns, dst_ns, action, first_seen, last_seen, flow_count FROM edge WHERE 1";
/// [`SQLITE_EDGE_COLUMNS`] when no namespace filter narrows the rows: walk
/// `edge_first_seen_idx` newest first, sort only the ties, stop after `LIMIT` rows. Left to
/// itself, SQLite's planner scans and sorts the whole table instead (1,000,000 rows:
/// ~100 ms, not ~1 ms).
const SQLITE_NEWEST_EDGE_COLUMNS: &str = "SELECT src_ns, dst_ns, action, first_seen, last_seen, flow_count \
     FROM edge INDEXED BY edge_first_seen_idx WHERE 1";

/// Namespaces compare byte-wise (as in SQLite) whatever the PostgreSQL collation.
const PG_EDGE_ORDER: &str =
    " ORDER BY first_seen DESC, src_ns COLLATE \"C\", dst_ns COLLATE \"C\", action COLLATE \"C\"";
const SQLITE_EDGE_ORDER: &str = " ORDER BY first_seen DESC, src_ns, dst_ns, action";

/// `homelab edges`: the AND of the set filters (`ns` matches either end), newest first then
/// by key, at most `q.limit` rows (0 = the default).
pub(crate) fn edges(dialect: Dialect, q: &EdgeQuery) -> Vec<Part<'_>> {
    let mut s = Statement::new(dialect);
    match dialect {
        Dialect::Postgres => s.sql(PG_EDGE_COLUMNS),
        Dialect::Psql => s.sql(
            "SELECT coalesce(json_agg(json_build_array(src_ns, dst_ns, action, \
             floor(extract(epoch FROM first_seen))::int8, floor(extract(epoch FROM last_seen))::int8, flow_count) \
             ORDER BY first_seen DESC, src_ns COLLATE \"C\", dst_ns COLLATE \"C\", action COLLATE \"C\"), '[]'::json) \
             FROM (SELECT * FROM edge WHERE TRUE",
        ),
        Dialect::Sqlite if q.ns.is_some() || q.src.is_some() || q.dst.is_some() => s.sql(SQLITE_EDGE_COLUMNS),
        Dialect::Sqlite => s.sql(SQLITE_NEWEST_EDGE_COLUMNS),
    };
    if let Some(ns) = &q.ns {
        s.sql(" AND (src_ns = ")
            .text("ns", ns)
            .sql(" OR dst_ns = ")
            .text("ns", ns)
            .sql(")");
    }
    if let Some(src) = &q.src {
        s.sql(" AND src_ns = ").text("src", src);
    }
    if let Some(dst) = &q.dst {
        s.sql(" AND dst_ns = ").text("dst", dst);
    }
    if let Some(since) = q.new_since {
        s.sql(" AND first_seen >= ").seconds("since", since);
    }
    if let Some(action) = q.action {
        s.sql(" AND action = ").text("action", action.as_str());
    }
    s.sql(if s.pg() { PG_EDGE_ORDER } else { SQLITE_EDGE_ORDER });
    s.sql(" LIMIT ").int("lim", row_limit(q.limit));
    if dialect == Dialect::Psql {
        s.sql(") AS e;\n");
    }
    s.parts
}

/// `homelab edges --peers-of`: the distinct `(peer, action)` pairs of the edges touching
/// `q.of` (the peer is the other end), ordered by peer then action.
pub(crate) fn peers(dialect: Dialect, q: &PeersQuery) -> Vec<Part<'_>> {
    let mut s = Statement::new(dialect);
    if dialect == Dialect::Psql {
        s.sql("SELECT coalesce(json_agg(json_build_array(peer, action) ORDER BY peer, action), '[]'::json) FROM (");
    }
    if s.pg() {
        s.sql("SELECT DISTINCT (CASE WHEN src_ns = ").text("of", &q.of).sql(
            " THEN dst_ns ELSE src_ns END) COLLATE \"C\" AS peer, action COLLATE \"C\" AS action FROM edge WHERE (src_ns = ",
        );
    } else {
        s.sql("SELECT DISTINCT CASE WHEN src_ns = ")
            .text("of", &q.of)
            .sql(" THEN dst_ns ELSE src_ns END AS peer, action FROM edge WHERE (src_ns = ");
    }
    s.text("of", &q.of).sql(" OR dst_ns = ").text("of", &q.of).sql(")");
    if let Some(since) = q.new_since {
        s.sql(" AND first_seen >= ").seconds("since", since);
    }
    if let Some(action) = q.action {
        s.sql(" AND action = ").text("action", action.as_str());
    }
    s.sql(" ORDER BY peer, action LIMIT ").int("lim", row_limit(q.limit));
    if dialect == Dialect::Psql {
        s.sql(") AS p;\n");
    }
    s.parts
}

/// Since when edges have been observed: the least `first_seen` in Unix seconds (NULL when
/// the table is empty; psql prints it as `[<seconds>]` / `[null]`).
pub(crate) const fn observed_since(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SELECT floor(extract(epoch FROM min(first_seen)))::int8 FROM edge",
        Dialect::Sqlite => "SELECT min(first_seen) FROM edge",
        Dialect::Psql => "SELECT json_build_array(floor(extract(epoch FROM min(first_seen)))::int8) FROM edge;\n",
    }
}

/// A [`Dialect::Psql`] statement as a script: each named value set once (in order of first
/// use) with `\set`, quoted for psql's meta-command parser (which processes backslash
/// escapes and doubled quotes inside single quotes), then the SQL with `:'name'`.
pub(crate) fn psql_script(parts: &[Part<'_>]) -> String {
    let mut sets = String::new();
    let mut sql = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for part in parts {
        match part {
            Part::Sql(s) => sql.push_str(s),
            Part::Value(name, value) => {
                if !seen.contains(name) {
                    seen.push(name);
                    let text = match value {
                        Value::Text(t) => (*t).to_owned(),
                        Value::Int(i) => i.to_string(),
                    };
                    set(&mut sets, name, &text);
                }
                sql.push_str(":'");
                sql.push_str(name);
                sql.push('\'');
            }
        }
    }
    sets.push_str(&sql);
    sets
}

fn set(script: &mut String, name: &str, value: &str) {
    script.push_str("\\set ");
    script.push_str(name);
    script.push_str(" '");
    for c in value.chars() {
        match c {
            '\'' => script.push_str("''"),
            '\\' => script.push_str("\\\\"),
            '\n' => script.push_str("\\n"),
            '\r' => script.push_str("\\r"),
            c => script.push(c),
        }
    }
    script.push_str("'\n");
}

/// A PostgreSQL or SQLite statement for sqlx: every [`Part::Value`] a bound parameter.
pub(crate) fn builder<DB>(parts: &[Part<'_>]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new("");
    for part in parts {
        match *part {
            Part::Sql(s) => {
                qb.push(s);
            }
            Part::Value(_, Value::Text(t)) => {
                qb.push_bind(t.to_owned());
            }
            Part::Value(_, Value::Int(i)) => {
                qb.push_bind(i);
            }
        }
    }
    qb
}

/// The SQL text with sqlx's placeholders (`$1, $2, …` or `?`), and the values in bind order.
#[cfg(test)]
pub(crate) fn placeholders<'a>(dialect: Dialect, parts: &[Part<'a>]) -> (String, Vec<Value<'a>>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    for part in parts {
        match part {
            Part::Sql(s) => sql.push_str(s),
            Part::Value(_, v) => {
                values.push(*v);
                if dialect == Dialect::Sqlite {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${}", values.len()));
                }
            }
        }
    }
    (sql, values)
}

#[cfg(test)]
mod tests {
    use homelab_core::flows::Action;

    use super::*;

    fn hostile() -> EdgeQuery {
        EdgeQuery {
            ns: Some("x' OR '1'='1".into()),
            src: Some("a\\'; DROP TABLE edge; --\nb".into()),
            dst: None,
            new_since: Some(1_782_633_600),
            action: Some(Action::Deny),
            limit: 0,
        }
    }

    #[test]
    fn postgres_binds_every_value() {
        let q = hostile();
        let (sql, values) = placeholders(Dialect::Postgres, &edges(Dialect::Postgres, &q));
        assert_eq!(
            sql,
            "SELECT src_ns, dst_ns, action, floor(extract(epoch FROM first_seen))::int8, \
             floor(extract(epoch FROM last_seen))::int8, flow_count FROM edge WHERE TRUE \
             AND (src_ns = $1 OR dst_ns = $2) AND src_ns = $3 AND first_seen >= to_timestamp($4::int8) \
             AND action = $5 ORDER BY first_seen DESC, src_ns COLLATE \"C\", dst_ns COLLATE \"C\", \
             action COLLATE \"C\" LIMIT $6"
        );
        assert_eq!(
            values,
            vec![
                Value::Text("x' OR '1'='1"),
                Value::Text("x' OR '1'='1"),
                Value::Text("a\\'; DROP TABLE edge; --\nb"),
                Value::Int(1_782_633_600),
                Value::Text("deny"),
                Value::Int(200),
            ]
        );
        let pq = PeersQuery {
            of: "kube-system".into(),
            new_since: Some(5),
            action: None,
            limit: 7,
        };
        let (sql, values) = placeholders(Dialect::Postgres, &peers(Dialect::Postgres, &pq));
        assert_eq!(
            sql,
            "SELECT DISTINCT (CASE WHEN src_ns = $1 THEN dst_ns ELSE src_ns END) COLLATE \"C\" AS peer, \
             action COLLATE \"C\" AS action FROM edge WHERE (src_ns = $2 OR dst_ns = $3) \
             AND first_seen >= to_timestamp($4::int8) ORDER BY peer, action LIMIT $5"
        );
        assert_eq!(values.len(), 5);
    }

    #[test]
    fn sqlite_binds_every_value_and_hints_the_index_when_unfiltered() {
        let q = hostile();
        let (sql, values) = placeholders(Dialect::Sqlite, &edges(Dialect::Sqlite, &q));
        assert_eq!(
            sql,
            "SELECT src_ns, dst_ns, action, first_seen, last_seen, flow_count FROM edge WHERE 1 \
             AND (src_ns = ? OR dst_ns = ?) AND src_ns = ? AND first_seen >= ? AND action = ? \
             ORDER BY first_seen DESC, src_ns, dst_ns, action LIMIT ?"
        );
        assert_eq!(values.len(), 6);
        let unfiltered = EdgeQuery {
            limit: 3,
            ..EdgeQuery::default()
        };
        let (sql, values) = placeholders(Dialect::Sqlite, &edges(Dialect::Sqlite, &unfiltered));
        assert!(sql.contains("INDEXED BY edge_first_seen_idx"), "{sql}");
        assert_eq!(values, vec![Value::Int(3)]);
        let pq = PeersQuery {
            of: "a".into(),
            new_since: None,
            action: Some(Action::Allow),
            limit: 0,
        };
        let (sql, _) = placeholders(Dialect::Sqlite, &peers(Dialect::Sqlite, &pq));
        assert_eq!(
            sql,
            "SELECT DISTINCT CASE WHEN src_ns = ? THEN dst_ns ELSE src_ns END AS peer, action FROM edge \
             WHERE (src_ns = ? OR dst_ns = ?) AND action = ? ORDER BY peer, action LIMIT ?"
        );
    }

    #[test]
    fn psql_sets_each_variable_once() {
        let script = psql_script(&edges(Dialect::Psql, &hostile()));
        let mut lines = script.lines();
        assert_eq!(lines.next(), Some("\\set ns 'x'' OR ''1''=''1'"));
        assert_eq!(lines.next(), Some("\\set src 'a\\\\''; DROP TABLE edge; --\\nb'"));
        assert_eq!(lines.next(), Some("\\set since '1782633600'"));
        assert_eq!(lines.next(), Some("\\set action 'deny'"));
        assert_eq!(lines.next(), Some("\\set lim '200'"));
        let sql = lines.next().unwrap();
        assert!(lines.next().is_none());
        assert!(
            sql.contains(
                "FROM (SELECT * FROM edge WHERE TRUE AND (src_ns = :'ns' OR dst_ns = :'ns') AND src_ns = :'src' \
                 AND first_seen >= to_timestamp(:'since'::int8) AND action = :'action' ORDER BY"
            ),
            "{sql}"
        );
        assert!(sql.ends_with(" LIMIT :'lim'::int8) AS e;"), "{sql}");
        let pq = PeersQuery {
            of: "kube-system".into(),
            new_since: None,
            action: None,
            limit: 5,
        };
        let peers = psql_script(&peers(Dialect::Psql, &pq));
        assert!(
            peers.starts_with("\\set of 'kube-system'\n\\set lim '5'\nSELECT "),
            "{peers}"
        );
        assert!(
            peers.contains("WHERE (src_ns = :'of' OR dst_ns = :'of') ORDER BY peer, action LIMIT :'lim'::int8) AS p;")
        );
    }
}
