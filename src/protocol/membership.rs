//! The membership component: member table, precedence rules, refutation, the failure
//! detector's probe rounds, and full-state exchanges (join and periodic push-pull).
//!
//! Updates about other members go through [`Membership::apply`], which asks
//! [`rules::overrides`](super::rules::overrides) and then tells the other actors what
//! changed: suspicion timers, the dissemination queue (re-gossip), and the dispatcher
//! (user events). Updates about this node go through refutation instead.
//!
//! Probe rounds live in `probe.rs`, Lifeguard's bookkeeping (local health, suspicion
//! bounds and confirmations) in `lifeguard.rs`, refutation in `refute.rs`, join, leave,
//! periodic push-pull and reaping in `lifecycle.rs`, merging a full-state exchange in
//! `sync.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use self::push_pull::{AntiEntropy, Purpose, scaled_interval};
use super::awareness::Awareness;
use super::failure_detector::FailureDetector;
use super::rules::{MAX_INCARNATION, Source, admitted, admitted_about_self, overrides};
use super::table::{MemberTable, Record, member_of};
use super::{
    Component, Delivery, DisseminationInput, MembershipInput, NetOutput, Output, Reply,
    SuspicionInput,
};
use crate::codec::{self, Alive, Dead, Frame, Header, Left, Message, Nack, Suspect};
use crate::config::Config;
use crate::error::JoinError;
use crate::event::Event;
use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::rate::TokenBucket;
use crate::stats::Counters;
use crate::time::Instant;

mod apply;
mod bootstrap;
mod lifecycle;
mod lifeguard;
mod probe;
mod push_pull;
mod refute;
mod sync;

use lifeguard::SuspicionReports;
use probe::ProbeRates;

/// Distinct conflicting claims reported, at most (then the set is cleared).
const MAX_CONFLICTS_REPORTED: usize = 256;
/// Accusers remembered for rate-limiting corrections, at most (then the oldest go).
const MAX_CORRECTIONS: usize = 64;
/// Claims about this node beyond the gossip jump taken (at the jump) per second, and in a
/// burst (see `rules.rs`): a blind flood of them raises this node by at most a jump a
/// second, 2³⁸ seconds to the ceiling.
const JUMPS_ABOUT_SELF_PER_SEC: u32 = 1;
const JUMPS_ABOUT_SELF_BURST: u32 = 4;

/// The membership component (see the module docs).
#[derive(Debug)]
pub(crate) struct Membership {
    config: Config,
    header: Header,
    table: MemberTable,
    fd: FailureDetector,
    /// Lifeguard's local health multiplier (always 0 with Lifeguard off).
    awareness: Awareness,
    /// Who reported each running suspicion, for Lifeguard's confirmations.
    reports: SuspicionReports,
    /// Bounds on the probe traffic others can draw from this node.
    rates: ProbeRates,
    /// Claims about this node beyond the jump, taken at the jump (`rules.rs`).
    jumps_about_self: TokenBucket,
    sync: AntiEntropy,
    rng: ChaCha8Rng,
    counters: Arc<Counters>,
    outputs: VecDeque<Output>,
    next_token: u64,
    leaving: bool,
    snapshot_dirty: bool,
    conflicts_reported: BTreeSet<(NodeName, SocketAddr)>,
    /// The node's encryption mode (absent in unit tests: plaintext).
    seal: Option<Arc<crate::seal::SealControl>>,
    /// When this node last corrected each accuser that gossiped a stale suspicion or
    /// death about it (see [`Membership::correct_accuser`]).
    corrections: BTreeMap<NodeName, Instant>,
}

/// A membership update about some member, as carried by gossip.
#[derive(Clone, Debug)]
enum Update {
    Alive(Alive),
    Suspect(Suspect),
    Dead(Dead),
    Left(Left),
}

impl Update {
    fn name(&self) -> &NodeName {
        match self {
            Update::Alive(m) => &m.name,
            Update::Suspect(m) => &m.name,
            Update::Dead(m) => &m.name,
            Update::Left(m) => &m.name,
        }
    }

    fn state_and_incarnation(&self) -> (MemberState, Incarnation) {
        match self {
            Update::Alive(m) => (MemberState::Alive, m.incarnation),
            Update::Suspect(m) => (MemberState::Suspect, m.incarnation),
            Update::Dead(m) => (MemberState::Dead, m.incarnation),
            Update::Left(m) => (MemberState::Left, m.incarnation),
        }
    }

