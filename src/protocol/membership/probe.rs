//! The failure detector's probe round on the membership side: pings, ping-reqs, acks and
//! nacks, and what a finished probe means for the target and for this node's own health.
//!
//! ```text
//! t0                      A -> ping(seq) [+ suspect(B) if A holds B suspect] -> B
//! t0 + timeout·(lhm+1)    no ack: A -> ping-req(B, seq) -> C1..Ck
//!                                 Ci -> ping -> B -> ack -> Ci -> ack(seq) -> A
//!                                 or, after 80 % of Ci's probe timeout: Ci -> nack(seq) -> A
//! t0 + interval·(lhm+1)   no ack: A suspects B; lhm += 1 + helpers that sent no nack
//!                         acked:  lhm -= 1
//! ```
//! `lhm` is Lifeguard's local health multiplier
//! ([`Awareness`](crate::protocol::awareness::Awareness)); with Lifeguard off it stays 0,
//! nacks are ignored and this is plain SWIM.

use std::net::SocketAddr;

use super::{Membership, Update};
use crate::codec::{self, Message, Nack, Ping, PingReq, Suspect};
use crate::member::MemberState;
use crate::protocol::failure_detector::{AckMatch, Probe, Relay};
use crate::protocol::rules::Source;
use crate::rate::TokenBucket;
use crate::stats::Counters;
use crate::time::Instant;

/// Acks a second to addresses that are no live member there (a member joining through
/// another seed, not yet heard of here, or a spoofed source), in bursts of twice that.
/// Each is a bare ack, no bigger than the ping: the bound keeps a node flooded with
/// spoofed pings from becoming a reflector of volume.
const STRANGER_ACKS_PER_SEC: u32 = 128;
/// Ping-reqs relayed a second, in bursts of twice that: honest ones come from probes
/// that failed, a few a second for the whole cluster spread over its helpers.
const RELAYS_PER_SEC: u32 = 64;

/// Bounds on the probe traffic others can draw from this node.
#[derive(Debug)]
pub(super) struct ProbeRates {
    stranger_acks: TokenBucket,
    relays: TokenBucket,
}

impl Default for ProbeRates {
    fn default() -> Self {
        ProbeRates {
            stranger_acks: TokenBucket::new(STRANGER_ACKS_PER_SEC, 2 * STRANGER_ACKS_PER_SEC),
            relays: TokenBucket::new(RELAYS_PER_SEC, 2 * RELAYS_PER_SEC),
        }
    }
}

impl Membership {
    /// `A -> ping -> B`: B answers only for its own name.
    ///
    /// A live member at its recorded address gets the ack with gossip packed alongside.
    /// Anyone else (a stranger, a spoofed source) gets the bare ack, at a bounded rate:
    /// it is returned, and the caller sends every bare ack of one datagram in one reply,
    /// never more than the datagram was.
    pub(super) fn on_ping(
        &mut self,
        now: Instant,
        from: SocketAddr,
        ping: Ping,
    ) -> Option<Message> {
        if ping.target != *self.table.local() {
            log::debug!(
                "ping for {} reached {}; ignored",
                ping.target,
                self.table.local()
            );
            return None;
        }
        let ack = Message::Ack(codec::Ack {
            seq: ping.seq,
            source: self.local(),
        });
        if self.is_live_member_at(&ping.source, from) {
            self.send_probe(from, vec![ack], true);
            return None;
        }
        if self.table.get(&ping.source).is_none() {
            // Probed by a name this node does not hold: likely a member it has missed.
            self.sync_soon(now);
        }
        // While sealing but still taking plaintext (the middle step of turning encryption
        // on), an ack would leave 40 bytes larger than a bare plaintext ping: a stranger
        // is not answered then, as it is not once sealing is required.
        let sealing_step = self
            .seal
            .as_ref()
            .is_some_and(|s| s.mode() == crate::seal::EncryptionMode::Sealing);
        let since_start = now.saturating_since(Instant::ZERO);
        if sealing_step || !self.rates.stranger_acks.take(since_start) {
            Counters::bump(&self.counters.refused_probes);
            return None;
        }
        Some(ack)
    }

    /// `A -> ping-req(B) -> C`: C pings B with its own sequence number and remembers A.
    ///
    /// Only for a live member asking from its recorded address, about a member at its
    /// recorded address: otherwise a stranger could make this node ping any address it
    /// names (a reflection); and at most [`RELAYS_PER_SEC`]. Refused ones are counted.
    pub(super) fn on_ping_req(&mut self, now: Instant, from: SocketAddr, req: PingReq) {
        let target_known = self
            .table
            .get(&req.target)
            .is_some_and(|r| r.addr == req.target_addr);
        let allowed = self.is_live_member_at(&req.source, from)
            && target_known
            && self.rates.relays.take(now.saturating_since(Instant::ZERO));
        if !allowed {
            Counters::bump(&self.counters.refused_probes);
            log::debug!("ping-req from {from} for {} refused", req.target_addr);
            return;
        }
        let seq = self.fd.next_seq();
        // With Lifeguard the nack leaves at 80 % of the probe timeout, so it can still reach
        // the requester before its period ends (memberlist does the same).
        let wait = if self.config.lifeguard {
            self.config.probe_timeout * 4 / 5
        } else {
            self.config.probe_timeout
        };
        let relay = Relay {
            requester: from,
            seq: req.seq,
            expires_at: now + wait,
        };
        if !self.fd.add_relay(seq, relay) {
            log::debug!("too many ping-reqs in flight; one from {from} refused");
            return;
        }
        let ping = Message::Ping(Ping {
            seq,
            target: req.target,
            source: self.local(),
        });
        self.send(req.target_addr, vec![ping]);
    }

