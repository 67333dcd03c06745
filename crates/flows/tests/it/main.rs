//! The homelab-flows integration tests: one binary, one module per area.

mod aggregator_e2e;
mod aggregator_independent;
mod goldmane_client;
mod goldmane_config;
mod sim_stream;
mod store_backends;
mod store_sqlite;
mod support;
