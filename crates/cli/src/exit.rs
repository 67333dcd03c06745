//! Every exit code of the homelab binaries, per command family, in one table. The README
//! ("Exit codes") is the contract; exit codes are an API (the upgrade chain, CronJobs and
//! CI read them).
//!
//! | family | codes |
//! |---|---|
//! | `upgrade gate` | 0 safe, 2 actionable block, 3 gate error (also bad arguments), 4 held |
//! | `upgrade snapshot` | 0 ok, 3 error (also bad arguments) |
//! | `upgrade apis` | 0 clean, 1 removed APIs found, 2 error |
//! | `vault …`, `vault kv …`, `secret …` | 0 ok, 1 failed or refused, 2 usage or configuration |
//! | `ingress lint` | 0 clean, 1 violations, 2 error |
//! | `policy check` | 0 clean, 1 findings, 2 error (whatever the format) |
//! | everything else (`edges`, `ingress render`, `sim`, `demo`) | 0 ok, 2 error |
//! | `goldmane-edge-aggregator`, `whisker-watchdog` | 0 ok, 1 failure, 2 bad arguments |

/// Success, for every command.
pub const OK: u8 = 0;

/// `upgrade gate` and `upgrade snapshot`. The gate's 0/2/4 come from the decision itself
/// (`Decision::exit_code`).
pub mod upgrade {
    /// The gate failed to decide (or bad arguments): the chain treats it as a fail-safe
    /// block. Also every `upgrade snapshot` failure.
    pub const GATE_ERROR: u8 = 3;
}

/// `upgrade apis`.
pub mod apis {
    pub const CLEAN: u8 = 0;
    pub const FOUND: u8 = 1;
    pub const ERROR: u8 = 2;
}

/// `vault` (Vaultwarden), `vault kv` and `secret`.
pub mod secrets {
    /// The operation failed or was refused (backend error, not found, terminal refusal,
    /// unhealthy `vault status`).
    pub const FAILED: u8 = 1;
    /// Bad usage, a malformed path/reference/template, or missing configuration.
    pub const USAGE: u8 = 2;
}

/// `ingress lint`.
pub mod lint {
    pub const CLEAN: u8 = 0;
    pub const VIOLATIONS: u8 = 1;
    pub const ERROR: u8 = 2;
}

/// `policy check` (its 0/1 come from the report: `Report::exit_code`).
pub mod policy {
    pub const ERROR: u8 = 2;
}

/// Every other `homelab` command (`edges`, `ingress render`, `sim`, `demo`) and bad
/// arguments outside the upgrade family.
pub const ERROR: u8 = 2;

/// The long-running binaries (`goldmane-edge-aggregator`, `whisker-watchdog`).
pub mod service {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
}
