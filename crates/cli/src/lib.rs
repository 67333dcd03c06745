//! Shared plumbing for the homelab binaries (`homelab`, `goldmane-edge-aggregator`,
//! `whisker-watchdog`): one-line failures with documented exit codes, the config file,
//! logging. Not a public API: the libraries are `homelab-core`, `homelab-k8s`,
//! `homelab-flows`.

pub mod config;
pub mod fail;
pub mod logging;