    /// An ack either completes our probe or is forwarded to whoever asked us to relay.
    pub(super) fn on_ack(&mut self, now: Instant, seq: u32) {
        match self.fd.on_ack(now, seq) {
            AckMatch::Probe(Some(rtt)) => self.counters.probe_rtt.record(rtt),
            AckMatch::Probe(None) | AckMatch::Unknown => {}
            AckMatch::Relay(relay) => {
                let ack = Message::Ack(codec::Ack {
                    seq: relay.seq,
                    source: self.local(),
                });
                self.send(relay.requester, vec![ack]);
            }
        }
    }

    /// A helper could not reach our target either: evidence that our own network is fine.
    /// Without Lifeguard nacks need no action.
    pub(super) fn on_nack(&mut self, nack: &Nack) {
        if self.config.lifeguard && self.fd.on_nack(nack.seq, &nack.source) {
            Counters::bump(&self.counters.nacks_received);
        }
    }

    /// One SWIM protocol period: judge the last probe, reap, and probe the next member.
    pub(super) fn protocol_period(&mut self, now: Instant) {
        if let Some(done) = self.fd.end_period() {
            self.probe_finished(now, done);
        }
        // Scheduled after the last probe's outcome moved the local health, so a node that
        // just failed a probe already slows down for this period.
        let interval = self.awareness.scale(self.config.probe_interval);
        self.fd.schedule_period(now + interval);
        self.reap(now);
        let Some(target) = self.fd.next_target(&self.table, &mut self.rng) else {
            return;
        };
        let Some(record) = self.table.get(&target) else {
            return;
        };
        let (addr, incarnation, state) = (record.addr, record.incarnation, record.state);
        let seq = self.fd.next_seq();
        let indirect_at = now + self.awareness.scale(self.config.probe_timeout);
        let probe = Probe::new(seq, target.clone(), incarnation, addr, (now, indirect_at));
        self.fd.start_probe(probe);
        Counters::bump(&self.counters.probes);
        let mut messages = vec![Message::Ping(Ping {
            seq,
            target: target.clone(),
            source: self.local(),
        })];
        // Lifeguard's buddy system: a suspect hears of its suspicion from the first member
        // that probes it, in the same datagram, rather than whenever gossip reaches it.
        if self.config.lifeguard && state == MemberState::Suspect {
            messages.push(Message::Suspect(Suspect {
                name: target,
                incarnation,
                from: self.local(),
            }));
        }
        self.send(addr, messages);
    }

    /// The period of `probe` ended: update local health, and suspect a silent target.
    fn probe_finished(&mut self, now: Instant, probe: Probe) {
        if probe.acked {
            self.adjust_health(-1);
            return;
        }
        if self.config.lifeguard {
            // Helpers asked that sent neither ack nor nack: the packets we sent or the ones
            // coming back were lost, which points at this node rather than the target.
            let missed = probe.missed_nacks();
            Counters::add(&self.counters.missed_nacks, missed);
            self.adjust_health(1 + i64::try_from(missed).unwrap_or(i64::MAX));
        }
        // Alive: raise the suspicion. Already suspect (someone else's suspicion reached us
        // first): our own failed probe is an independent confirmation, which Lifeguard
        // counts to shorten the timeout (memberlist: suspectNode -> Confirm).
        let still_live = self
            .table
            .get(&probe.target)
            .is_some_and(|r| r.state.is_live() && r.incarnation == probe.incarnation);
        if still_live {
            Counters::bump(&self.counters.suspicions);
            let suspect = Suspect {
                name: probe.target,
                incarnation: probe.incarnation,
                from: self.local(),
            };
            self.apply(now, Update::Suspect(suspect), Source::Local);
        }
    }

    /// No direct ack in time: ask k random helpers to probe the target.
    pub(super) fn indirect_probe(&mut self, now: Instant) {
        let Some(probe) = self.fd.take_indirect_due(now) else {
            return;
        };
        let (seq, target, target_addr) = (probe.seq, probe.target.clone(), probe.addr);
        let helpers =
            self.table
                .random_live(self.config.indirect_checks, &[&target], &mut self.rng);
        let mut asked = Vec::with_capacity(helpers.len());
        for helper in helpers {
            let Some(addr) = self.table.get(&helper).map(|r| r.addr) else {
                continue;
            };
            Counters::bump(&self.counters.indirect_probes);
            let req = Message::PingReq(PingReq {
                seq,
                target: target.clone(),
                target_addr,
                source: self.local(),
            });
            self.send(addr, vec![req]);
            asked.push(helper);
        }
        // Each helper asked now owes an ack or a nack (Lifeguard counts the missing ones).
        self.fd.set_helpers(seq, asked);
    }
}
