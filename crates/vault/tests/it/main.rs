//! The homelab-vault integration tests: one binary, one module per area.
//!
//! proptest keeps its regression seeds in `tests/proptest-regressions/<module>.txt` (the
//! sibling tree of the directory holding this `main.rs`).

mod bw_process;
mod k8s_backend;
mod kv_fake;
