//! The homelab CLI's end-to-end tests: one binary, one module per command area, each
//! running the built binaries (CARGO_BIN_EXE_*) against homelab-testkit's fakes.

mod aggregator_cli;
mod apis_cli;
mod edges_cli;
mod gate_cli;
mod gate_live;
mod ingress;
mod policy;
mod sim_cli;
mod support;
mod vault_cli;
mod vaultwarden;
mod watchdog_cli;
