//! Kubernetes upgrade decisions: the compat gate, its inputs (matrix, snapshot), the
//! built-in removed-API table and the manifest API scan.

pub mod apis;
pub mod gate;
pub mod matrix;
pub mod removed_apis;
pub mod snapshot;

pub use gate::{Decision, GateError, Reason, ReasonKind, Tag, Verdict, evaluate};
pub use matrix::{Addon, CompatMatrix, MatrixError};
pub use snapshot::{ClusterSnapshot, DeprecatedApiRequest, NodeFacts, WorkloadFacts, WorkloadKind};
