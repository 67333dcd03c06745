//! The homelab-core integration tests: one binary, one module per area (data-driven
//! fixtures through homelab_testkit::fixtures, property tests with proptest).

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
