//! The aggregation component: push-sum estimates of how many nodes publish a named value,
//! their sum, average, minimum and maximum (Kempe, Dobra, Gehrke 2003), restarted in
//! epochs (Jelasity, Montresor, Babaoglu 2005).
//!
//! Every node holds, per aggregate, a mass `(value, ones, weight)` and the extremes it has
//! heard of. Each round it keeps half and hands the other half, in equal shares, to
//! `aggregation_fanout` random live members (1, 2 or 4, so every share is exact in binary
//! floating point):
//!
//! ```text
//! every aggregation_interval:
//!   A: (v, o, w) -> keeps (v, o, w)/2
//!   A -> aggregate{epoch, round, (v, o, w)/(2k), min, max} -> B1 .. Bk   (via dissemination:
//!                                                           gossip rides along)
//!   B: (v, o, w) += share; min, max = extremes of both
//! estimate at any node: avg = v/o, count = o/w, sum = v/w
//! ```
//!
//! Without loss the total mass is conserved, so every ratio converges to the ratio of the
//! totals: a publisher starts an epoch with `(its value, 1)`, so `v/o` tends to the
//! average. **Count**: exactly one node per epoch also starts with `weight = 1` (all
//! others 0), so `o/w` tends to the number of publishers. That node is the live member
//! minimising `hash(node name, epoch)` in each node's own view; views agree once
//! membership has converged. When they differ (a join or a failure not yet known
//! everywhere), an epoch can have two such nodes (count halves) or none (count stays
//! infinite and never converges); the next epoch repairs it. This gives an exact count
//! (1e-6 and below), unlike sketch-based counting, at the price of that failure mode.
//!
//! **Epochs**: after `aggregation_epoch_rounds` rounds a node starts the next epoch from
//! its local values, so crashes (lost mass), joins and changed values show. A message
//! from a higher epoch makes the receiver jump to it; one from a lower epoch is dropped.
//! A node that jumps in after the first few rounds of an epoch (a join) only relays mass
//! in it, and takes part with its own values from the next one. Values published, changed
//! or withdrawn during an epoch take effect in the next one (or at once within its first
//! rounds). Readers see the newest estimate that settled (see [`Estimate::converged`]),
//! so a new epoch does not blank out the previous figures while it converges.

mod epoch;
mod mass;
mod round;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use self::mass::{State, valid};
use super::{AggregationInput, Component, Delivery, DisseminationInput, Output, Reply};
use crate::aggregate::{AggregateName, Estimate, MAX_PUBLISHED, MAX_TRACKED, MAX_VALUE};
use crate::codec::{
    AGGREGATE_OVERHEAD, Aggregate, AggregateEntry, MAX_AGGREGATES_PER_MESSAGE, Message,
    PACKET_OVERHEAD,
};
use crate::config::Config;
use crate::error::AggregateError;
use crate::member::NodeName;
use crate::protocol::peers::{PeerView, Pick};
use crate::stats::Counters;
use crate::time::Instant;

/// The aggregation component (see the module docs).
#[derive(Debug)]
pub(crate) struct Aggregation {
    local: NodeName,
    interval: Duration,
    epoch_rounds: u32,
    fanout: usize,
    mtu: usize,
    /// Live peers; mass goes only to the alive ones (see [`Pick::Alive`]).
    peers: PeerView,
    published: BTreeMap<AggregateName, f64>,
    epoch: u64,
    round: u32,
    /// This node's values go into the current epoch.
    contributing: bool,
    /// Whether this node holds the current epoch's unit weight; decided when the epoch's
    /// first aggregate appears here, from the peers known then.
    designated: Option<bool>,
    states: BTreeMap<AggregateName, State>,
    /// The newest settled estimate of earlier epochs, per name.
    settled: BTreeMap<AggregateName, Estimate>,
    next_round_at: Instant,
    snapshot_dirty: bool,
    rng: ChaCha8Rng,
    outputs: VecDeque<Output>,
    /// Where refused messages are counted.
    counters: Arc<Counters>,
}

