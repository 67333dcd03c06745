//! Reference models and views for the flow-trail tests: the edges a set of flows adds up
//! to ([`edges_from_flows`]) and a store's whole `edge` table ([`edge_table`]), both in the
//! shape of [`SimHandle::expected_edges`](homelab_flows::sim::SimHandle::expected_edges).

use std::collections::BTreeMap;

use homelab_core::flows::query::{EdgeQuery, MAX_LIMIT};
use homelab_core::flows::{Action, EndpointType, FlowRecord};
use homelab_flows::sim::{ExpectedEdge, ExpectedEdges};
use homelab_flows::store::{EdgeStore, StoreError};

/// A deliberately naive reference model for tests: the namespace edges a set of received
/// flows adds up to, in the shape of [`SimHandle::expected_edges`](homelab_flows::sim::SimHandle::expected_edges). A connection is a
/// flow key minus reporter and action within one bucket; it counts once, as deny if any
/// of its reports is a deny; self-edges, `-`/empty namespaces and non-workload endpoints
/// are skipped. Duplicated messages (same reporter twice) are not detected here.
pub fn edges_from_flows(flows: &[FlowRecord]) -> ExpectedEdges {
    type Conn<'a> = (i64, i64, &'a str, &'a str, &'a str, &'a str, i64, &'a str);
    let mut conns: BTreeMap<Conn<'_>, Action> = BTreeMap::new();
    for f in flows {
        let no_ns = |ns: &str| ns.is_empty() || ns == "-";
        let workload = |t: EndpointType| t == EndpointType::WorkloadEndpoint;
        if no_ns(&f.source_namespace)
            || no_ns(&f.dest_namespace)
            || !workload(f.source_type)
            || !workload(f.dest_type)
            || f.source_namespace == f.dest_namespace
        {
            continue;
        }
        let key = (
            f.start_time,
            f.end_time,
            f.source_namespace.as_str(),
            f.source_name.as_str(),
            f.dest_namespace.as_str(),
            f.dest_name.as_str(),
            f.dest_port,
            f.proto.as_str(),
        );
        let action = conns.entry(key).or_insert(f.action);
        if f.action == Action::Deny {
            *action = Action::Deny;
        }
    }
    let mut out = ExpectedEdges::new();
    for ((start, end, src_ns, _, dst_ns, _, _, _), action) in conns {
        let e = out
            .entry((src_ns.to_owned(), dst_ns.to_owned(), action))
            .or_insert(ExpectedEdge {
                flow_count: 0,
                first_seen: start,
                last_seen: end,
            });
        e.flow_count += 1;
        e.first_seen = e.first_seen.min(start);
        e.last_seen = e.last_seen.max(end);
    }
    out
}

/// The whole `edge` table in the shape of [`SimHandle::expected_edges`](homelab_flows::sim::SimHandle::expected_edges), so a test can
/// compare a store with the simulator's ground truth with `==`.
pub async fn edge_table<S: EdgeStore>(store: &S) -> Result<ExpectedEdges, StoreError> {
    Ok(store
        .edges(&EdgeQuery {
            limit: MAX_LIMIT,
            ..EdgeQuery::default()
        })
        .await?
        .into_iter()
        .map(|r| {
            (
                (r.src_ns, r.dst_ns, r.action),
                ExpectedEdge {
                    flow_count: r.flow_count,
                    first_seen: r.first_seen,
                    last_seen: r.last_seen,
                },
            )
        })
        .collect())
}
