//! Shared plumbing for the homelab binaries (`homelab`, `goldmane-edge-aggregator`,
//! `whisker-watchdog`): the command context (config, the one runtime, stdout and atomic
//! file writers), one-line failures with the exit codes of one table, the config file,
//! logging. Not a public API: the libraries are `homelab-core`, `homelab-k8s`,
//! `homelab-flows`.

pub mod config;
pub mod ctx;
pub mod exit;
pub mod fail;
pub mod logging;
