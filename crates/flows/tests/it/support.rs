//! Helpers shared by the flows integration tests.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use homelab_core::flows::{Action, EdgeDelta, EdgeKey};
use homelab_flows::sim::Topology;

pub fn key(src: &str, dst: &str, action: Action) -> EdgeKey {
    EdgeKey {
        src_ns: src.into(),
        dst_ns: dst.into(),
        action,
    }
}

pub fn delta(first_seen: i64, last_seen: i64, flow_count: i64) -> EdgeDelta {
    EdgeDelta {
        first_seen,
        last_seen,
        flow_count,
    }
}

/// A shipped topology, `testdata/topologies/<file>`.
pub fn topology(file: &str) -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/topologies")
        .join(file);
    Topology::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}
