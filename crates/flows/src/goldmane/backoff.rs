//! Capped exponential backoff for reconnecting to Goldmane.

use std::time::Duration;

/// Capped exponential backoff: `base`, `2·base`, `4·base`, … up to `cap`, then `cap`
/// forever; [`Backoff::reset`] after a stream delivered data. Pure (no clock, no jitter),
/// so the caller decides how to sleep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    pub const DEFAULT_BASE: Duration = Duration::from_secs(1);
    pub const DEFAULT_CAP: Duration = Duration::from_secs(60);

    /// `base` is clamped to at least 1 ms and `cap` to at least `base`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        let base = base.max(Duration::from_millis(1));
        let cap = cap.max(base);
        Backoff { base, cap, next: base }
    }

    /// The delay to wait before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        delay
    }

    /// Back to `base` (call once a connection proved healthy, e.g. delivered a flow).
    pub fn reset(&mut self) {
        self.next = self.base;
    }

    pub fn base(&self) -> Duration {
        self.base
    }

    pub fn cap(&self) -> Duration {
        self.cap
    }
}

impl Default for Backoff {
    /// 1 s doubling to a 60 s cap.
    fn default() -> Backoff {
        Backoff::new(Self::DEFAULT_BASE, Self::DEFAULT_CAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn default_doubles_from_one_second_to_a_sixty_second_cap() {
        let mut b = Backoff::default();
        let got: Vec<_> = (0..9).map(|_| b.next_delay()).collect();
        assert_eq!(got, secs(&[1, 2, 4, 8, 16, 32, 60, 60, 60]));
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::default();
        b.next_delay();
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
    }

    #[test]
    fn configurable_and_clamped() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        let got: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [10, 20, 35, 35]);

        let mut b = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(b.next_delay(), Duration::from_millis(1));
        assert_eq!(b.next_delay(), Duration::from_millis(1));

        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(b.cap(), Duration::from_secs(5));
        assert_eq!(b.next_delay(), Duration::from_secs(5));
        assert_eq!(b.next_delay(), Duration::from_secs(5));
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        for _ in 0..10 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::MAX);
    }
}
