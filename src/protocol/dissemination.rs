//! The dissemination component: piggyback queues for membership updates and user
//! broadcasts, packet assembly up to the MTU, and the gossip tick.
//!
//! ```text
//! membership --Send{to, [ping]}--> dissemination: [ping | alive(c) | suspect(d) | user(x)]
//!                                                  packed up to the MTU --SendTo--> net
//! every gossip_interval: pending gossip --> gossip_nodes random members (and the recently
//!                                           dead, so a false death hears about itself)
//! ```
//! When both queues have something, user broadcasts get up to half of each packet, so
//! membership churn cannot starve them (memberlist issue 299).
//!
//! User broadcasts travel in the configured [`BroadcastMode`](crate::BroadcastMode); the
//! modes live in [`user`]: rumors share the queues and the tick above, the direct
//! baselines send datagrams of their own on which membership updates ride.

mod user;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use self::user::{UserBroadcasts, UserShare};
use super::piggyback::{Packed, PiggybackQueue, retransmit_limit};
use super::{Component, DisseminationInput, NetOutput, Output, Reply, RequestId};
use crate::codec::{Header, Message, PacketWriter, StateWant};
use crate::config::Config;
use crate::member::NodeName;
use crate::protocol::peers::{PeerView, Pick};
use crate::stats::Counters;
use crate::time::Instant;

/// Most membership updates queued (one per member at most; this bounds huge clusters).
const MEMBER_QUEUE_CAPACITY: usize = 65_536;

/// The dissemination component (see the module docs).
#[derive(Debug)]
pub(crate) struct Dissemination {
    config: Config,
    header: Header,
    local: NodeName,
    members: PiggybackQueue<Subject>,
    user: UserBroadcasts,
    peers: PeerView,
    next_gossip_at: Instant,
    leave: Option<(RequestId, u32)>,
    rng: ChaCha8Rng,
    counters: Arc<Counters>,
    outputs: VecDeque<Output>,
}

impl Dissemination {
    /// Empty queues; the first gossip tick is due one interval after `now`.
    pub(crate) fn new(
        config: Config,
        local: NodeName,
        peers: PeerView,
        now: Instant,
        mut rng: ChaCha8Rng,
        counters: Arc<Counters>,
    ) -> Dissemination {
        Dissemination {
            header: Header {
                cluster: config.cluster_id(),
                flags: 0,
            },
            local,
            members: PiggybackQueue::new(MEMBER_QUEUE_CAPACITY),
            user: UserBroadcasts::new(&config),
            peers,
            // Random phase: nodes started together must not gossip in lockstep.
            next_gossip_at: now + config.gossip_interval.mul_f64(rng.random_range(0.0..1.0)),
            leave: None,
            rng,
            counters,
            outputs: VecDeque::new(),
            config,
        }
    }

    /// Numbers this node's broadcasts of this life from `base + 1` on. A broadcast's id is
    /// (origin, number) and members remember ids for two minutes, so `base` must exceed
    /// every number an earlier life of this node used, or members drop the new broadcasts
    /// as duplicates (the runtime passes wall-clock microseconds at start, the simulator
    /// its restart count × 2⁴⁰). Call before the first broadcast.
    pub(crate) fn number_broadcasts_after(&mut self, base: u64) {
        self.user.next_seq = base;
    }

    /// Queued membership updates and user broadcasts (for invariants and measurement).
    pub(crate) fn queue_lens(&self) -> (usize, usize) {
        (self.members.len(), self.user.queued())
    }

    /// Broadcast ids remembered as delivered.
    pub(crate) fn seen_len(&self) -> usize {
        self.user.seen.len()
    }

    /// Bounds of the two queues.
    pub(crate) fn queue_bounds(&self) -> (usize, usize) {
        (MEMBER_QUEUE_CAPACITY, self.config.broadcast_queue)
    }

    /// Nothing waits for a gossip round.
    fn idle(&self) -> bool {
        self.members.is_empty() && self.user.queued() == 0
    }

