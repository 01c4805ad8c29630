//! Sending a leg: what it tells of this node's digest and which deltas it carries, cut
//! to a budget, and whether it goes as a datagram or a TCP exchange (see the module docs
//! of `kv`).

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngExt;

use super::summary::{Lacks, RECENT_ROUNDS, Told};
use super::{
    Back, DisseminationInput, ExchangeId, HEADER_LEN, KvState, MAX_IN_FLIGHT, MESSAGE_OVERHEAD,
    Message, NetOutput, Output, PACKET_OVERHEAD, STATE_SYNC_OVERHEAD, StateDigest, StateSync,
    StateWant, codec,
};
use crate::codec::{Frame, STATE_SUMMARY_LEN, StateSummary};
use crate::stats::Counters;

impl KvState {
    /// A leg within `budget` bytes of body: our digest as `told`, then what a peer
    /// lacks as `lacks` judges. Also says whether it is whole (nothing cut).
    fn build(
        &mut self,
        want: StateWant,
        told: &Told,
        lacks: Lacks<'_>,
        budget: usize,
    ) -> (StateSync, bool) {
        let (summary, digest) = match told {
            Told::Nothing => (None, Vec::new()),
            Told::Whole => (None, self.store.digest()),
            Told::Summary {
                owners,
                recent,
                retry,
            } => {
                let salt = self.rng.random::<u32>();
                let fingerprint = self.store.fingerprint(self.now, salt);
                let window = self.config.interval.saturating_mul(RECENT_ROUNDS);
                let recent = if *recent {
                    self.store.recent(self.now, window)
                } else {
                    Vec::new()
                };
                let summary = StateSummary {
                    fingerprint,
                    salt,
                    retry: *retry,
                };
                let digest = self.store.entries_of(owners.iter().chain(&recent));
                (Some(summary), digest)
            }
        };
        let fixed = STATE_SYNC_OVERHEAD
            + summary.map_or(0, |_| STATE_SUMMARY_LEN)
            + digest.iter().map(StateDigest::encoded_len).sum::<usize>();
        let budget_left = budget.saturating_sub(fixed);
        let start = self.rng.random_range(0..self.store.replicas.len().max(1));
        let (deltas, complete) = match lacks {
            Lacks::Unknown => (Vec::new(), true),
            Lacks::Whole(theirs) => self.store.deltas_for(theirs, false, budget_left, start),
            Lacks::Listed(theirs) => self.store.deltas_for(theirs, true, budget_left, start),
        };
        let sync = StateSync {
            want,
            summary,
            digest,
            deltas,
        };
        let whole = complete && sync.body_len() <= budget;
        (sync, whole)
    }

    /// Sends a leg: whole in a datagram if it fits, else as a TCP exchange (or on the
    /// inbound connection it answers).
    pub(super) fn send(&mut self, back: Back, want: StateWant, told: &Told, lacks: Lacks<'_>) {
        let frame_budget = self.config.max_sync_frame - HEADER_LEN - 1;
        let to = match back {
            Back::Conn(conn) => {
                let (sync, _) = self.build(want, told, lacks, frame_budget);
                if let Some(frame) = self.frame(sync) {
                    self.outputs
                        .push_back(Output::from(NetOutput::Reply { conn, frame }));
                }
                return;
            }
            Back::To(to) => to,
        };
        let udp_budget =
            (self.config.mtu - PACKET_OVERHEAD - MESSAGE_OVERHEAD).min(usize::from(u16::MAX) - 1);
        let (sync, whole) = self.build(want, told, lacks, udp_budget);
        if want == StateWant::Nothing && sync.deltas.is_empty() {
            return;
        }
        if whole {
            self.datagram(to, sync);
        } else if self.in_flight.len() < MAX_IN_FLIGHT {
            let (sync, _) = self.build(want, told, lacks, frame_budget);
            if let Some(frame) = self.frame(sync) {
                self.last_exchange += 1;
                // Freed by then even if no answer ever comes back.
                let deadline = self.now + self.config.sync_timeout + Duration::from_secs(1);
                self.in_flight.insert(self.last_exchange, (to, deadline));
                let exchange = NetOutput::Exchange {
                    exchange: ExchangeId::State(self.last_exchange),
                    to,
                    frame,
                    timeout: self.config.sync_timeout,
                };
                self.outputs.push_back(Output::from(exchange));
            }
        } else if sync.body_len() <= udp_budget {
            self.datagram(to, sync);
        } else {
            log::debug!("state exchange with {to} skipped: {MAX_IN_FLIGHT} TCP syncs busy");
        }
    }

    /// A leg in a datagram of its own (through dissemination: gossip rides along), counted.
    fn datagram(&mut self, to: SocketAddr, sync: StateSync) {
        count_whole_digest(&self.counters, &sync);
        let message = Message::State(sync);
        Counters::bump(&self.counters.state_datagram_legs);
        Counters::add(&self.counters.state_datagram_bytes, message.encoded_len());
        let send = DisseminationInput::Send {
            to,
            messages: vec![message],
        };
        self.outputs.push_back(Output::from(send));
    }

    /// A leg as a TCP frame, counted; `None` (logged) if it cannot be encoded.
    fn frame(&mut self, sync: StateSync) -> Option<Vec<u8>> {
        count_whole_digest(&self.counters, &sync);
        match codec::encode_frame(&self.header, &Frame::State(sync)) {
            Ok(frame) => {
                Counters::bump(&self.counters.state_frame_legs);
                Counters::add(&self.counters.state_frame_bytes, frame.len());
                Some(frame)
            }
            Err(e) => {
                log::warn!("cannot encode a state frame: {e}");
                None
            }
        }
    }
}

/// Counts a leg that carries a whole digest (`Stats::state_whole_digests`).
fn count_whole_digest(counters: &Counters, sync: &StateSync) {
    if sync.summary.is_none() && !sync.digest.is_empty() {
        Counters::bump(&counters.state_whole_digests);
    }
}