    fn set_incarnation(&mut self, incarnation: Incarnation) {
        match self {
            Update::Alive(m) => m.incarnation = incarnation,
            Update::Suspect(m) => m.incarnation = incarnation,
            Update::Dead(m) => m.incarnation = incarnation,
            Update::Left(m) => m.incarnation = incarnation,
        }
    }

    fn into_message(self) -> Message {
        match self {
            Update::Alive(m) => Message::Alive(m),
            Update::Suspect(m) => Message::Suspect(m),
            Update::Dead(m) => Message::Dead(m),
            Update::Left(m) => Message::Left(m),
        }
    }
}

impl Membership {
    /// Lets the node's encryption mode decide what strangers are answered (see
    /// `on_ping`).
    pub(crate) fn set_seal_control(&mut self, seal: Arc<crate::seal::SealControl>) {
        self.seal = Some(seal);
    }

    /// Adds what membership holds to `f`: members, Lifeguard's reports, relays, exchanges.
    pub(crate) fn add_footprint(&self, f: &mut crate::protocol::Footprint) {
        f.members = self.table.len();
        f.suspicion_reports = self.reports.len();
        f.relays = self.fd.relays();
        f.exchanges += self.sync.in_flight();
    }

    /// A node that knows only itself, alive at incarnation 0.
    pub(crate) fn new(
        config: Config,
        name: NodeName,
        addr: SocketAddr,
        metadata: Arc<[u8]>,
        now: Instant,
        mut rng: ChaCha8Rng,
        counters: Arc<Counters>,
    ) -> Membership {
        let local = Record {
            addr,
            incarnation: 0,
            state: MemberState::Alive,
            metadata,
            changed_at: now,
            suspicion_token: 0,
        };
        // Random phase, so nodes started together do not probe in lockstep.
        let first_probe = now + config.probe_interval.mul_f64(rng.random_range(0.0..1.0));
        // Random phase too: a cluster started at once must not push-pull in lockstep.
        let first_sync = now
            + config
                .push_pull_interval
                .mul_f64(rng.random_range(0.0..1.0));
        let seq_seed: u32 = rng.random();
        Membership {
            header: Header {
                cluster: config.cluster_id(),
                flags: 0,
            },
            table: MemberTable::new(name, local),
            fd: FailureDetector::new(first_probe, seq_seed),
            awareness: Awareness::new(if config.lifeguard {
                config.awareness_max
            } else {
                0
            }),
            reports: SuspicionReports::default(),
            rates: ProbeRates::default(),
            jumps_about_self: TokenBucket::new(JUMPS_ABOUT_SELF_PER_SEC, JUMPS_ABOUT_SELF_BURST),
            sync: AntiEntropy::new(first_sync),
            config,
            rng,
            counters,
            outputs: VecDeque::new(),
            next_token: 0,
            leaving: false,
            snapshot_dirty: true,
            conflicts_reported: BTreeSet::new(),
            corrections: BTreeMap::new(),
            seal: None,
        }
    }

    /// The current member list, if it changed since the last call.
    pub(crate) fn take_snapshot(&mut self) -> Option<Vec<Member>> {
        if !self.snapshot_dirty {
            return None;
        }
        self.snapshot_dirty = false;
        Some(self.table.snapshot())
    }

    fn local(&self) -> NodeName {
        self.table.local().clone()
    }

    /// Sends probe traffic to a member (see [`DisseminationInput::Probe`]), gossip packed
    /// alongside.
    fn send(&mut self, to: SocketAddr, messages: Vec<Message>) {
        self.send_probe(to, messages, true);
    }

    /// Sends probe traffic, with gossip packed alongside only if `piggyback`.
    fn send_probe(&mut self, to: SocketAddr, messages: Vec<Message>, piggyback: bool) {
        let probe = DisseminationInput::Probe {
            to,
            messages,
            piggyback,
        };
        self.outputs.push_back(Output::from(probe));
    }

    /// Whether `name` is a live member at `addr` (so it has shown it receives there).
    fn is_live_member_at(&self, name: &NodeName, addr: SocketAddr) -> bool {
        self.table
            .get(name)
            .is_some_and(|r| r.addr == addr && r.state.is_live())
    }

