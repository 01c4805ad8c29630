//! Anti-entropy bookkeeping: push-pull scheduling, join attempts, and where to reach
//! members we lost.
//!
//! ```text
//! A --TCP: push-pull(A's full state, join?)--> B
//! A <--------- push-pull(B's full state) ------ B      both merge what they receive
//! ```
//! A node keeps the seeds it joined through and the addresses of members it declared dead
//! or forgot. Every other push-pull round goes to one of those instead of a live member, and
//! every round does when no member is live: so two halves of a healed partition always find
//! each other again, even after each reaped the other (memberlist issue 222).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::error::ExchangeError;
use crate::protocol::RequestId;
use crate::time::Instant;

/// Addresses of lost members remembered for re-merging, at most.
const MAX_LOST: usize = 64;
/// Seeds remembered, at most.
const MAX_SEEDS: usize = 64;
/// Exchanges in flight, at most (joins excepted).
const MAX_PERIODIC_IN_FLIGHT: usize = 2;

/// Why an exchange was started.
#[derive(Debug)]
pub(crate) enum Purpose {
    /// Part of a join; `caller` waits for the answer.
    Join {
        /// The caller waiting.
        caller: RequestId,
        /// The seed contacted.
        seed: SocketAddr,
    },
    /// The periodic push-pull.
    Periodic,
}

/// A join in progress.
#[derive(Debug, Default)]
struct JoinAttempt {
    waiting: usize,
    answered: bool,
    failures: Vec<(SocketAddr, ExchangeError)>,
}

/// What a finished join exchange means for its caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JoinOutcome {
    /// First seed that answered: tell the caller it joined.
    Joined,
    /// Every seed failed: tell the caller why.
    Failed(Vec<(SocketAddr, ExchangeError)>),
    /// Nothing new for the caller.
    Pending,
}

/// Schedule and bookkeeping of full-state exchanges.
#[derive(Debug)]
pub(crate) struct AntiEntropy {
    next_at: Instant,
    round: u64,
    /// Number of the last exchange started (its [`ExchangeId::Membership`]).
    ///
    /// [`ExchangeId::Membership`]: crate::protocol::ExchangeId::Membership
    last_exchange: u64,
    /// Exchanges in flight, with the deadline after which they count as failed even if
    /// no answer ever comes back (an answer lost in a full inbox must not hold a slot).
    in_flight: BTreeMap<u64, (Purpose, Instant)>,
    joins: BTreeMap<RequestId, JoinAttempt>,
    seeds: Vec<SocketAddr>,
    lost: VecDeque<SocketAddr>,
    /// When the last exchange brought forward by [`AntiEntropy::hurry`] was due.
    hurried_at: Option<Instant>,
}

impl AntiEntropy {
    /// First periodic exchange due at `first_at`.
    pub(crate) fn new(first_at: Instant) -> AntiEntropy {
        AntiEntropy {
            next_at: first_at,
            round: 0,
            last_exchange: 0,
            in_flight: BTreeMap::new(),
            joins: BTreeMap::new(),
            seeds: Vec::new(),
            lost: VecDeque::new(),
            hurried_at: None,
        }
    }

    /// Exchanges and joins in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len() + self.joins.len()
    }

    /// When the next periodic exchange is due.
    pub(crate) fn next_at(&self) -> Instant {
        self.next_at
    }

    /// Registers an exchange that must be over by `deadline`, and returns its number.
    pub(crate) fn start(&mut self, purpose: Purpose, deadline: Instant) -> u64 {
        self.last_exchange += 1;
        if let Purpose::Join { caller, .. } = &purpose {
            self.joins.entry(*caller).or_default().waiting += 1;
        }
        self.in_flight
            .insert(self.last_exchange, (purpose, deadline));
        self.last_exchange
    }

    /// Forgets a finished exchange and returns why it was started.
    pub(crate) fn finish(&mut self, exchange: u64) -> Option<Purpose> {
        self.in_flight.remove(&exchange).map(|(purpose, _)| purpose)
    }

    /// The exchanges whose deadline passed with no answer.
    pub(crate) fn overdue(&self, now: Instant) -> Vec<u64> {
        self.in_flight
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(exchange, _)| *exchange)
            .collect()
    }

    /// Records the result of one join exchange.
    pub(crate) fn join_result(
        &mut self,
        caller: RequestId,
        seed: SocketAddr,
        result: Result<(), ExchangeError>,
    ) -> JoinOutcome {
        let Some(attempt) = self.joins.get_mut(&caller) else {
            return JoinOutcome::Pending;
        };
        attempt.waiting = attempt.waiting.saturating_sub(1);
        let outcome = match result {
            Ok(()) if !attempt.answered => {
                attempt.answered = true;
                JoinOutcome::Joined
            }
            Ok(()) => JoinOutcome::Pending,
            Err(why) => {
                attempt.failures.push((seed, why));
                if attempt.waiting == 0 && !attempt.answered {
                    JoinOutcome::Failed(std::mem::take(&mut attempt.failures))
                } else {
                    JoinOutcome::Pending
                }
            }
        };
        if attempt.waiting == 0 {
            self.joins.remove(&caller);
        }
        outcome
    }

    /// Remembers seeds for later re-merging.
    pub(crate) fn add_seeds(&mut self, seeds: &[SocketAddr]) {
        for seed in seeds {
            if !self.seeds.contains(seed) && self.seeds.len() < MAX_SEEDS {
                self.seeds.push(*seed);
            }
        }
    }

    /// Remembers the address of a member declared dead or forgotten.
    pub(crate) fn remember_lost(&mut self, addr: SocketAddr) {
        if self.lost.contains(&addr) {
            return;
        }
        if self.lost.len() >= MAX_LOST {
            self.lost.pop_front();
        }
        self.lost.push_back(addr);
    }

    /// Brings the next periodic exchange forward to `now`, or to `gap` after the last
    /// one brought forward if that is later (so at most one per `gap`).
    pub(crate) fn hurry(&mut self, now: Instant, gap: Duration) {
        let at = self.hurried_at.map_or(now, |last| (last + gap).max(now));
        if at < self.next_at {
            self.next_at = at;
            self.hurried_at = Some(at);
        }
    }

    /// Forgets a lost address that is live again.
    pub(crate) fn found(&mut self, addr: SocketAddr) {
        self.lost.retain(|a| *a != addr);
    }

    /// Decides the periodic exchange due at `now`, if any, and schedules the next one.
    ///
    /// `live_peer` is a random live member's address, if there is one; `is_live` tells
    /// whether an address belongs to a live member.
    pub(crate) fn periodic_target(
        &mut self,
        now: Instant,
        interval: Duration,
        live_peer: Option<SocketAddr>,
        is_live: impl Fn(&SocketAddr) -> bool,
        rng: &mut ChaCha8Rng,
    ) -> Option<SocketAddr> {
        if now < self.next_at {
            return None;
        }
        self.next_at = now + interval;
        self.round += 1;
        let periodic_in_flight = self
            .in_flight
            .values()
            .filter(|(p, _)| matches!(p, Purpose::Periodic))
            .count();
        if periodic_in_flight >= MAX_PERIODIC_IN_FLIGHT {
            return None;
        }
        let lost: Vec<SocketAddr> = self
            .seeds
            .iter()
            .chain(self.lost.iter())
            .filter(|a| !is_live(a))
            .copied()
            .collect();
        let try_lost = live_peer.is_none() || self.round % 2 == 0;
        if try_lost && !lost.is_empty() {
            return Some(lost[rng.random_range(0..lost.len())]);
        }
        live_peer
    }
}

