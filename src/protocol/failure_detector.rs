//! SWIM's failure detector: one probe per protocol period, in randomised round-robin order.
//!
//! ```text
//! t0                    A -> ping(seq) -> B
//! t0 + probe_timeout    no ack: A -> ping-req(B, seq) -> C1..Ck -> ping -> B
//!                                        B -> ack -> Ci -> ack(seq) -> A
//! t0 + probe_interval   still no ack: A suspects B
//! ```
//!
//! With Lifeguard, a helper that hears nothing from B by 80 % of the probe timeout answers
//! `Ci -> nack(seq) -> A`. A counts the nacks of its current probe: a helper that was asked
//! and sent neither ack nor nack suggests the trouble is A's own (its local health drops),
//! and the period's two deadlines are stretched by A's local health multiplier.
//!
//! The order is a shuffled list of live members, walked once per cycle and reshuffled at
//! the end; a new member is inserted at a random position of the rest of the cycle, so
//! every member is probed within two cycles (SWIM §4.3).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::directory::MemberId;
use super::table::MemberTable;
use crate::member::{Incarnation, NodeName};
use crate::time::Instant;
use std::time::Duration;

/// The probe in flight.
#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) seq: u32,
    pub(crate) target: NodeName,
    pub(crate) incarnation: Incarnation,
    pub(crate) addr: SocketAddr,
    /// When the ping went out.
    pub(crate) sent_at: Instant,
    /// When to ask helpers; `None` once they were asked.
    pub(crate) indirect_at: Option<Instant>,
    pub(crate) acked: bool,
    /// Helpers asked to probe indirectly: each owes an ack or a nack.
    pub(crate) helpers: Vec<NodeName>,
    /// Helpers whose nack arrived (each counted once, however often it was delivered).
    pub(crate) nacked: Vec<NodeName>,
}

impl Probe {
    /// A probe of `target` sent at `sent_at`, asking helpers at `indirect_at` if still
    /// unanswered.
    pub(crate) fn new(
        seq: u32,
        target: NodeName,
        incarnation: Incarnation,
        addr: SocketAddr,
        (sent_at, indirect_at): (Instant, Instant),
    ) -> Probe {
        Probe {
            seq,
            target,
            incarnation,
            addr,
            sent_at,
            indirect_at: Some(indirect_at),
            acked: false,
            helpers: Vec::new(),
            nacked: Vec::new(),
        }
    }

    /// Helpers asked that answered with neither an ack nor a nack (0 once acked).
    pub(crate) fn missed_nacks(&self) -> usize {
        if self.acked {
            return 0;
        }
        self.helpers.len().saturating_sub(self.nacked.len())
    }
}

/// A ping-req this node is serving as helper.
#[derive(Debug)]
pub(crate) struct Relay {
    /// Who asked.
    pub(crate) requester: SocketAddr,
    /// The requester's sequence number, to answer with.
    pub(crate) seq: u32,
    /// When to give up and answer with a nack.
    pub(crate) expires_at: Instant,
}

/// What an ack matched.
#[derive(Debug)]
pub(crate) enum AckMatch {
    /// Our own probe succeeded: its round trip, for the first ack only.
    Probe(Option<Duration>),
    /// A probe we relay for someone else succeeded: forward the ack.
    Relay(Relay),
    /// Late, duplicate or unknown: ignore.
    Unknown,
}

/// Probe scheduling and bookkeeping.
#[derive(Debug)]
pub(crate) struct FailureDetector {
    order: Vec<MemberId>,
    next: usize,
    probe: Option<Probe>,
    next_probe_at: Instant,
    relays: BTreeMap<u32, Relay>,
    /// Draws sequence numbers: unpredictable, so a stranger cannot forge the ack that
    /// would keep a crashed member "alive" (it must guess 32 bits within one period).
    seqs: ChaCha8Rng,
}

/// Most ping-reqs served at once; more are refused (bounded memory under abuse).
const MAX_RELAYS: usize = 1024;

impl FailureDetector {
    /// A detector whose first probe is due at `first_probe_at`, drawing sequence numbers
    /// from a stream seeded with `seq_seed`.
    pub(crate) fn new(first_probe_at: Instant, seq_seed: u32) -> FailureDetector {
        FailureDetector {
            order: Vec::new(),
            next: 0,
            probe: None,
            next_probe_at: first_probe_at,
            relays: BTreeMap::new(),
            seqs: ChaCha8Rng::seed_from_u64(u64::from(seq_seed)),
        }
    }

    /// A fresh, random sequence number for a ping: not the current probe's, nor a relay's.
    pub(crate) fn next_seq(&mut self) -> u32 {
        loop {
            let seq: u32 = self.seqs.random();
            let in_use =
                self.relays.contains_key(&seq) || self.probe.as_ref().is_some_and(|p| p.seq == seq);
            if !in_use {
                return seq;
            }
        }
    }

