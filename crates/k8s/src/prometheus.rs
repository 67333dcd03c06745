//! The deprecated-API requests the API servers reported to Prometheus
//! (`apiserver_requested_deprecated_apis`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use homelab_core::upgrade::DeprecatedApiRequest;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{PromError, cause_of, one_line, redact_url};
use crate::kubeconfig::ensure_crypto_provider;

/// The PromQL query sent.
pub const DEPRECATED_APIS_QUERY: &str = "apiserver_requested_deprecated_apis";
/// Whole-request timeout for Prometheus queries.
pub const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are refused (a real answer is a few kilobytes).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A small Prometheus HTTP API client.
#[derive(Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    /// `{base}/api/v1/query`, possibly with user info (never printed).
    query_url: reqwest::Url,
    /// The base URL as shown in messages (no user info).
    display_url: String,
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("url", &self.display_url)
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    /// A client for the Prometheus at `base_url` (`http://` or `https://`, optionally with
    /// a path prefix such as `https://host/prometheus`). Requests time out after
    /// [`PROMETHEUS_TIMEOUT`]; TLS is rustls with the ring provider.
    pub fn new(base_url: &str) -> Result<Self, PromError> {
        let trimmed = base_url.trim();
        let invalid = |reason: &str| PromError::InvalidUrl {
            url: redact_url(trimmed),
            reason: reason.to_owned(),
        };
        if trimmed.is_empty() {
            return Err(invalid("empty"));
        }
        let mut url = reqwest::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("expected an http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("expected a base URL without ?query or #fragment"));
        }
        let display_url = redact_url(trimmed);
        let path = format!("{}/api/v1/query", url.path().trim_end_matches('/'));
        url.set_path(&path);

        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(PROMETHEUS_TIMEOUT)
            .connect_timeout(PROMETHEUS_TIMEOUT)
            .user_agent(concat!("homelab-k8s/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PromError::Client {
                url: display_url.clone(),
                cause: cause_of(&e.without_url()).text,
            })?;
        Ok(Self {
            http,
            query_url: url,
            display_url,
        })
    }

    /// The base URL, as shown in messages (without user info).
    pub fn url(&self) -> &str {
        &self.display_url
    }

    /// `GET {base}/api/v1/query?query=apiserver_requested_deprecated_apis`: the series with
    /// a value above zero (or a value that is not a number: assumed in use), labels
    /// `group`, `version`, `resource`, `removed_release` (missing → empty), deduplicated
    /// and sorted.
    pub async fn deprecated_api_requests(&self) -> Result<Vec<DeprecatedApiRequest>, PromError> {
        let url = &self.display_url;
        let unreachable = |e: reqwest::Error| {
            // Our own message names the URL (without user info); drop reqwest's copy.
            let e = e.without_url();
            let cause = cause_of(&e);
            let text = if e.is_timeout() && !cause.timed_out {
                format!("timed out after {} s", PROMETHEUS_TIMEOUT.as_secs())
            } else {
                cause.text
            };
            PromError::Unreachable {
                url: url.clone(),
                cause: text,
            }
        };
        tracing::debug!(url = %url, query = DEPRECATED_APIS_QUERY, "querying Prometheus");
        let mut response = self
            .http
            .get(self.query_url.clone())
            .query(&[("query", DEPRECATED_APIS_QUERY)])
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(PromError::Decode {
                    url: url.clone(),
                    cause: format!("answer larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let parsed: Result<QueryResponse, _> = serde_json::from_slice(&body);
        // Prometheus answers errors (400, 422, 503) with the same JSON envelope.
        if let Ok(QueryResponse {
            status: s,
            error_type,
            error,
            ..
        }) = &parsed
            && s == "error"
        {
            return Err(PromError::Query {
                url: url.clone(),
                error_type: one_line(error_type.as_deref().unwrap_or("unknown"), 80),
                error: one_line(error.as_deref().unwrap_or(""), 300),
            });
        }
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or("").to_owned();
            let text = one_line(&String::from_utf8_lossy(&body), 200);
            // "502 Bad Gateway" as a body says nothing the status line does not.
            let body = if text.is_empty() || (!reason.is_empty() && text.contains(&reason)) {
                String::new()
            } else {
                text
            };
            return Err(PromError::Status {
                url: url.clone(),
                status: status.as_u16(),
                reason,
                body,
            });
        }
        let parsed = parsed.map_err(|e| PromError::Decode {
            url: url.clone(),
            cause: format!("invalid JSON: {}", one_line(&e.to_string(), 200)),
        })?;
        let decode = |cause: String| PromError::Decode {
            url: url.clone(),
            cause,
        };
        if parsed.status != "success" {
            return Err(decode(format!("status {:?}", one_line(&parsed.status, 40))));
        }
        let data = parsed.data.ok_or_else(|| decode("no \"data\"".into()))?;
        if data.result_type != "vector" {
            return Err(decode(format!(
                "expected a vector result, got {:?}",
                one_line(&data.result_type, 40)
            )));
        }
        let samples: Vec<Sample> = serde_json::from_value(data.result)
            .map_err(|e| decode(format!("invalid vector: {}", one_line(&e.to_string(), 200))))?;
        Ok(to_requests(samples))
    }
}

fn to_requests(samples: Vec<Sample>) -> Vec<DeprecatedApiRequest> {
    let mut out = BTreeSet::new();
    for Sample { mut metric, value } in samples {
        let in_use = match value.1.trim().parse::<f64>() {
            Ok(v) => v > 0.0,
            Err(_) => {
                tracing::warn!(value = %one_line(&value.1, 40), "unreadable sample value; assuming the API is in use");
                true
            }
        };
        if !in_use {
            continue;
        }
        let mut take = |k: &str| metric.remove(k).unwrap_or_default();
        out.insert(DeprecatedApiRequest {
            group: take("group"),
            version: take("version"),
            resource: take("resource"),
            removed_release: take("removed_release"),
        });
    }
    out.into_iter().collect()
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// `[timestamp, "value"]`.
    value: (IgnoredAny, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_urls() {
        assert!(PrometheusClient::new("http://prom:9090").is_ok());
        assert!(PrometheusClient::new("https://host/prometheus/").is_ok());
        for bad in [
            "",
            "prom:9090",
            "ftp://prom",
            "http://",
            "http://p:9090/?x=1",
            "not a url",
        ] {
            assert!(
                matches!(PrometheusClient::new(bad), Err(PromError::InvalidUrl { .. })),
                "{bad:?} accepted"
            );
        }
        let e = PrometheusClient::new("ftp://user:hunter2@prom").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn keeps_the_path_prefix() {
        let c = PrometheusClient::new("https://u:p@host/prometheus/").unwrap();
        assert_eq!(c.query_url.path(), "/prometheus/api/v1/query");
        assert_eq!(c.url(), "https://host/prometheus/");
        assert!(!format!("{c:?}").contains(":p@"));
    }

    #[test]
    fn filters_dedupes_and_sorts() {
        let samples: Vec<Sample> = serde_json::from_str(
            r#"[
            {"metric":{"group":"policy","version":"v1beta1","resource":"podsecuritypolicies","removed_release":"1.25"},"value":[1.5,"3"]},
            {"metric":{"version":"v1beta1","resource":"cronjobs","removed_release":"1.25"},"value":[1.5,"0"]},
            {"metric":{"group":"batch","version":"v1beta1","resource":"cronjobs","removed_release":"1.25","instance":"a"},"value":[1.5,"1"]},
            {"metric":{"group":"batch","version":"v1beta1","resource":"cronjobs","removed_release":"1.25","instance":"b"},"value":[1.5,"2"]},
            {"metric":{"group":"x","version":"v1","resource":"y"},"value":[1.5,"NaN"]},
            {"metric":{"group":"z","version":"v1","resource":"w"},"value":[1.5,"bogus"]}
        ]"#,
        )
        .unwrap();
        let got = to_requests(samples);
        let names: Vec<String> = got
            .iter()
            .map(|r| format!("{}/{}", r.group_version(), r.resource))
            .collect();
        assert_eq!(
            names,
            ["batch/v1beta1/cronjobs", "policy/v1beta1/podsecuritypolicies", "z/v1/w"]
        );
        assert_eq!(got[2].removed_release, "");
    }
}
