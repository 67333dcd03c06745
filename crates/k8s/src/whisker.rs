//! The Kubernetes side of `whisker-watchdog`: read the Whisker backend's recent log, see
//! whether Goldmane is Ready, delete the Whisker pod. The decision is
//! `homelab_core::watchdog::decide`.
//!
//! Least privilege (what the CronJob's Role needs, in the Whisker namespace only):
//! `pods`: get, list, delete; `pods/log`: get.

use homelab_core::watchdog::DEFAULT_WINDOW_SECONDS;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams};

use crate::collect::ApiClient;
use crate::error::K8sError;
use crate::kubeconfig::Connection;

/// Where Whisker and Goldmane run (the Tigera operator's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhiskerTarget {
    pub namespace: String,
    pub whisker_selector: String,
    pub backend_container: String,
    pub goldmane_selector: String,
    pub window_seconds: i64,
}

impl Default for WhiskerTarget {
    fn default() -> Self {
        Self {
            namespace: "calico-system".into(),
            whisker_selector: "k8s-app=whisker".into(),
            backend_container: "whisker-backend".into(),
            goldmane_selector: "k8s-app=goldmane".into(),
            window_seconds: DEFAULT_WINDOW_SECONDS,
        }
    }
}

/// What the watchdog saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhiskerObservation {
    /// Whisker pod names.
    pub whisker_pods: Vec<String>,
    /// The backend container's log over the window, all pods concatenated.
    pub backend_log: String,
    /// At least one Goldmane pod has condition Ready=True.
    pub goldmane_ready: bool,
}

/// Talks to the API for the watchdog (same timeouts, retries and error messages as the
/// snapshot collector).
#[derive(Debug, Clone)]
pub struct WhiskerWatchdog {
    api: ApiClient,
    target: WhiskerTarget,
}

impl WhiskerWatchdog {
    pub fn new(connection: &Connection, target: WhiskerTarget) -> Self {
        Self {
            api: ApiClient::from_connection(connection),
            target,
        }
    }

    /// For a client built elsewhere (tests, fakes).
    pub fn with_client(client: kube::Client, target: WhiskerTarget) -> Self {
        Self {
            api: ApiClient::new(client),
            target,
        }
    }

    pub fn target(&self) -> &WhiskerTarget {
        &self.target
    }

    async fn pods(&self, selector: &str) -> Result<Vec<Pod>, K8sError> {
        let api: Api<Pod> = Api::namespaced(self.api.client().clone(), &self.target.namespace);
        let params = ListParams::default().labels(selector);
        let what = format!("list pods -l {selector} in {}", self.target.namespace);
        Ok(self.api.call(&what, || api.list(&params)).await?.items)
    }

    /// Reads the Whisker pods, their backend logs over the window, and Goldmane's readiness.
    pub async fn observe(&self) -> Result<WhiskerObservation, K8sError> {
        let t = &self.target;
        let whisker = self.pods(&t.whisker_selector).await?;
        let goldmane = self.pods(&t.goldmane_selector).await?;
        let goldmane_ready = goldmane.iter().any(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        let api: Api<Pod> = Api::namespaced(self.api.client().clone(), &t.namespace);
        let mut names = Vec::new();
        let mut log = String::new();
        for p in &whisker {
            let Some(name) = p.metadata.name.clone() else { continue };
            let params = LogParams {
                container: Some(t.backend_container.clone()),
                since_seconds: Some(t.window_seconds),
                ..LogParams::default()
            };
            let what = format!("get logs of {}/{name} ({})", t.namespace, t.backend_container);
            let text = self.api.call(&what, || api.logs(&name, &params)).await?;
            log.push_str(&text);
            if !text.ends_with('\n') && !text.is_empty() {
                log.push('\n');
            }
            names.push(name);
        }
        Ok(WhiskerObservation {
            whisker_pods: names,
            backend_log: log,
            goldmane_ready,
        })
    }

    /// Deletes the Whisker pods (their ReplicaSet recreates them).
    pub async fn restart(&self, pods: &[String]) -> Result<(), K8sError> {
        let api: Api<Pod> = Api::namespaced(self.api.client().clone(), &self.target.namespace);
        let params = DeleteParams::default();
        for name in pods {
            let what = format!("delete pod {}/{name}", self.target.namespace);
            self.api.call(&what, || api.delete(name, &params)).await?;
        }
        Ok(())
    }
}
