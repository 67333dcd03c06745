//! # homelab-core
//!
//! Pure domain logic for the homelab platform: data in, decisions out. This crate does no
//! I/O, spawns no threads and has no async runtime; `cargo xtask ci` fails if its normal
//! dependency tree ever contains tokio, kube, tonic, hyper, reqwest, sqlx, vaultrs or
//! russh. Adapters that fetch the data live in the other `homelab-*` crates.
//!
//! - [`version`]: Kubernetes and addon version numbers.
//! - [`upgrade`]: the compat gate (`homelab upgrade gate`), its matrix and snapshot
//!   formats, the built-in removed-API table and the manifest API scan.
//! - [`flows`]: the flow trail's edge model (Goldmane flows → namespace edges), the
//!   bucket/cursor logic, `homelab edges` queries and renderings, policy derivation and
//!   the digest.
//! - [`vaultwarden`]: the pure half of `homelab vault` over Vaultwarden: `bw` argv and
//!   environment, login detection, the `--all` item projection, the op-log line.
//! - [`watchdog`]: when `whisker-watchdog` restarts Whisker.
//! - [`manifest`]: multi-document YAML/JSON manifests as JSON values with positions.
//! - [`names`]: DNS-1123 label/subdomain checks shared by every name a user gives.
//! - [`posture`]: the ingress auth-posture contract shared by the ingress factory and
//!   the policy engine (admin-UI detection, auth middlewares, exemption annotations).
//! - [`secret`]: secret references (`vault://`, `k8s://`, `bw://`, `env://`), the
//!   redacted [`secret::SecretString`], Vault token precedence, the TTY/OSC 52 output
//!   decision and the `secret inject` template syntax.
//! - [`ingress`]: the ingress factory (spec → Ingress, Middlewares, ExternalName
//!   Service, DNS record intents) and the call-site lint.
//! - [`policy`]: the manifest policy engine (`homelab policy check`): rules with stable
//!   IDs, exemptions, text/JSON/SARIF reports.
//! - [`time`]: the one calendar: Unix seconds ⇄ dates and RFC 3339, durations, [`time::Date`]
//!   (no clock: `now` is always an argument).

#![forbid(unsafe_code)]

pub mod flows;
pub mod ingress;
pub mod manifest;
pub mod names;
pub mod policy;
pub mod posture;
pub mod secret;
pub mod time;
pub mod upgrade;
pub mod vaultwarden;
pub mod version;
pub mod watchdog;
