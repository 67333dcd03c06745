//! `goldmane-edge-aggregator digest`: edges first seen inside the window, as one Slack
//! message. Quiet when nothing is new; prints instead of posting with `DRY_RUN=1` or an
//! empty webhook; a failed post is an error (so `DigestFailing` fires — never silent).

use std::time::Duration;

use homelab_core::flows::digest::message;
use thiserror::Error;

use crate::store::{EdgeStore, StoreError};

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
    let _ = rustls::crypto::ring::default_provider().install_default();
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
