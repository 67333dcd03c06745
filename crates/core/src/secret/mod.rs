//! Secret resolution, the pure half (docs/contracts/secrets.md): what a reference means, which token and
//! address a command uses, where a secret may be printed, and the `secret inject`
//! template syntax. The adapters that fetch values live in `homelab-vault`.
//!
//! - [`SecretString`]: a value whose `Debug`/`Display` print `[redacted]`.
//! - [`SecretRef`]: `vault://mount/path#key`, `k8s://namespace/name#key`,
//!   `bw://item#field`, `env://VAR` (grammar and escape rule in [`mod@reference`]).
//! - [`precedence`]: the Vault token source order per command family and the address.
//! - [`output`]: stdout / OSC 52 clipboard / refuse, and the refusal messages.
//! - [`template`]: `{{ REF }}` templates for `homelab secret inject`.

pub mod output;
pub mod precedence;
pub mod reference;
pub mod template;
mod value;

pub use output::{Emission, TerminalFacts};
pub use precedence::{TokenDecision, TokenPurpose, TokenSource};
pub use reference::{KvPath, RefError, Scheme, SecretRef};
pub use template::Template;
pub use value::{REDACTED, SecretString, trim_input};
