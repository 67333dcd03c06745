//! # homelab-vault
//!
//! Secret resolution for homelab (spec §6). **Not built yet**: this crate is reserved for the
//! adapters behind the typed secret references that `homelab-core` will parse
//! (`vault://mount/path#key`, `k8s://namespace/name#key`, `bw://item#field`, `env://VAR`):
//!
//! - Vault / OpenBao KV v2 (read, list, merge-writes with check-and-set),
//! - Vaultwarden through the official `bw` CLI (secrets only in the child's environment),
//! - Kubernetes Secrets through `homelab-k8s`, and environment variables,
//!
//! with the no-leak output model (redacted types, no secrets in argv, logs or errors).
//! It exposes nothing today so that no caller can depend on a half-built API.

#![forbid(unsafe_code)]

pub mod hardening;
pub mod vaultwarden;