    /// Ping-req relays running for others.
    pub(crate) fn relays(&self) -> usize {
        self.relays.len()
    }

    /// The next deadline: probe period, indirect probe, or relay expiry.
    pub(crate) fn poll_timeout(&self) -> Instant {
        let mut at = self.next_probe_at;
        if let Some(indirect) = self.probe.as_ref().and_then(|p| p.indirect_at) {
            at = at.min(indirect);
        }
        if let Some(relay) = self.relays.values().map(|r| r.expires_at).min() {
            at = at.min(relay);
        }
        at
    }

    /// Whether a new protocol period starts at `now`.
    pub(crate) fn period_due(&self, now: Instant) -> bool {
        now >= self.next_probe_at
    }

    /// Ends the current period: returns its probe, acked or not (an unacked one is to be
    /// suspected). Schedule the next period with [`FailureDetector::schedule_period`].
    pub(crate) fn end_period(&mut self) -> Option<Probe> {
        self.probe.take()
    }

    /// Starts the next period at `at`. Set once the last probe's outcome has been applied,
    /// so the period is scaled by the local health it left behind.
    pub(crate) fn schedule_period(&mut self, at: Instant) {
        self.next_probe_at = at;
    }

    /// Chooses the next member to probe, walking the shuffled order.
    pub(crate) fn next_target(
        &mut self,
        table: &MemberTable,
        rng: &mut ChaCha8Rng,
    ) -> Option<NodeName> {
        for _pass in 0..2 {
            while self.next < self.order.len() {
                let id = self.order[self.next];
                self.next += 1;
                // An id forgotten since is skipped; one reused since names another live
                // member, probed a little early.
                if let Some(name) = table.live_name(id) {
                    return Some(name);
                }
            }
            // End of a cycle: reshuffle the live members.
            self.order = table.live_ids();
            self.order.shuffle(rng);
            self.next = 0;
        }
        None
    }

    /// Inserts a new member at a random position of the rest of this cycle.
    pub(crate) fn insert_member(&mut self, id: MemberId, rng: &mut ChaCha8Rng) {
        let at = rng.random_range(self.next..=self.order.len());
        crate::protocol::peers::reserve_one(&mut self.order);
        self.order.insert(at, id);
    }

    /// Starts a probe.
    pub(crate) fn start_probe(&mut self, probe: Probe) {
        self.probe = Some(probe);
    }

    /// The probe in flight, if its indirect stage is due at `now`; marks it done.
    pub(crate) fn take_indirect_due(&mut self, now: Instant) -> Option<&Probe> {
        let probe = self.probe.as_mut()?;
        match probe.indirect_at {
            Some(at) if now >= at && !probe.acked => {
                probe.indirect_at = None;
                Some(probe)
            }
            _ => None,
        }
    }

    /// Records the helpers asked to probe the current probe's target.
    pub(crate) fn set_helpers(&mut self, seq: u32, helpers: Vec<NodeName>) {
        if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
            probe.helpers = helpers;
        }
    }

    /// Counts a nack for the current probe; true if it is new and from a helper we asked.
    /// Nacks for an earlier probe, from strangers, or repeated are ignored.
    pub(crate) fn on_nack(&mut self, seq: u32, source: &NodeName) -> bool {
        let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) else {
            return false;
        };
        if !probe.helpers.contains(source) || probe.nacked.contains(source) {
            return false;
        }
        probe.nacked.push(source.clone());
        true
    }

    /// Matches an ack that arrived at `now` by sequence number.
    pub(crate) fn on_ack(&mut self, now: Instant, seq: u32) -> AckMatch {
        if let Some(probe) = self.probe.as_mut() {
            if probe.seq == seq {
                let first = !std::mem::replace(&mut probe.acked, true);
                probe.indirect_at = None;
                return AckMatch::Probe(first.then(|| now.saturating_since(probe.sent_at)));
            }
        }
        match self.relays.remove(&seq) {
            Some(relay) => AckMatch::Relay(relay),
            None => AckMatch::Unknown,
        }
    }

    /// Records a relay for a ping-req; false when too many are in flight.
    pub(crate) fn add_relay(&mut self, seq: u32, relay: Relay) -> bool {
        if self.relays.len() >= MAX_RELAYS {
            return false;
        }
        self.relays.insert(seq, relay);
        true
    }

    /// Relays that expired by `now` (their requester gets a nack).
    pub(crate) fn expired_relays(&mut self, now: Instant) -> Vec<Relay> {
        let expired: Vec<u32> = self
            .relays
            .iter()
            .filter(|(_, r)| r.expires_at <= now)
            .map(|(seq, _)| *seq)
            .collect();
        expired
            .into_iter()
            .filter_map(|seq| self.relays.remove(&seq))
            .collect()
    }
}

#[cfg(test)]
mod tests;