    /// Packs pending gossip into `writer`: membership updates if `members`, rumors if
    /// `rumors`; rumors get up to half when both wait. Returns the rumors' share.
    fn piggyback(&mut self, writer: &mut PacketWriter, members: bool, rumors: bool) -> UserShare {
        let n = self.peers.len() + 1;
        let member_limit = retransmit_limit(self.config.retransmit_mult, n);
        let mut share = UserShare::default();
        // Rumors packed by the first pass must not ride again in the second.
        let mut packed = Packed::default();
        if rumors && members && self.user.queued() > 0 && !self.members.is_empty() {
            let half = writer.remaining() / 2;
            share.add(self.user.fill(writer, half, n, &mut packed));
        }
        if members {
            self.members.fill(writer, usize::MAX, member_limit);
        }
        if rumors {
            share.add(self.user.fill(writer, usize::MAX, n, &mut packed));
        }
        self.check_leave_sent();
        share
    }

    /// `wanted` distinct random targets, all equally likely, among the live peers and
    /// the recently dead in `dead`.
    fn pick_targets(&mut self, wanted: usize, mut dead: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let live = self.peers.len();
        let dead_targets = dead.len();
        let wanted = wanted.min(live + dead_targets);
        // How many of the `wanted` draws (without replacement) land on the dead.
        let mut dead_left = dead_targets;
        for drawn in 0..wanted {
            if self.rng.random_range(0..live + dead_targets - drawn) < dead_left {
                dead_left -= 1;
            }
        }
        let dead_share = dead_targets - dead_left;
        let mut targets = self
            .peers
            .random_addrs(wanted - dead_share, Pick::Live, &mut self.rng);
        for _ in 0..dead_share {
            let i = self.rng.random_range(0..dead.len());
            targets.push(dead.swap_remove(i));
        }
        targets
    }

    /// Hands the datagram to the network, counting what it carries for user broadcasts;
    /// `urgent` when it carries probe traffic.
    fn transmit(&mut self, to: SocketAddr, writer: PacketWriter, share: UserShare, urgent: bool) {
        if share.copies > 0 || share.bytes > 0 {
            Counters::bump(&self.counters.broadcast_datagrams_out);
            Counters::add(&self.counters.broadcast_copies_out, share.copies);
            Counters::add(&self.counters.broadcast_bytes_out, share.bytes);
        }
        let bytes = writer.finish();
        self.outputs
            .push_back(Output::from(NetOutput::SendTo { to, bytes, urgent }));
    }

    /// `messages` to `to` in one datagram, with pending gossip packed alongside if
    /// `piggyback`.
    fn send(&mut self, to: SocketAddr, messages: Vec<Message>, urgent: bool, piggyback: bool) {
        let mut writer = PacketWriter::new(&self.header, self.config.datagram_budget());
        for message in &messages {
            if !writer.push(message) {
                log::warn!("message to {to} does not fit one packet; dropped: {message:?}");
            }
        }
        let share = if piggyback {
            self.piggyback(&mut writer, true, true)
        } else {
            UserShare::default()
        };
        if !writer.is_empty() {
            self.transmit(to, writer, share, urgent);
        }
    }

    /// One gossip round: pending membership updates to `gossip_nodes` random members,
    /// pending rumors to the mode's fanout (the same members first).
    fn gossip_round(&mut self, now: Instant) {
        let member_fanout = if self.members.is_empty() {
            0
        } else {
            self.config.gossip_nodes
        };
        let rumor_fanout = self.user.fanout();
        if member_fanout == 0 && rumor_fanout == 0 {
            return;
        }
        self.user.forget_feedback_of_dropped_rumors();
        // While leaving, only live members count: a `left` that went to the dead would
        // confirm the leave to the caller without anyone alive having heard it.
        let dead = if self.leave.is_some() {
            Vec::new()
        } else {
            self.peers.down_addrs(now)
        };
        let targets = self.pick_targets(member_fanout.max(rumor_fanout), dead);
        for (i, to) in targets.into_iter().enumerate() {
            let mut writer = PacketWriter::new(&self.header, self.config.datagram_budget());
            let share = self.piggyback(&mut writer, i < member_fanout, i < rumor_fanout);
            // Later targets are offered no more than earlier ones: an empty packet here
            // means nothing is left for them either.
            if writer.is_empty() {
                break;
            }
            self.transmit(to, writer, share, false);
        }
    }

    fn check_leave_sent(&mut self) {
        let Some((request, needed)) = self.leave else {
            return;
        };
        let sent = match self
            .members
            .transmits_of(&Subject::Member(self.local.clone()))
        {
            Some(n) => n >= needed,
            None => true, // reached its retransmit limit and left the queue
        };
        if sent {
            self.leave = None;
            self.outputs
                .push_back(Output::reply(request, Reply::LeaveSent));
        }
    }
}

