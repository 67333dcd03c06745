//! `goldmane-edge-aggregator digest`: edges first seen inside the window, as one Slack
//! message. Quiet when nothing is new; prints instead of posting with `DRY_RUN=1` or an
//! empty webhook; a failed post is an error (so `DigestFailing` fires — never silent).

use std::time::Duration;

use homelab_core::flows::digest::message;
use thiserror::Error;

use crate::aggregator::{Lookup, SettingsError};
use crate::store::{self, AnyStore, EdgeStore, StoreError};

/// Most edges a digest reads (the message lists the first few and counts the rest).
const READ_LIMIT: u32 = 10_000;

/// What the digest does with its message.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub window_seconds: i64,
    /// How the window is named in the message, e.g. `24h`.
    pub window_label: String,
    /// `SLACK_WEBHOOK_URL`; `None` or empty prints instead of posting.
    pub webhook: Option<String>,
    pub dry_run: bool,
}

/// What `goldmane-edge-aggregator digest` runs with: `DIGEST_WINDOW` (default `24h`),
/// `SLACK_WEBHOOK_URL` (empty = print), `DRY_RUN` (`1`, `true`, `yes`), `DATABASE_URL`
/// (unset = the local SQLite file).
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: DigestConfig,
    pub database_url: String,
}

impl Settings {
    /// Reads the digest's settings through `lookup` (empty values count as unset).
    pub fn from_env(lookup: Lookup<'_>) -> Result<Settings, SettingsError> {
        use crate::aggregator::settings::{database_url, duration, get};
        let window = duration(lookup, "DIGEST_WINDOW", "24h")?;
        Ok(Settings {
            config: DigestConfig {
                window_seconds: window.as_secs() as i64,
                window_label: get(lookup, "DIGEST_WINDOW").unwrap_or_else(|| "24h".into()),
                webhook: get(lookup, "SLACK_WEBHOOK_URL"),
                dry_run: get(lookup, "DRY_RUN").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
            },
            database_url: database_url(lookup),
        })
    }

    /// Connects to the store now (a digest is a one-shot job: no point in waiting).
    pub async fn open_store(&self) -> Result<AnyStore, SettingsError> {
        store::connect(&self.database_url)
            .await
            .map_err(SettingsError::DatabaseUrl)
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Nothing new: no message.
    Quiet,
    /// Dry run (or no webhook): the message, for the caller to print.
    DryRun(String),
    /// Posted to Slack.
    Posted { edges: usize },
}

#[derive(Debug, Error)]
pub enum DigestError {
    #[error("edge store: {0}")]
    Store(#[from] StoreError),
    #[error("Slack webhook answered HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("cannot post to the Slack webhook: {0}")]
    Post(String),
}

/// Runs the digest at `now` (Unix seconds).
pub async fn run<St: EdgeStore>(store: &St, config: &DigestConfig, now: i64) -> Result<DigestOutcome, DigestError> {
    let since = now - config.window_seconds;
    let rows = store.new_edges(since, READ_LIMIT).await?;
    let Some(text) = message(&rows, &config.window_label, rows.len()) else {
        return Ok(DigestOutcome::Quiet);
    };
    let webhook = config.webhook.as_deref().map(str::trim).filter(|w| !w.is_empty());
    match webhook {
        Some(url) if !config.dry_run => {
            post(url, &text).await?;
            Ok(DigestOutcome::Posted { edges: rows.len() })
        }
        _ => Ok(DigestOutcome::DryRun(text)),
    }
}

/// POSTs `{"text": …}` to a Slack incoming webhook. Slack answers 200 `ok`, or an error
/// status with a reason such as `channel_not_found` (that reason is the error's text;
/// the webhook URL — a credential — is never).
pub async fn post(url: &str, text: &str) -> Result<(), DigestError> {
    homelab_k8s::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| DigestError::Post(e.without_url().to_string()))?;
    let resp = client
        .post(url)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .map_err(|e| DigestError::Post(e.without_url().to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
    Err(DigestError::Rejected {
        status: status.as_u16(),
        body: body.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_env(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_print_a_day_into_the_local_file() {
        let s = read(&[("SLACK_WEBHOOK_URL", " ")]).unwrap();
        assert_eq!(s.config.window_seconds, 86_400);
        assert_eq!(s.config.window_label, "24h");
        assert_eq!(s.config.webhook, None);
        assert!(!s.config.dry_run);
        assert_eq!(s.database_url, store::default_sqlite_url());
    }

    #[test]
    fn values_are_read_and_the_window_keeps_its_spelling() {
        let s = read(&[
            ("DIGEST_WINDOW", "1h"),
            ("SLACK_WEBHOOK_URL", "https://hooks.example/x"),
            ("DRY_RUN", "yes"),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
        .unwrap();
        assert_eq!(s.config.window_seconds, 3600);
        assert_eq!(s.config.window_label, "1h");
        assert_eq!(s.config.webhook.as_deref(), Some("https://hooks.example/x"));
        assert!(s.config.dry_run);
        assert_eq!(s.database_url, "sqlite::memory:");
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("0", false),
            ("no", false),
            ("TRUE", false),
        ] {
            assert_eq!(read(&[("DRY_RUN", v)]).unwrap().config.dry_run, want, "DRY_RUN={v}");
        }
    }

    #[test]
    fn a_bad_window_names_the_variable() {
        let e = read(&[("DIGEST_WINDOW", "daily")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"DIGEST_WINDOW="daily" is not a duration (e.g. 15s, 1m, 24h)"#
        );
    }

    #[tokio::test]
    async fn a_bad_database_url_is_named() {
        let s = read(&[("DATABASE_URL", "mysql://x/y")]).unwrap();
        let e = s.open_store().await.unwrap_err();
        assert_eq!(e.to_string(), "DATABASE_URL");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("edges.db").display());
        let s = read(&[("DATABASE_URL", &url)]).unwrap();
        assert!(s.open_store().await.is_ok());
    }
}
