//! One aggregate's push-sum mass in the current epoch, and the convergence indicator.
//!
//! ```text
//! value / ones   = average of the published values
//! ones  / weight = number of publishers      (one node per epoch holds weight 1)
//! value / weight = their sum
//! ```

use std::collections::VecDeque;

use crate::aggregate::{Estimate, MAX_VALUE};
use crate::codec::AggregateEntry;

/// Rounds over which an estimate must hold still to count as converged.
pub(super) const WINDOW: usize = 4;
/// Largest relative change per round, over [`WINDOW`] rounds, of a converged estimate.
pub(super) const SETTLE_THRESHOLD: f64 = 1e-6;

/// One aggregate's mass and recent history.
#[derive(Clone, Debug)]
pub(super) struct State {
    pub(super) value: f64,
    pub(super) ones: f64,
    pub(super) weight: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    /// This node's own value went in this epoch.
    pub(super) contributed: bool,
    /// `(avg, count)` at the end of the last rounds, newest last.
    history: VecDeque<(f64, f64)>,
    /// Round in which mass last arrived from another node.
    pub(super) heard_at: Option<u32>,
    /// The settle callback went out this epoch.
    pub(super) notified: bool,
}

impl State {
    /// No mass; `weight` is 1 at the node that holds the epoch's unit weight.
    pub(super) fn empty(weight: f64) -> State {
        State {
            value: 0.0,
            ones: 0.0,
            weight,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            contributed: false,
            history: VecDeque::with_capacity(WINDOW + 1),
            heard_at: None,
            notified: false,
        }
    }

    /// Adds this node's own value: `(v, 1)` and the extremes.
    pub(super) fn contribute(&mut self, v: f64) {
        self.value += v;
        self.ones += 1.0;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.contributed = true;
    }

    /// Adds mass received from another node (already validated).
    pub(super) fn absorb(&mut self, e: &AggregateEntry, round: u32) {
        self.value += e.value;
        self.ones += e.ones;
        self.weight += e.weight;
        self.min = self.min.min(e.min);
        self.max = self.max.max(e.max);
        self.heard_at = Some(round);
    }

    /// Keeps `1/2` of the mass and returns the share for each of `k` targets
    /// (`k` a power of two, so every share is exact in binary floating point).
    pub(super) fn split(&mut self, k: u32) -> [f64; 3] {
        let part = 0.5 / f64::from(k);
        let share = [self.value * part, self.ones * part, self.weight * part];
        self.value *= 0.5;
        self.ones *= 0.5;
        self.weight *= 0.5;
        share
    }

    /// Records the end of a round for the convergence indicator.
    pub(super) fn end_round(&mut self) {
        match self.ratios() {
            Some((avg, count)) if count.is_finite() => {
                if self.history.len() > WINDOW {
                    self.history.pop_front();
                }
                self.history.push_back((avg, count));
            }
            _ => self.history.clear(),
        }
    }

    /// `(avg, count)`, once some publisher's mass arrived (count is infinite until the
    /// unit weight arrives).
    fn ratios(&self) -> Option<(f64, f64)> {
        if self.ones <= 0.0 {
            return None;
        }
        let count = if self.weight > 0.0 {
            self.ones / self.weight
        } else {
            f64::INFINITY
        };
        Some((self.value / self.ones, count))
    }

    /// Whether the estimate held still over the last [`WINDOW`] rounds, with mass heard
    /// from others in that time (`alone`: there is nobody to hear from).
    fn settled(&self, round: u32, alone: bool) -> bool {
        if self.history.len() <= WINDOW {
            return false;
        }
        let heard = alone
            || self
                .heard_at
                .is_some_and(|at| round.saturating_sub(at) <= WINDOW as u32);
        let range = if self.max >= self.min {
            self.max - self.min
        } else {
            0.0
        };
        let still =
            self.history
                .iter()
                .zip(self.history.iter().skip(1))
                .all(|(&(a0, c0), &(a1, c1))| {
                    let avg_scale = a0.abs().max(a1.abs()).max(range);
                    (a1 - a0).abs() <= SETTLE_THRESHOLD * avg_scale
                        && (c1 - c0).abs() <= SETTLE_THRESHOLD * c0.abs().max(c1.abs())
                });
        heard && still
    }

    /// The estimate, once some publisher's mass arrived.
    pub(super) fn estimate(&self, epoch: u64, round: u32, alone: bool) -> Option<Estimate> {
        let (avg, count) = self.ratios()?;
        let sum = if self.weight > 0.0 {
            self.value / self.weight
        } else {
            f64::NAN
        };
        Some(Estimate {
            count,
            sum,
            avg,
            min: self.min,
            max: self.max,
            epoch,
            rounds: round,
            converged: self.settled(round, alone),
        })
    }
}

/// Largest share of ones or weight accepted from the network (far above any real cluster;
/// it keeps sums finite whatever a peer sends).
const MAX_SHARE: f64 = 4_294_967_296.0;

/// Whether mass from the network is usable: bounded, non-negative shares of ones and
/// weight, a bounded share of value, and extremes within the value range (or "none yet":
/// `min = +inf`, `max = -inf`).
pub(super) fn valid(e: &AggregateEntry) -> bool {
    (0.0..=MAX_SHARE).contains(&e.ones)
        && (0.0..=MAX_SHARE).contains(&e.weight)
        && e.value.abs() <= MAX_VALUE * MAX_SHARE
        && (e.min.abs() <= MAX_VALUE || e.min == f64::INFINITY)
        && (e.max.abs() <= MAX_VALUE || e.max == f64::NEG_INFINITY)
}