    /// Whether a datagram from `from` may bring in `alive`. Only members introduce
    /// members: a name not held here is taken from the address of a live member, or
    /// about the sender itself (a node introducing itself, as joining over TCP lets
    /// anyone do). A stranger's `alive`s about names nobody holds would otherwise fill
    /// the table with ghosts, and every random choice (probe order, gossip fanout) would
    /// go to them until honest updates stopped spreading. Known names go on to the
    /// precedence rules.
    fn may_introduce(&self, from: SocketAddr, alive: &Alive) -> bool {
        alive.addr == from || self.table.get(&alive.name).is_some() || self.table.is_live_addr(from)
    }

    /// A sender that is no member here probed this node or told of a name it does not
    /// hold. It is a stranger, or (far more often, while a cluster forms) a member not
    /// heard of yet, whose gossip this node cannot take: rumors are sent only so many times, and a
    /// node that hears only from such senders would wait for the next push-pull (fifty
    /// nodes joining through one seed converged 22 s in instead of 0.6 s). A push-pull
    /// with a member soon fills the gap; at most one such early exchange per two probe
    /// periods, which is all a stranger's introductions can draw.
    pub(super) fn sync_soon(&mut self, now: Instant) {
        self.sync.hurry(now, self.config.probe_interval * 2);
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::from(Delivery::Event(event)));
    }

    fn gossip(&mut self, message: Message) {
        self.outputs
            .push_back(Output::from(DisseminationInput::Enqueue(message)));
    }

    fn on_packet(&mut self, now: Instant, from: SocketAddr, messages: Vec<Message>) {
        // Acks for an address that has not shown it receives leave in one datagram: one
        // each would reflect a datagram of many pings as many datagrams, more bytes in all.
        let mut bare_acks = Vec::new();
        for message in messages {
            match message {
                Message::Alive(m) if !self.may_introduce(from, &m) => {
                    Counters::bump(&self.counters.refused_members);
                    log::debug!("{from}, no member, introduced {}; refused", m.name);
                    self.sync_soon(now);
                }
                Message::Ping(ping) => bare_acks.extend(self.on_ping(now, from, ping)),
                Message::PingReq(req) => self.on_ping_req(now, from, req),
                Message::Ack(ack) => self.on_ack(now, ack.seq),
                Message::Nack(nack) => self.on_nack(&nack),
                Message::Alive(m) => self.apply(now, Update::Alive(m), Source::Gossip),
                Message::Suspect(m) => self.apply(now, Update::Suspect(m), Source::Gossip),
                Message::Dead(m) => self.apply(now, Update::Dead(m), Source::Gossip),
                Message::Left(m) => self.apply(now, Update::Left(m), Source::Gossip),
                Message::User(_)
                | Message::Known(_)
                | Message::Aggregate(_)
                | Message::State(_) => {}
            }
        }
        if !bare_acks.is_empty() {
            self.send_probe(from, bare_acks, false);
        }
    }
}

impl Component for Membership {
    type Input = MembershipInput;

    fn handle(&mut self, now: Instant, input: MembershipInput) {
        match input {
            MembershipInput::Packet { from, messages } => self.on_packet(now, from, messages),
            MembershipInput::SyncRequest { conn, state } => self.on_sync_request(now, conn, state),
            MembershipInput::SyncResponse { exchange, result } => {
                self.on_sync_response(now, exchange, result)
            }
            MembershipInput::SuspicionExpired {
                name,
                incarnation,
                token,
            } => {
                let still_suspect = self.table.get(&name).is_some_and(|r| {
                    r.state == MemberState::Suspect
                        && r.incarnation == incarnation
                        && r.suspicion_token == token
                });
                if still_suspect {
                    let from = self.local();
                    self.apply(
                        now,
                        Update::Dead(Dead {
                            name,
                            incarnation,
                            from,
                        }),
                        Source::Local,
                    );
                }
            }
            MembershipInput::Join { request, seeds } => self.join(now, request, seeds),
            MembershipInput::Leave { request } => self.leave(now, request),
            MembershipInput::SetMetadata(metadata) => {
                self.table.local_record_mut().metadata = metadata;
                let next = self.table.local_record().incarnation.saturating_add(1);
                self.bump_incarnation(next);
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.leaving {
            return;
        }
        if self.fd.period_due(now) {
            self.protocol_period(now);
        }
        self.indirect_probe(now);
        for relay in self.fd.expired_relays(now) {
            let nack = Message::Nack(Nack {
                seq: relay.seq,
                source: self.local(),
            });
            self.send(relay.requester, vec![nack]);
        }
        self.expire_exchanges(now);
        self.periodic_sync(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.leaving {
            return None;
        }
        Some(self.fd.poll_timeout().min(self.sync.next_at()))
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests;
