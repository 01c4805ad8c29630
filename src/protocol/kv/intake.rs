//! Taking in a peer's leg: judge each digest entry and deltas (`trust.rs`), apply what is
//! plausible, answer; and free the replicas of members the table forgot.
//!
//! ```text
//! leg from addr ─ from an owner's own address? ─┬─ digest entries ─> observe
//!                                               └─ deltas ────────> apply
//!     refused: counted (Stats::refused_state)     an owner's own "I hold less": replaced
//! ```

use super::reconcile::{Leg, Taken};
use super::summary;
use super::trust::{GENERATION_AHEAD, NEW_OWNERS_PER_SECOND};
use super::{Back, Delivery, KvState, Output, StateSync, StateWant};
use crate::member::NodeName;
use crate::stats::Counters;
use crate::time::Instant;
use std::time::Duration;

/// Replicas checked per round for an owner the member table forgot.
const SWEEP_PER_ROUND: usize = 4;

impl KvState {
    /// Takes in a peer's leg (digest first, then deltas) and answers it.
    pub(super) fn on_leg(&mut self, now: Instant, sync: StateSync, back: Back) {
        let StateSync {
            want,
            summary,
            digest,
            deltas,
        } = sync;
        // Judged against our digest as it was when the peer's claim was made, before
        // this leg changes it.
        let asks = want != StateWant::Nothing;
        let compared = summary
            .filter(|_| asks)
            .map(|s| (s, self.store.compare(now, s, &digest)));
        let named: Vec<NodeName> = if summary.is_some() {
            let named = digest.iter().map(|d| &d.owner);
            named
                .chain(deltas.iter().map(|d| &d.owner))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        // A summary that asks nothing is the gossip "state is in use" (see `activate`).
        // Only a member wakes this node: waking gossips on, and one spoofed datagram
        // must not set a cluster that never writes reconciling for good.
        let holds_state = digest.iter().any(|d| d.max_version > 0)
            || deltas.iter().any(|d| d.max_version > 0)
            || summary.is_some_and(|s| s.fingerprint != 0 || !asks);
        let from_member = match back {
            Back::To(addr) => self.peers.is_live_addr(addr),
            Back::Conn(_) => true,
        };
        if holds_state && from_member {
            self.activate(now);
        }
        // A leg from a member's own address speaks for that member (see trust.rs).
        let from = match back {
            Back::To(addr) => Some(addr),
            Back::Conn(_) => None,
        };
        let peers = &self.peers;
        let from_owner = |owner: &NodeName| from.is_some_and(|addr| peers.is_at(owner, addr));
        let leg = Leg {
            from_owner: &from_owner,
            latest_generation: self.latest_generation(now),
        };
        let mut changes = Vec::new();
        let mut taken = Vec::with_capacity(digest.len() + deltas.len());
        for d in &digest {
            taken.push(self.store.observe(d, leg, &mut changes));
        }
        for d in deltas {
            let owner_checks = &mut self.owner_checks;
            let peers = &self.peers;
            let may_create = |owner: &NodeName| take_check(owner_checks, now) && peers.knows(owner);
            taken.push(self.store.apply(now, d, leg, may_create, &mut changes));
        }
        let refused = taken.iter().filter(|t| **t == Taken::Refused).count();
        Counters::add(&self.counters.refused_state, refused);
        let forged = taken.iter().filter_map(|t| match t {
            Taken::Forged(generation) => Some(*generation),
            _ => None,
        });
        if let Some(claimed) = forged.max() {
            Counters::bump(&self.counters.refused_state);
            self.store.refute(now, claimed);
        }
        for change in changes {
            let delivery = Delivery::StateChange(change);
            self.outputs.push_back(Output::from(delivery));
        }
        let (answer, told, lacks) = summary::answer(want, compared, &digest, named);
        // A datagram is answered only to a live member at its address: a stranger's small
        // digest must not draw deltas up to the MTU (a reflection). TCP proved its address.
        let answerable = match back {
            Back::To(addr) => self.peers.is_live_addr(addr),
            Back::Conn(_) => true,
        };
        if !answerable && want != StateWant::Nothing {
            Counters::bump(&self.counters.refused_state);
        } else if want != StateWant::Nothing || matches!(back, Back::Conn(_)) {
            self.send(back, answer, &told, lacks);
        }
    }

    /// The highest generation a peer can hold now: this node's clock (its generation, a
    /// start time in µs, plus the time since) and the allowed skew.
    fn latest_generation(&self, now: Instant) -> u64 {
        let (started_at, generation) = self.started;
        let since = u64::try_from(now.saturating_since(started_at).as_micros()).unwrap_or(u64::MAX);
        let skew = u64::try_from(GENERATION_AHEAD.as_micros()).unwrap_or(u64::MAX);
        generation.saturating_add(since).saturating_add(skew)
    }

    /// Frees the replicas of a few owners the member table no longer knows (forgotten
    /// after `reap_after`), resuming where the last round stopped.
    pub(super) fn sweep_forgotten(&mut self) {
        let start = self.swept_to.take();
        let mut checked = Vec::with_capacity(SWEEP_PER_ROUND);
        let after = |name: &NodeName| start.as_ref().is_none_or(|s| name > s);
        for owner in self.store.replicas.keys().filter(|n| after(n)) {
            if checked.len() == SWEEP_PER_ROUND {
                break;
            }
            checked.push(owner.clone());
        }
        let mut changes = Vec::new();
        for owner in &checked {
            if *owner != self.store.local && !self.peers.knows(owner) {
                self.store.forget(owner, &mut changes);
            }
        }
        // A short batch means the end was reached: start over next time.
        if checked.len() == SWEEP_PER_ROUND {
            self.swept_to = checked.pop();
        }
        for change in changes {
            self.outputs
                .push_back(Output::from(Delivery::StateChange(change)));
        }
    }
}

/// Takes one of this second's membership checks of new owners, if any is left.
fn take_check(checks: &mut (u32, Instant), now: Instant) -> bool {
    if now >= checks.1 {
        *checks = (NEW_OWNERS_PER_SECOND, now + Duration::from_secs(1));
    }
    if checks.0 == 0 {
        return false;
    }
    checks.0 -= 1;
    true
}