impl Aggregation {
    /// Aggregates tracked: published here, in the current epoch, and settled.
    pub(crate) fn tracked(&self) -> usize {
        self.published.len() + self.states.len() + self.settled.len()
    }

    /// Epoch 0, no peers and nothing published; the first round is due one interval after
    /// `now`.
    pub(crate) fn new(
        config: &Config,
        local: NodeName,
        peers: PeerView,
        now: Instant,
        rng: ChaCha8Rng,
        counters: Arc<Counters>,
    ) -> Aggregation {
        Aggregation {
            local,
            interval: config.aggregation_interval,
            epoch_rounds: config.aggregation_epoch_rounds,
            fanout: config.aggregation_fanout,
            mtu: config.datagram_budget(),
            peers,
            published: BTreeMap::new(),
            epoch: 0,
            round: 0,
            contributing: true,
            designated: None,
            states: BTreeMap::new(),
            settled: BTreeMap::new(),
            next_round_at: now + config.aggregation_interval,
            snapshot_dirty: false,
            rng,
            outputs: VecDeque::new(),
            counters,
        }
    }

    /// What readers see for `name`: this epoch's estimate once it settled, else the newest
    /// settled one of an earlier epoch, else this epoch's unsettled one.
    pub(crate) fn estimate(&self, name: &AggregateName) -> Option<Estimate> {
        let current = self
            .states
            .get(name)
            .and_then(|s| s.estimate(self.epoch, self.round, self.alone()));
        match (current, self.settled.get(name)) {
            (Some(c), _) if c.converged => Some(c),
            (_, Some(s)) => Some(*s),
            (c, None) => c,
        }
    }

    /// Every aggregate with an estimate, in name order.
    pub(crate) fn estimates(&self) -> Vec<(AggregateName, Estimate)> {
        let mut names: Vec<&AggregateName> = self.states.keys().collect();
        names.extend(
            self.settled
                .keys()
                .filter(|n| !self.states.contains_key(*n)),
        );
        names.sort();
        names
            .into_iter()
            .filter_map(|n| self.estimate(n).map(|e| (n.clone(), e)))
            .collect()
    }

    /// The estimates, if they changed since the last call (for the runtime's snapshot).
    pub(crate) fn take_snapshot(&mut self) -> Option<Vec<(AggregateName, Estimate)>> {
        if !self.snapshot_dirty {
            return None;
        }
        self.snapshot_dirty = false;
        Some(self.estimates())
    }

    /// The current epoch and round.
    pub(crate) fn epoch_round(&self) -> (u64, u32) {
        (self.epoch, self.round)
    }

    /// The mass held for `name` in the current epoch: `[value, ones, weight, min, max]`.
    pub(crate) fn mass(&self, name: &AggregateName) -> Option<[f64; 5]> {
        self.states
            .get(name)
            .map(|s| [s.value, s.ones, s.weight, s.min, s.max])
    }

    /// Whether there is anything to exchange; an idle node sets no timer.
    fn active(&self) -> bool {
        !self.published.is_empty() || !self.states.is_empty()
    }

    /// Moves the round timer past `now` on its grid (after an idle spell).
    fn catch_up(&mut self, now: Instant) {
        if self.next_round_at > now {
            return;
        }
        let interval = self.interval.as_micros().max(1);
        let behind = now.saturating_since(self.next_round_at).as_micros();
        let steps = u32::try_from(behind / interval + 1).unwrap_or(u32::MAX);
        self.next_round_at = self.next_round_at + self.interval.saturating_mul(steps);
    }

    /// No alive peer to exchange with.
    fn alone(&self) -> bool {
        self.peers.count(Pick::Alive) == 0
    }

