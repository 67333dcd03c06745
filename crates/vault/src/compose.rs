//! Assembling a [`Resolver`] for a set of references: one backend per scheme they use.

use std::collections::BTreeSet;

use homelab_core::secret::Scheme;
use homelab_k8s::{KubeconfigOptions, SecretReader};

use crate::env::{ProcessEnv, kv_client};
use crate::{EnvBackend, K8sBackend, Resolver, Unavailable, VaultBackend, VaultConfig, vaultwarden};

/// A resolver with a backend for each scheme in `schemes` (and `env://`). A backend that
/// cannot be built is registered as [`Unavailable`] with the reason, so the error names
/// the reference that needed it. `bw://` is served by the Vaultwarden backend; without
/// it the resolver fails closed.
pub async fn build_resolver(
    schemes: &BTreeSet<Scheme>,
    vault: &VaultConfig,
    kube: &KubeconfigOptions,
    env: &ProcessEnv,
) -> Resolver {
    let mut resolver = Resolver::new();
    resolver.register(Box::new(EnvBackend::new()));
    if schemes.contains(&Scheme::Vault) {
        match kv_client(vault, env) {
            Ok(client) => resolver.register(Box::new(VaultBackend::new(client))),
            Err(e) => resolver.register(Box::new(Unavailable::from_error(Scheme::Vault, e))),
        };
    }
    if schemes.contains(&Scheme::K8s) {
        match homelab_k8s::connect_with_details(kube).await {
            Ok(c) => resolver.register(Box::new(K8sBackend::new(
                SecretReader::new(c.client).with_api_url(&c.api_url),
            ))),
            Err(e) => resolver.register(Box::new(Unavailable::new(Scheme::K8s, e.to_string()))),
        };
    }
    if schemes.contains(&Scheme::Bw) {
        match vaultwarden::bw_backend(vault, env) {
            Ok(b) => resolver.register(Box::new(b)),
            Err(e) => resolver.register(Box::new(Unavailable::from_error(Scheme::Bw, e))),
        };
    }
    resolver
}
