//! Epochs: every `aggregation_epoch_rounds` rounds push-sum restarts from the local values,
//! so crashes, joins and changed values show. Exactly one node per epoch holds the unit
//! weight that makes the count come out: the live member with the lowest rank
//! `hash(name, epoch)`, the same choice on every node whose view agrees.

use super::*;

impl Aggregation {
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
        self.settled.retain(|_, e| e.epoch + 2 >= epoch);
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
