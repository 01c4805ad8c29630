//! One push-sum round: keep half of every mass, split the other half between `k` random
//! alive peers (k a power of two, so shares stay exact), send it in as few datagrams as
//! fit, then close the round.

use super::*;

impl Aggregation {
    /// `k` distinct random live peers, `k` the largest power of two within the fanout.
    pub(super) fn targets(&mut self) -> Vec<SocketAddr> {
        let mut k = 1;
        while k * 2 <= self.fanout.min(self.peers.count(Pick::Alive)) {
            k *= 2;
        }
        self.peers.random_addrs(k, Pick::Alive, &mut self.rng)
    }

    /// One round: halve every mass and send the halves, in equal shares, to the targets.
    pub(super) fn exchange(&mut self) {
        let targets = self.targets();
        if targets.is_empty() || self.states.is_empty() {
            return;
        }
        let k = targets.len() as u32;
        let entries: Vec<AggregateEntry> = self
            .states
            .iter_mut()
            .map(|(name, state)| {
                let [value, ones, weight] = state.split(k);
                AggregateEntry {
                    name: name.clone(),
                    value,
                    ones,
                    weight,
                    min: state.min,
                    max: state.max,
                }
            })
            .collect();
        let chunks = chunk(entries, self.mtu);
        for to in targets {
            for entries in &chunks {
                let message = Message::Aggregate(Aggregate {
                    epoch: self.epoch,
                    round: self.round,
                    entries: entries.clone(),
                });
                let send = DisseminationInput::Send {
                    to,
                    messages: vec![message],
                };
                self.outputs.push_back(Output::from(send));
            }
        }
    }

    pub(super) fn end_round(&mut self) {
        self.round = self.round.saturating_add(1);
        let (epoch, round, alone) = (self.epoch, self.round, self.alone());
        for (name, state) in &mut self.states {
            state.end_round();
            if state.notified {
                continue;
            }
            if let Some(estimate) = state.estimate(epoch, round, alone) {
                if estimate.converged {
                    state.notified = true;
                    let delivery = Delivery::Estimate {
                        name: name.clone(),
                        estimate,
                    };
                    self.outputs.push_back(Output::from(delivery));
                }
            }
        }
        self.snapshot_dirty = true;
    }
}

/// Splits entries into messages that each fit one datagram beside nothing else.
fn chunk(entries: Vec<AggregateEntry>, mtu: usize) -> Vec<Vec<AggregateEntry>> {
    let budget = mtu.saturating_sub(PACKET_OVERHEAD + AGGREGATE_OVERHEAD);
    let mut chunks: Vec<Vec<AggregateEntry>> = Vec::new();
    let mut used = 0;
    for entry in entries {
        let len = entry.encoded_len();
        let full = chunks
            .last()
            .is_none_or(|c| c.len() >= MAX_AGGREGATES_PER_MESSAGE || used + len > budget);
        if full {
            chunks.push(Vec::new());
            used = 0;
        }
        used += len;
        if let Some(last) = chunks.last_mut() {
            last.push(entry);
        }
    }
    chunks
}
