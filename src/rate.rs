//! [`TokenBucket`]: at most so many events a second, with room for a burst. The protocol
//! holds replies to strangers and relays for others to one; the reactor, inbound TCP
//! requests. Time is a `Duration` since any fixed origin the caller keeps, so the same
//! bucket serves the protocol's clock and the runtime's.

use std::time::Duration;

/// A token bucket (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    /// Tokens added per second.
    per_sec: f64,
    /// Tokens held at most.
    burst: f64,
    /// Tokens now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Option<Duration>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens, refilled at `per_sec` a second.
    pub(crate) fn new(per_sec: u32, burst: u32) -> TokenBucket {
        TokenBucket {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Brings the tokens up to `at`; true if the bucket is full. A clock that goes back
    /// adds nothing.
    pub(crate) fn refill(&mut self, at: Duration) -> bool {
        if let Some(last) = self.last {
            let elapsed = at.saturating_sub(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        }
        self.last = Some(self.last.map_or(at, |last| last.max(at)));
        self.tokens >= self.burst
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self, at: Duration) -> bool {
        self.refill(at);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(10, 3);
        assert_eq!((0..10).filter(|_| bucket.take(ms(0))).count(), 3);
        assert!(!bucket.take(ms(50)));
        assert!(bucket.take(ms(100)), "one token every 100 ms");
        assert!(!bucket.take(ms(100)));
        assert!(!bucket.refill(ms(300)));
        assert!(bucket.refill(ms(10_000)), "never more than the burst");
        assert_eq!((0..10).filter(|_| bucket.take(ms(10_000))).count(), 3);
    }

    #[test]
    fn a_clock_going_back_adds_nothing() {
        let mut bucket = TokenBucket::new(1, 1);
        assert!(bucket.take(ms(5_000)));
        assert!(!bucket.take(ms(0)));
        assert!(
            !bucket.take(ms(5_500)),
            "the clock went back: no credit for it"
        );
        assert!(bucket.take(ms(6_000)));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut bucket = TokenBucket::new(u32::MAX, u32::MAX);
        assert!(bucket.take(Duration::MAX));
        assert!(bucket.take(Duration::ZERO));
        assert!(
            !bucket.refill(Duration::MAX),
            "no time passed since the latest"
        );
    }
}
