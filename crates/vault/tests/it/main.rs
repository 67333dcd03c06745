//! The homelab-vault integration tests: one binary, one module per area.

mod bw_process;
mod k8s_backend;
mod kv_fake;
