//! # homelab-flows
//!
//! The flow trail (spec §5). **Not built yet**: this crate is reserved for the Goldmane
//! `Flows.Stream` client (tonic over mTLS), the edge aggregator that coalesces flows into
//! the durable `edge` table (Postgres and SQLite stores via sqlx), the daily digest of new
//! edges, the `homelab edges` queries, and the Goldmane simulator. The edge model itself
//! (flow → `(src_ns, dst_ns, action)`) will live in `homelab-core`.
//! It exposes nothing today so that no caller can depend on a half-built API.

#![forbid(unsafe_code)]
