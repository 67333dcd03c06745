//! # homelab-flows
//!
//! The flow trail (contract: docs/contracts/flow-trail.md): who talks to whom in the cluster, durably.
//!
//! - [`aggregator`]: the `aggregate` loop (stream → buckets → one upsert per flush),
//!   with `/healthz`, `/readyz` and `/metrics`;
//! - [`digest`]: the daily message of new edges (Slack webhook or dry run);
//! - [`goldmane`]: the Goldmane `Flows` API (proto compiled at build time with protox, no
//!   system `protoc`), the mTLS client configuration (`GOLDMANE_*` env) and the
//!   streaming client with keepalive, capped backoff and resume (`start_time_gte`);
//! - [`sim`]: a Goldmane-compatible `Flows` server streaming synthetic flows from a
//!   topology file (demo, tests, benchmarks), and [`sim::pki`], the throwaway certificates
//!   of `homelab sim` and `homelab demo`;
//! - [`store`]: the `edge` table behind the [`store::EdgeStore`] trait, PostgreSQL
//!   (production) and SQLite (embedded default), migrations at startup, one statement per
//!   flush.
//!
//! The edge model itself (flows → `(src_ns, dst_ns, action)` deltas, buckets, cursor) is
//! pure and lives in `homelab_core::flows`.

#![forbid(unsafe_code)]

pub mod aggregator;
pub mod demo;
pub mod digest;
pub mod goldmane;
pub mod sim;
pub mod store;