impl Component for Dissemination {
    type Input = DisseminationInput;

    fn handle(&mut self, now: Instant, input: DisseminationInput) {
        let was_idle = self.idle();
        self.on_input(now, input);
        if was_idle {
            self.resume_ticks(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_gossip_at {
            return;
        }
        self.next_gossip_at = now + self.config.gossip_interval;
        self.gossip_round(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // Nothing to spread, nothing to wake up for: an idle node sleeps.
        if self.idle() {
            return None;
        }
        Some(self.next_gossip_at)
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

impl Dissemination {
    /// After an idle spell the tick resumes on its old phase, at the first tick not in the
    /// past: gossip keeps its rhythm of one round per interval (the round model of the
    /// dissemination analysis) rather than firing the moment something is queued.
    fn resume_ticks(&mut self, now: Instant) {
        if self.next_gossip_at >= now || self.idle() {
            return;
        }
        let interval = self.config.gossip_interval.as_micros().max(1) as u64;
        let behind = now.saturating_since(self.next_gossip_at).as_micros() as u64;
        let ticks = behind.div_ceil(interval);
        self.next_gossip_at = self.next_gossip_at + Duration::from_micros(ticks * interval);
    }

    /// Queues a membership update, sent `weight` times the usual retransmit limit.
    fn enqueue(&mut self, message: Message, weight: u32) {
        if let Some(subject) = subject(&message) {
            // This node is the only source of its own alive (a refutation) and left: if
            // they fail to reach someone, that member declares it dead. They get twice the
            // usual retransmissions; a member at the edge of a retransmit step (e.g.
            // N = 99: 8 instead of 12) still hears them.
            let own = matches!(&subject, Subject::Member(name) if *name == self.local);
            let weight = if own { 2 } else { weight };
            self.members.push_weighted(subject, message, weight);
        }
    }

    fn on_input(&mut self, now: Instant, input: DisseminationInput) {
        match input {
            DisseminationInput::Probe {
                to,
                messages,
                piggyback,
            } => self.send(to, messages, true, piggyback),
            DisseminationInput::Send { to, messages } => self.send(to, messages, false, true),
            DisseminationInput::Enqueue(message) => self.enqueue(message, 1),
            DisseminationInput::EnqueueUrgent(message) => self.enqueue(message, 2),
            DisseminationInput::Packet { from, messages } => self.on_packet(now, from, messages),
            DisseminationInput::Broadcast { request, payload } => {
                let result = self.broadcast(payload);
                self.outputs
                    .push_back(Output::reply(request, Reply::Broadcast(result)));
            }
            DisseminationInput::Leave { request, update } => {
                // Told to every live member directly as well as gossiped: a rumor can
                // miss a node (with 5 nodes, about one leave in 40), which would then
                // probe the departed node, suspect it and report it failed.
                for to in self.peers.addrs(Pick::Live) {
                    self.send(to, vec![update.clone()], false, false);
                }
                let needed = self.config.gossip_nodes.min(self.peers.len()) as u32;
                self.members
                    .push_weighted(Subject::Member(self.local.clone()), update, 2);
                self.leave = Some((request, needed));
                self.check_leave_sent();
                self.gossip_round(now);
            }
        }
    }
}

/// What a gossiped update is about: its key in the queue, where a newer update about the
/// same thing replaces the older.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Subject {
    /// A membership update about this member.
    Member(NodeName),
    /// The key-value state's "state is in use" (a state leg that asks nothing; see
    /// `protocol/kv`): wakes idle nodes, so a cold cluster's first key spreads in every
    /// node's rounds.
    StateInUse,
}

/// What a gossiped update is about; `None` for messages that are not gossiped.
fn subject(message: &Message) -> Option<Subject> {
    match message {
        Message::Alive(m) => Some(Subject::Member(m.name.clone())),
        Message::Suspect(m) => Some(Subject::Member(m.name.clone())),
        Message::Dead(m) => Some(Subject::Member(m.name.clone())),
        Message::Left(m) => Some(Subject::Member(m.name.clone())),
        Message::State(s) if s.want == StateWant::Nothing && s.summary.is_some() => {
            Some(Subject::StateInUse)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_modes;
