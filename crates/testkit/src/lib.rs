//! # homelab-testkit
//!
//! What only the tests (and the benchmarks) need, kept out of the product crates. Never
//! shipped: it is a `[dev-dependencies]` entry of the product crates only (the `benches`
//! crate, itself unshipped, uses it as a normal dependency).
//!
//! - [`http`]: the one loopback HTTP server the wire fakes run on;
//! - [`k8s`]: a fake Kubernetes API server (real `k8s-openapi` JSON, websocket exec) and a
//!   fake Prometheus;
//! - [`vault`]: a fake Vault/OpenBao KV v2 server with token policies;
//! - [`postgres`]: [`TempPostgres`](postgres::TempPostgres), a throwaway PostgreSQL server
//!   (a test fails when PostgreSQL is missing, unless skipped on purpose with
//!   `HOMELAB_SKIP_POSTGRES=1`);
//! - [`pki`]: the product's throwaway certificates plus an unrelated CA to prove rejection;
//! - [`flows`]: reference models for the flow-trail tests;
//! - [`pty`]: pseudo-terminals for the terminal rules;
//! - [`fixtures`]: the data-driven fixture driver (`UPDATE_FIXTURES=1` rewrites).
//!
//! Because it depends on the product crates, a crate's own unit tests (inside `src/`) must
//! not use it (they would see a second copy of the crate's types): tests that need it are
//! integration tests (`tests/it/`).
//!
//! What a demo needs at run time is product code, not here: the Goldmane simulator and its
//! throwaway certificates (`homelab_flows::sim`, `homelab_flows::sim::pki`).

#![forbid(unsafe_code)]

pub mod fixtures;
pub mod flows;
pub mod http;
pub mod k8s;
pub mod pki;
pub mod postgres;
pub mod pty;
pub mod vault;
