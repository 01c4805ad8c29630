//! Epochs: every `aggregation_epoch_rounds` rounds push-sum restarts from the local values,
//! so crashes, joins and changed values show. Exactly one node per epoch holds the unit
//! weight that makes the count come out: the live member with the lowest rank
//! `hash(name, epoch)`, the same choice on every node whose view agrees.

use super::*;

/// No epoch above this is taken in: at one epoch a millisecond a cluster would need
/// nine thousand years to get there, so `epoch + 1` never overflows.
pub(super) const MAX_EPOCH: u64 = 1 << 48;
/// The most a message may move an active node's epoch ahead: honest nodes run their epochs
/// on the same schedule, so they are within one or two of each other; a forged message
/// moves a node by at most this.
pub(super) const MAX_EPOCH_JUMP: u64 = 64;

impl Aggregation {
    /// Whether a message's epoch and round could come from an honest node: within the
    /// ceiling, a round within an epoch, and (for a node taking part) not implausibly far
    /// ahead of this node's epoch.
    pub(super) fn plausible(&self, message: &Aggregate) -> bool {
        let too_far = self.active() && message.epoch > self.epoch.saturating_add(MAX_EPOCH_JUMP);
        message.epoch <= MAX_EPOCH && message.round <= self.epoch_rounds && !too_far
    }

    /// Rounds into an epoch within which a newcomer still takes part with its values.
    pub(super) fn join_margin(&self) -> u32 {
        (self.epoch_rounds / 8).max(1)
    }

    /// Whether this node minimises `hash(name, epoch)` among itself and its live peers.
    pub(super) fn holds_weight(&self, epoch: u64) -> bool {
        let mine = rank(&self.local, epoch);
        self.peers.all(Pick::Alive, |peer| mine < rank(peer, epoch))
    }

    /// Closes the current epoch (settled estimates are kept, the settle callback runs for
    /// names that never settled) and starts `epoch` at `round`.
    pub(super) fn enter_epoch(&mut self, epoch: u64, round: u32, contributing: bool) {
        let alone = self.alone();
        let closing = std::mem::take(&mut self.states);
        for (name, state) in closing {
            let Some(estimate) = state.estimate(self.epoch, self.round, alone) else {
                continue;
            };
            if estimate.converged {
                self.settled.insert(name.clone(), estimate);
            }
            if !state.notified {
                let delivery = Delivery::Estimate { name, estimate };
                self.outputs.push_back(Output::from(delivery));
            }
        }
        // A name nobody publishes any more fades out after two epochs.
        self.settled
            .retain(|_, e| e.epoch.saturating_add(2) >= epoch);
        self.epoch = epoch;
        self.round = round;
        self.contributing = contributing;
        self.designated = None;
        if contributing {
            let published: Vec<(AggregateName, f64)> = self
                .published
                .iter()
                .map(|(n, v)| (n.clone(), *v))
                .collect();
            for (name, value) in published {
                if let Some(state) = self.state(name) {
                    state.contribute(value);
                }
            }
        }
        self.snapshot_dirty = true;
    }
}

/// A node's rank for holding the unit weight of `epoch`: FNV-1a of the name, mixed with
/// the epoch (splitmix64), the same on every node.
fn rank(name: &NodeName, epoch: u64) -> (u64, &str) {
    let hash = crate::hash::fnv1a(name.as_str().as_bytes());
    let mut z = hash ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31), name.as_str())
}