/// memberlist's push-pull scaling: the base interval up to 32 members, then one more
/// multiple for each doubling (`ceil(log2 N − log2 32) + 1`).
pub(crate) fn scaled_interval(base: Duration, cluster_size: usize) -> Duration {
    const THRESHOLD: f64 = 32.0;
    let n = cluster_size as f64;
    if n <= THRESHOLD {
        return base;
    }
    let multiplier = (n.log2() - THRESHOLD.log2()).ceil() + 1.0;
    base.mul_f64(multiplier)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn join_succeeds_at_first_answer_and_fails_when_all_fail() {
        let mut ae = AntiEntropy::new(Instant::ZERO);
        let r1 = ae.start(
            Purpose::Join {
                caller: RequestId(7),
                seed: addr(1),
            },
            Instant::ZERO,
        );
        let r2 = ae.start(
            Purpose::Join {
                caller: RequestId(7),
                seed: addr(2),
            },
            Instant::ZERO,
        );
        assert!(matches!(
            ae.finish(r1),
            Some(Purpose::Join {
                caller: RequestId(7),
                ..
            })
        ));
        assert_eq!(
            ae.join_result(RequestId(7), addr(1), Err(ExchangeError::Timeout)),
            JoinOutcome::Pending
        );
        ae.finish(r2);
        assert_eq!(
            ae.join_result(RequestId(7), addr(2), Ok(())),
            JoinOutcome::Joined
        );

        ae.start(
            Purpose::Join {
                caller: RequestId(8),
                seed: addr(1),
            },
            Instant::ZERO,
        );
        ae.start(
            Purpose::Join {
                caller: RequestId(8),
                seed: addr(2),
            },
            Instant::ZERO,
        );
        assert_eq!(
            ae.join_result(RequestId(8), addr(1), Err(ExchangeError::Timeout)),
            JoinOutcome::Pending
        );
        match ae.join_result(RequestId(8), addr(2), Err(ExchangeError::Closed)) {
            JoinOutcome::Failed(f) => assert_eq!(f.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lonely_node_retries_seeds_and_lost_addresses() {
        let mut ae = AntiEntropy::new(Instant::ZERO);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        ae.add_seeds(&[addr(1)]);
        ae.remember_lost(addr(2));
        let interval = Duration::from_secs(1);
        let mut seen = Vec::new();
        for s in 0..20 {
            let now = Instant::ZERO + Duration::from_secs(s);
            seen.push(
                ae.periodic_target(now, interval, None, |_| false, &mut rng)
                    .unwrap(),
            );
        }
        assert!(seen.contains(&addr(1)) && seen.contains(&addr(2)));
        // With a live peer, every other round still tries what was lost.
        let now = Instant::ZERO + Duration::from_secs(100);
        let a = ae.periodic_target(now, interval, Some(addr(9)), |_| false, &mut rng);
        let b = ae.periodic_target(now + interval, interval, Some(addr(9)), |_| false, &mut rng);
        assert!([a, b].contains(&Some(addr(9))));
        assert!([a, b].iter().any(|t| *t != Some(addr(9))));
    }

    #[test]
    fn interval_scales_like_memberlist() {
        let base = Duration::from_secs(30);
        assert_eq!(scaled_interval(base, 10), base);
        assert_eq!(scaled_interval(base, 32), base);
        assert_eq!(scaled_interval(base, 64), base * 2);
        assert_eq!(scaled_interval(base, 1000), base * 6);
    }
}
