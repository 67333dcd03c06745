//! `whisker-watchdog`: when to restart Whisker (docs/contracts/flow-trail.md).
//!
//! Whisker's backend holds one long-lived gRPC stream to Goldmane; after a DNS blip its
//! resolver can wedge and log connection errors forever. The operator ships it without
//! a liveness probe, so a CronJob checks its recent log: restart (delete the pod) only
//! when it logged at least `threshold` Goldmane-connection errors in the window **and**
//! Goldmane itself is Ready — during a real Goldmane outage a restart would only thrash.

/// Log lines that count as a Goldmane-connection error.
pub const DEFAULT_ERROR_MARKERS: [&str; 2] = ["failed to stream flows", "code = Unavailable"];
/// Errors needed to restart.
pub const DEFAULT_THRESHOLD: usize = 10;
/// The log window, seconds (11 minutes: one 10-minute schedule plus slack).
pub const DEFAULT_WINDOW_SECONDS: i64 = 660;

/// The watchdog's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Healthy {
        errors: usize,
    },
    Restart {
        errors: usize,
    },
    /// Enough errors, but Goldmane is not Ready: a restart would not help.
    HoldGoldmaneNotReady {
        errors: usize,
    },
}

impl Decision {
    pub fn restart(&self) -> bool {
        matches!(self, Decision::Restart { .. })
    }

    /// One line for the CronJob's log.
    pub fn message(&self, window_seconds: i64) -> String {
        let w = window_label(window_seconds);
        match self {
            Decision::Healthy { errors } => {
                format!("whisker-backend healthy: {errors} goldmane-connection errors in the last {w}")
            }
            Decision::Restart { errors } => format!(
                "whisker-backend wedged: {errors} goldmane-connection errors in the last {w} and Goldmane is Ready; restarting whisker"
            ),
            Decision::HoldGoldmaneNotReady { errors } => format!(
                "whisker-backend logged {errors} goldmane-connection errors in the last {w}, but Goldmane is not Ready; not restarting (a restart would not help)"
            ),
        }
    }
}

fn window_label(s: i64) -> String {
    if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Counts error lines in a log.
pub fn count_errors(log: &str, markers: &[&str]) -> usize {
    log.lines().filter(|l| markers.iter().any(|m| l.contains(m))).count()
}

/// The decision for `errors` errors in the window.
pub fn decide(errors: usize, goldmane_ready: bool, threshold: usize) -> Decision {
    if errors < threshold.max(1) {
        Decision::Healthy { errors }
    } else if goldmane_ready {
        Decision::Restart { errors }
    } else {
        Decision::HoldGoldmaneNotReady { errors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_scenarios() {
        // 17: ≥10 errors and Goldmane Ready → restart.
        assert!(decide(10, true, DEFAULT_THRESHOLD).restart());
        // 18: ≥10 errors, Goldmane not Ready → no restart.
        assert_eq!(
            decide(25, false, DEFAULT_THRESHOLD),
            Decision::HoldGoldmaneNotReady { errors: 25 }
        );
        // 19: 0 errors → healthy line, no restart.
        let d = decide(0, true, DEFAULT_THRESHOLD);
        assert!(!d.restart());
        assert_eq!(
            d.message(660),
            "whisker-backend healthy: 0 goldmane-connection errors in the last 11m"
        );
        assert!(!decide(9, true, DEFAULT_THRESHOLD).restart());
    }

    #[test]
    fn counts_marked_lines() {
        let log = "ok\n2026-06-28 failed to stream flows: rpc error: code = Unavailable desc = dns: i/o timeout\nretrying\nfailed to stream flows\n";
        assert_eq!(count_errors(log, &DEFAULT_ERROR_MARKERS), 2);
        assert_eq!(count_errors("", &DEFAULT_ERROR_MARKERS), 0);
    }
}
