//! Lifeguard on the membership side: the local health gauge, the bounds of a suspicion
//! timeout, and independent confirmations of a suspicion.
//!
//! ```text
//! A suspects B (inc i)       membership --Start{B, i, token, min, max, k}--> suspicion
//! C -> suspect(B, i, from C) membership --Confirm{B, token, 1}--> suspicion (deadline earlier)
//!                            membership --Enqueue(suspect from C)--> dissemination
//! C -> suspect(B, i, from C) again, or a (k+1)-th confirmer: nothing
//! ```
//! Membership alone keeps the short list of who reported each suspicion (the timer only
//! gets the count), so only a new confirmer is forwarded and re-gossiped: re-gossiping
//! every repeat would keep the same rumour circulating forever.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Membership;
use crate::codec::{Message, Suspect};
use crate::member::{Incarnation, NodeName};
use crate::protocol::{Output, SuspicionInput};
use crate::stats::Counters;

/// Who reported each running suspicion (membership's side of Lifeguard's confirmations).
#[derive(Debug, Default)]
pub(super) struct SuspicionReports {
    by_member: BTreeMap<NodeName, Reporters>,
}

/// The reports about one suspect.
#[derive(Debug)]
struct Reporters {
    incarnation: Incarnation,
    /// Lifeguard's k for this suspicion: confirmations beyond it change nothing.
    expected: u32,
    /// The original suspector first, then each confirmer: at most `expected + 1` names.
    names: Vec<NodeName>,
}

impl SuspicionReports {
    /// A suspicion of `name` at `incarnation`, raised by `origin`, started (replacing any
    /// earlier one).
    pub(super) fn started(
        &mut self,
        name: NodeName,
        incarnation: Incarnation,
        origin: NodeName,
        expected: u32,
    ) {
        let reporters = Reporters {
            incarnation,
            expected,
            names: vec![origin],
        };
        self.by_member.insert(name, reporters);
    }

    /// The suspicion of `name` ended (refuted, dead, left or forgotten).
    pub(super) fn ended(&mut self, name: &NodeName) {
        self.by_member.remove(name);
    }

    /// If `from` newly confirms the running suspicion of `name` at `incarnation` (not the
    /// original suspector, not counted before, fewer than k counted so far), records it
    /// and returns the confirmations counted now.
    pub(super) fn confirm(
        &mut self,
        name: &NodeName,
        incarnation: Incarnation,
        from: &NodeName,
    ) -> Option<u32> {
        let reporters = self.by_member.get_mut(name)?;
        let full = reporters.names.len() > reporters.expected as usize;
        if reporters.incarnation != incarnation || full || reporters.names.contains(from) {
            return None;
        }
        reporters.names.push(from.clone());
        u32::try_from(reporters.names.len() - 1).ok()
    }

    /// Suspicions tracked.
    pub(super) fn len(&self) -> usize {
        self.by_member.len()
    }
}

/// The timeout range of a suspicion started now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SuspicionBounds {
    /// The timeout after k confirmations (plain SWIM's whole timeout).
    pub(super) min: Duration,
    /// The timeout with no confirmation.
    pub(super) max: Duration,
    /// Lifeguard's k; 0 fixes the timeout at `min`.
    pub(super) confirmations: u32,
}

impl Membership {
    /// `min = suspicion_mult × max(1, log10 N) × probe_interval`; with Lifeguard,
    /// `max = suspicion_max_mult × min` and `k = suspicion_mult − 2` (THEORY.md §4).
    pub(super) fn suspicion_bounds(&self) -> SuspicionBounds {
        let n = self.table.cluster_size();
        let scale = (n as f64).log10().max(1.0);
        let min = self
            .config
            .probe_interval
            .mul_f64(f64::from(self.config.suspicion_mult) * scale);
        let fixed = SuspicionBounds {
            min,
            max: min,
            confirmations: 0,
        };
        let k = self.config.suspicion_mult.saturating_sub(2);
        // As memberlist: when fewer than k members besides the suspector and the suspect
        // exist, the confirmations can never all arrive, so run the shortest timeout.
        if !self.config.lifeguard || k == 0 || n.saturating_sub(2) < k as usize {
            return fixed;
        }
        SuspicionBounds {
            min,
            max: min.saturating_mul(self.config.suspicion_max_mult.max(1)),
            confirmations: k,
        }
    }

    /// Moves the local health score and publishes it in `Stats::local_health`.
    pub(super) fn adjust_health(&mut self, delta: i64) {
        if self.awareness.apply(delta) {
            let score = u64::from(self.awareness.score());
            Counters::set(&self.counters.local_health, score);
        }
    }

    /// We hold `suspect.name` suspect at `suspect.incarnation` and someone else says so
    /// too: a new confirmer shortens the timer and is re-gossiped (as memberlist does), so
    /// others count it as well.
    pub(super) fn on_confirmation(&mut self, suspect: Suspect, token: u64) {
        if !self.config.lifeguard {
            return;
        }
        let Some(confirmations) =
            self.reports
                .confirm(&suspect.name, suspect.incarnation, &suspect.from)
        else {
            return;
        };
        Counters::bump(&self.counters.suspicion_confirmations);
        let confirm = SuspicionInput::Confirm {
            name: suspect.name.clone(),
            token,
            confirmations,
        };
        self.outputs.push_back(Output::from(confirm));
        self.gossip(Message::Suspect(suspect));
    }
}