    /// The state of `name` in this epoch, created (with the unit weight if this node holds
    /// it) when there is room.
    fn state(&mut self, name: AggregateName) -> Option<&mut State> {
        if !self.states.contains_key(&name) && self.states.len() >= MAX_TRACKED {
            log::debug!("tracking {MAX_TRACKED} aggregates; dropping mass of {name}");
            return None;
        }
        let designated = match self.designated {
            Some(d) => d,
            None => *self.designated.insert(self.holds_weight(self.epoch)),
        };
        let weight = if designated { 1.0 } else { 0.0 };
        Some(
            self.states
                .entry(name)
                .or_insert_with(|| State::empty(weight)),
        )
    }

    fn on_message(&mut self, now: Instant, message: Aggregate) {
        if !self.plausible(&message) {
            Counters::bump(&self.counters.refused_aggregates);
            log::debug!(
                "refused aggregate of epoch {} round {} (ours: {})",
                message.epoch,
                message.round,
                self.epoch
            );
            return;
        }
        let active = self.active();
        if active && message.epoch < self.epoch {
            log::trace!(
                "dropping aggregate of epoch {} < {}",
                message.epoch,
                self.epoch
            );
            return;
        }
        if !active {
            self.catch_up(now);
        }
        // An inactive node holds nothing to lose: it takes the epoch it hears, even a
        // lower one. So a relay carried into a forged far-ahead epoch returns to the
        // honest one once that epoch has ended.
        if message.epoch > self.epoch || (!active && message.epoch != self.epoch) {
            let early = message.round <= self.join_margin();
            self.enter_epoch(message.epoch, message.round, early);
        }
        self.round = self.round.max(message.round);
        let round = self.round;
        for entry in &message.entries {
            if !valid(entry) {
                log::debug!("dropping invalid aggregate mass for {}", entry.name);
                Counters::bump(&self.counters.refused_aggregates);
                continue;
            }
            if let Some(state) = self.state(entry.name.clone()) {
                state.absorb(entry, round);
            }
        }
        self.snapshot_dirty = true;
    }

    fn publish(
        &mut self,
        now: Instant,
        name: AggregateName,
        value: f64,
    ) -> Result<(), AggregateError> {
        check_value(value)?;
        if !self.published.contains_key(&name) && self.published.len() >= MAX_PUBLISHED {
            return Err(AggregateError::TooMany(MAX_PUBLISHED));
        }
        if !self.active() {
            self.catch_up(now);
        }
        self.published.insert(name.clone(), value);
        // Early in an epoch a new value still counts in it; later, from the next one.
        if self.contributing && self.round <= self.join_margin() {
            let contributed = self.states.get(&name).is_some_and(|s| s.contributed);
            if !contributed {
                if let Some(state) = self.state(name) {
                    state.contribute(value);
                }
            }
        }
        self.snapshot_dirty = true;
        Ok(())
    }
}

impl Component for Aggregation {
    type Input = AggregationInput;

    fn handle(&mut self, now: Instant, input: AggregationInput) {
        match input {
            AggregationInput::Message(message) => self.on_message(now, message),
            AggregationInput::Publish {
                request,
                name,
                value,
            } => {
                let result = self.publish(now, name, value);
                self.outputs
                    .push_back(Output::reply(request, Reply::Published(result)));
            }
            AggregationInput::Unpublish { name } => {
                // Mass already spread stays in this epoch; the next one goes without it.
                self.published.remove(&name);
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_round_at || !self.active() {
            return;
        }
        self.next_round_at = self.next_round_at + self.interval;
        self.catch_up(now);
        if self.round >= self.epoch_rounds {
            self.enter_epoch(self.epoch.saturating_add(1), 0, true);
        }
        self.exchange();
        self.end_round();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.active().then_some(self.next_round_at)
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

/// Checks a value to publish: a number, finite, within ±[`MAX_VALUE`].
pub(crate) fn check_value(value: f64) -> Result<(), AggregateError> {
    if value.is_nan() {
        Err(AggregateError::NotANumber)
    } else if value.is_infinite() {
        Err(AggregateError::Infinite(value))
    } else if value.abs() > MAX_VALUE {
        Err(AggregateError::OutOfRange(value))
    } else {
        Ok(())
    }
}
