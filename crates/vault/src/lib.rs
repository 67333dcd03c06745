//! # homelab-vault
//!
//! Secret resolution adapters for homelab (docs/contracts/secrets.md), behind the typed references that
//! [`homelab_core::secret`] parses (`vault://mount/path#key`, `k8s://namespace/name#key`,
//! `bw://item#field`, `env://VAR`):
//!
//! - [`resolve`]: the [`Resolver`] with one [`Backend`] per scheme; a scheme without a
//!   backend fails closed ([`resolve::no_backend_message`]). [`EnvBackend`] serves `env://`.
//! - [`emit`]: writes a secret per the core output decision (stdout when piped, OSC 52 on
//!   a known terminal with a detached clear, otherwise a refusal).
//! - [`input`]: reads a secret value from piped stdin or a no-echo prompt.
//! - [`kv`]: Vault/OpenBao KV v2 via vaultrs ([`KvClient`]: read, list, merge-write with
//!   check-and-set) and [`VaultBackend`] for `vault://` references.
//! - [`k8s`]: [`K8sBackend`] for `k8s://` references (one key of a Secret, via
//!   `homelab-k8s`).
//! - [`config`]: the `[vault]` config section; [`token`]: Vault token discovery with the
//!   precedence of [`homelab_core::secret::precedence`].
//! - [`env`](mod@env): the process environment the adapters read ([`ProcessEnv`], read once) and
//!   [`kv_client`] (config + environment → a KV client with the caller's own token).
//! - [`compose`]: [`build_resolver`], a resolver with a backend per scheme in use.
//! - [`vaultwarden`]: the operator's Vaultwarden through `bw`, built from config +
//!   environment in one place ([`vaultwarden::setup`], [`vaultwarden::BwSettings`]), with
//!   the creds in the user's Vault KV path ([`vaultwarden::KvCreds`]).
//!
//! Errors are [`SecretError`]: one line naming what failed and the cause, never a value
//! or a token. Secrets travel as [`homelab_core::secret::SecretString`].

//! A backend is one trait impl, registered per scheme:
//!
//! ```
//! use homelab_core::secret::{Scheme, SecretRef, SecretString};
//! use homelab_vault::{Backend, BoxFuture, EnvBackend, ErrorKind, Resolver, SecretError};
//!
//! #[derive(Debug)]
//! struct Fixed;
//! impl Backend for Fixed {
//!     fn scheme(&self) -> Scheme {
//!         Scheme::Bw
//!     }
//!     fn resolve<'a>(&'a self, r: &'a SecretRef) -> BoxFuture<'a, Result<SecretString, SecretError>> {
//!         Box::pin(async move {
//!             match r {
//!                 SecretRef::Bw { field, .. } if field == "password" => Ok(SecretString::new("pw".into())),
//!                 _ => Err(SecretError::new(ErrorKind::NotFound, "no such field")),
//!             }
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut resolver = Resolver::new();
//! let r = SecretRef::parse("bw://GitHub#password").unwrap();
//! assert!(resolver.resolve(&r).await.is_err()); // no backend yet: fails closed
//! resolver.register(Box::new(Fixed)).register(Box::new(EnvBackend::new()));
//! assert_eq!(resolver.resolve(&r).await.unwrap().expose(), "pw");
//! # });
//! ```

#![forbid(unsafe_code)]

pub mod compose;
pub mod config;
pub mod emit;
pub mod env;
pub mod hardening;
pub mod input;
pub mod k8s;
pub mod kv;
pub mod resolve;
pub mod token;
pub mod vaultwarden;

pub use compose::build_resolver;
pub use config::VaultConfig;
pub use env::{ProcessEnv, kv_client};
pub use k8s::K8sBackend;
pub use kv::{KvClient, SecretData, VaultBackend, WriteOutcome};
pub use resolve::{Backend, BoxFuture, EnvBackend, ErrorKind, Resolver, SecretError, Unavailable};
