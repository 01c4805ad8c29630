//! Lifeguard's Local Health Multiplier (LHM, memberlist's "awareness").
//!
//! A node that is itself slow (CPU starved, paused, behind a lossy link) misses acks from
//! healthy members and would suspect them. Lifeguard lets the node notice that the trouble
//! may be its own: every sign of local trouble raises a score, every clean probe lowers it,
//! and the probe interval and probe timeout are stretched by `score + 1`, so a struggling
//! node probes less often and waits longer before blaming others.
//!
//! ```text
//! failed probe (no ack by the end of the period)    +1
//! each expected nack that did not arrive            +1
//! refuting a suspicion or death about this node     +1
//! successful probe                                  -1
//! ```
//! The score stays within `0..=max`. With `max == 0` (Lifeguard off) it is always 0 and
//! [`Awareness::scale`] returns its argument unchanged, which is plain SWIM.

use std::time::Duration;

/// The local health score, bounded to `0..=max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Awareness {
    score: u32,
    max: u32,
}

impl Awareness {
    /// A healthy node (score 0) whose score never exceeds `max`.
    pub(crate) fn new(max: u32) -> Awareness {
        Awareness { score: 0, max }
    }

    /// The current score, `0..=max`.
    pub(crate) fn score(&self) -> u32 {
        self.score
    }

    /// Adds `delta` (negative to lower it), clamped to `0..=max`; returns whether the score
    /// changed, so callers publish the gauge only when it moves.
    pub(crate) fn apply(&mut self, delta: i64) -> bool {
        let next = (i64::from(self.score) + delta).clamp(0, i64::from(self.max));
        // The clamp keeps `next` within 0..=max, which fits a u32.
        let next = u32::try_from(next).unwrap_or(self.max);
        let changed = next != self.score;
        self.score = next;
        changed
    }

    /// `timeout × (score + 1)`: memberlist's `ScaleTimeout`. Exactly `timeout` at score 0.
    pub(crate) fn scale(&self, timeout: Duration) -> Duration {
        if self.score == 0 {
            return timeout;
        }
        timeout.saturating_mul(self.score + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_healthy_and_stays_within_bounds() {
        let mut a = Awareness::new(8);
        assert_eq!(a.score(), 0);
        assert!(!a.apply(-1), "cannot go below zero");
        assert_eq!(a.score(), 0);
        assert!(a.apply(3));
        assert_eq!(a.score(), 3);
        assert!(a.apply(100));
        assert_eq!(a.score(), 8);
        assert!(!a.apply(1), "cannot go above max");
        assert!(a.apply(-2));
        assert_eq!(a.score(), 6);
        assert!(a.apply(i64::MIN / 2));
        assert_eq!(a.score(), 0);
    }

    #[test]
    fn scales_timeouts_by_score_plus_one() {
        let mut a = Awareness::new(8);
        let base = Duration::from_millis(500);
        assert_eq!(a.scale(base), base);
        a.apply(1);
        assert_eq!(a.scale(base), Duration::from_secs(1));
        a.apply(7);
        assert_eq!(a.scale(base), Duration::from_millis(4500));
        assert_eq!(a.scale(Duration::MAX), Duration::MAX, "saturates");
    }

    #[test]
    fn zero_max_is_plain_swim() {
        let mut a = Awareness::new(0);
        assert!(!a.apply(5));
        assert_eq!(a.score(), 0);
        let base = Duration::from_millis(1234);
        assert_eq!(a.scale(base), base);
    }
}
