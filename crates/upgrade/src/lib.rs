//! # homelab-upgrade
//!
//! A reserved, empty crate: the name is held for the I/O side of an autonomous
//! Kubernetes upgrade chain, which does not exist. It exposes nothing, so nothing can
//! depend on a half-built API; what it should become is tracked in the issue tracker.
//!
//! What exists for upgrades today is the compat gate: the pure decision in
//! `homelab_core::upgrade::gate`, live cluster facts from `homelab_k8s`, and the
//! `homelab upgrade gate|snapshot|apis` commands (docs/contracts/compat-gate.md).

#![forbid(unsafe_code)]
