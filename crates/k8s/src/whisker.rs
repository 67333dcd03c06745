//! The Kubernetes side of `whisker-watchdog`: read the Whisker backend's recent log, see
//! whether Goldmane is Ready, delete the Whisker pod. The decision is
//! `homelab_core::watchdog::decide`.
//!
//! Least privilege (what the CronJob's Role needs, in the Whisker namespace only):
//! `pods`: get, list, delete; `pods/log`: get.

use std::time::Duration;

use homelab_core::watchdog::{DEFAULT_ERROR_MARKERS, DEFAULT_WINDOW_SECONDS, Decision, count_errors, decide};
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

    /// One watchdog round, what the CronJob runs: [`observe`](Self::observe) (bounded by
    /// [`OBSERVE_LIMIT`]), count the Goldmane-connection errors, decide, then — only on a
    /// restart decision — delete the Whisker pods, or say what it would delete when
    /// `dry_run`. A failed delete is part of the outcome (the decision was made and is
    /// reported first); a failed observation is the error.
    pub async fn run_once(&self, threshold: usize, dry_run: bool) -> Result<WatchdogOutcome, K8sError> {
        let seen = tokio::time::timeout(OBSERVE_LIMIT, self.observe())
            .await
            .map_err(|_| K8sError::Deadline { limit: OBSERVE_LIMIT })??;
        let errors = count_errors(&seen.backend_log, &DEFAULT_ERROR_MARKERS);
        let decision = decide(errors, seen.goldmane_ready, threshold);
        let action = if !decision.restart() {
            WatchdogAction::None
        } else if seen.whisker_pods.is_empty() {
            WatchdogAction::NoPod
        } else if dry_run {
            WatchdogAction::WouldDelete(seen.whisker_pods)
        } else {
            match self.restart(&seen.whisker_pods).await {
                Ok(()) => WatchdogAction::Deleted(seen.whisker_pods),
                Err(error) => WatchdogAction::DeleteFailed {
                    pods: seen.whisker_pods,
                    error,
                },
            }
        };
        Ok(WatchdogOutcome {
            decision,
            window_seconds: self.target.window_seconds,
            namespace: self.target.namespace.clone(),
            action,
        })
    }
}

/// How long [`WhiskerWatchdog::run_once`] waits for its observation overall.
pub const OBSERVE_LIMIT: Duration = Duration::from_secs(120);

/// What a [`WhiskerWatchdog::run_once`] round decided and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogOutcome {
    pub decision: Decision,
    /// The log window, for the decision's message.
    pub window_seconds: i64,
    /// The Whisker namespace, for the messages.
    pub namespace: String,
    pub action: WatchdogAction,
}

/// What happened to the Whisker pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchdogAction {
    /// No restart decided.
    None,
    /// Restart decided, but no Whisker pod exists.
    NoPod,
    /// Restart decided in a dry run: these pods would have been deleted.
    WouldDelete(Vec<String>),
    /// Restart decided and these pods were deleted.
    Deleted(Vec<String>),
    /// Restart decided and deleting `pods` failed.
    DeleteFailed { pods: Vec<String>, error: K8sError },
}

impl WatchdogOutcome {
    /// The lines to print, in order: the decision, then what was done about it.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.decision.message(self.window_seconds)];
        match &self.action {
            WatchdogAction::None | WatchdogAction::DeleteFailed { .. } => {}
            WatchdogAction::NoPod => {
                lines.push(format!(
                    "no whisker pod found in {}; nothing to restart",
                    self.namespace
                ));
            }
            WatchdogAction::WouldDelete(pods) => lines.push(format!("dry run: would delete {}", pods.join(", "))),
            WatchdogAction::Deleted(pods) => lines.push(format!("deleted {}", pods.join(", "))),
        }
        lines
    }

    /// The failure to report after [`lines`](Self::lines), if deleting failed.
    pub fn error(&self) -> Option<&K8sError> {
        match &self.action {
            WatchdogAction::DeleteFailed { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(decision: Decision, action: WatchdogAction) -> WatchdogOutcome {
        WatchdogOutcome {
            decision,
            window_seconds: 660,
            namespace: "calico-system".into(),
            action,
        }
    }

    #[test]
    fn lines_say_the_decision_then_the_action() {
        let healthy = outcome(Decision::Healthy { errors: 0 }, WatchdogAction::None);
        assert_eq!(
            healthy.lines(),
            vec!["whisker-backend healthy: 0 goldmane-connection errors in the last 11m".to_owned()]
        );
        assert!(healthy.error().is_none());
        let restart = Decision::Restart { errors: 12 };
        let lines = |a| outcome(restart.clone(), a).lines();
        assert_eq!(
            lines(WatchdogAction::NoPod)[1],
            "no whisker pod found in calico-system; nothing to restart"
        );
        assert_eq!(
            lines(WatchdogAction::WouldDelete(vec!["a".into(), "b".into()]))[1],
            "dry run: would delete a, b"
        );
        assert_eq!(lines(WatchdogAction::Deleted(vec!["a".into()]))[1], "deleted a");
        assert_eq!(
            lines(WatchdogAction::Deleted(vec!["a".into()]))[0],
            restart.message(660)
        );
        let failed = outcome(
            restart.clone(),
            WatchdogAction::DeleteFailed {
                pods: vec!["a".into()],
                error: K8sError::Deadline { limit: OBSERVE_LIMIT },
            },
        );
        assert_eq!(failed.lines(), vec![restart.message(660)]);
        assert_eq!(
            failed.error().map(ToString::to_string).as_deref(),
            Some("the Kubernetes API did not answer within 120 s")
        );
    }
}
