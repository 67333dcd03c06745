//! The homelab-core integration tests: one binary, one module per area (data-driven
//! fixtures through homelab_testkit::fixtures, property tests with proptest).
//!
//! proptest keeps its regression seeds in `tests/proptest-regressions/<module>.txt` (the
//! sibling tree of the directory holding this `main.rs`).

// Tests may read fixture files and the environment (UPDATE_FIXTURES); the library may not
// (crates/core/clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::disallowed_macros)]

mod arb_ingress;
mod edge_props;
mod gate_fixtures;
mod gate_props;
mod ingress_fixtures;
mod ingress_policy_props;
mod ingress_props;
mod policy_fixtures;
mod policy_props;
mod secret_fixtures;
