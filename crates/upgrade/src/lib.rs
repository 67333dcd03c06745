//! # homelab-upgrade
//!
//! The autonomous upgrade chain (spec §4). **Not built yet**: this crate is reserved for the
//! runner that performs the I/O of the chain whose decisions live in `homelab-core`:
//! detector, preflight / master / worker / postflight phase Jobs (kube-rs), kubeadm and
//! drain over SSH (russh), Pushgateway gauges, the kill-switch and the nightly report.
//! The compat gate that the preflight calls already exists: `homelab_core::upgrade::gate`
//! with live facts from `homelab_k8s`.
//! It exposes nothing today so that no caller can depend on a half-built API.

#![forbid(unsafe_code)]
