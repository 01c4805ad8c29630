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

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::piggyback::{PiggybackQueue, retransmit_limit};
use super::seen::{MessageId, SeenSet};
use super::{Component, Delivery, DisseminationInput, NetOutput, Output, Reply, RequestId};
use crate::codec::{Header, Message, PacketWriter, UserMessage};
use crate::config::Config;
use crate::error::BroadcastError;
use crate::member::NodeName;
use crate::protocol::peers::{PeerView, Pick};
use crate::time::Instant;

/// How long a delivered broadcast's id is remembered.
const SEEN_TTL: Duration = Duration::from_secs(120);
/// Most delivered ids remembered.
const SEEN_CAPACITY: usize = 65_536;
/// Most membership updates queued (one per member at most; this bounds huge clusters).
const MEMBER_QUEUE_CAPACITY: usize = 65_536;

/// The dissemination component (see the module docs).
#[derive(Debug)]
pub(crate) struct Dissemination {
    config: Config,
    header: Header,
    local: NodeName,
    members: PiggybackQueue<NodeName>,
    user: PiggybackQueue<MessageId>,
    seen: SeenSet,
    next_user_seq: u64,
    peers: PeerView,
    recently_dead: BTreeMap<NodeName, (SocketAddr, Instant)>,
    next_gossip_at: Instant,
    leave: Option<(RequestId, u32)>,
    rng: ChaCha8Rng,
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
    ) -> Dissemination {
        Dissemination {
            header: Header {
                cluster: config.cluster_id(),
                flags: 0,
            },
            local,
            members: PiggybackQueue::new(MEMBER_QUEUE_CAPACITY),
            user: PiggybackQueue::new(config.broadcast_queue),
            seen: SeenSet::new(SEEN_TTL, SEEN_CAPACITY),
            next_user_seq: 0,
            peers,
            recently_dead: BTreeMap::new(),
            // Random phase: nodes started together must not gossip in lockstep.
            next_gossip_at: now + config.gossip_interval.mul_f64(rng.random_range(0.0..1.0)),
            leave: None,
            rng,
            outputs: VecDeque::new(),
            config,
        }
    }

    /// Queued membership updates and user broadcasts (for invariants and measurement).
    pub(crate) fn queue_lens(&self) -> (usize, usize) {
        (self.members.len(), self.user.len())
    }

    /// Bounds of the two queues.
    pub(crate) fn queue_bounds(&self) -> (usize, usize) {
        (MEMBER_QUEUE_CAPACITY, self.config.broadcast_queue)
    }

    /// Packs pending gossip into `writer`; user broadcasts get up to half when both wait.
    fn piggyback(&mut self, writer: &mut PacketWriter) {
        let n = self.peers.len() + 1;
        let member_limit = retransmit_limit(self.config.retransmit_mult, n);
        let user_limit = retransmit_limit(self.config.broadcast_retransmit_mult, n);
        if !self.user.is_empty() && !self.members.is_empty() {
            let half = writer.remaining() / 2;
            self.user.fill(writer, half, user_limit);
        }
        self.members.fill(writer, usize::MAX, member_limit);
        self.user.fill(writer, usize::MAX, user_limit);
        self.check_leave_sent();
    }

    /// `gossip_nodes` distinct random targets, all equally likely, among the live peers
    /// and (when `dead_targets` is their number, not 0) the recently dead.
    fn pick_targets(&mut self, dead_targets: usize) -> Vec<SocketAddr> {
        let live = self.peers.len();
        let wanted = self.config.gossip_nodes.min(live + dead_targets);
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
        let mut dead: Vec<SocketAddr> = self.recently_dead.values().map(|(a, _)| *a).collect();
        for _ in 0..dead_share {
            let i = self.rng.random_range(0..dead.len());
            targets.push(dead.swap_remove(i));
        }
        targets
    }

    fn transmit(&mut self, to: SocketAddr, writer: PacketWriter) {
        let bytes = writer.finish();
        self.outputs
            .push_back(Output::Net(NetOutput::SendTo { to, bytes }));
    }

    fn send(&mut self, to: SocketAddr, messages: Vec<Message>) {
        let mut writer = PacketWriter::new(&self.header, self.config.mtu);
        for message in &messages {
            if !writer.push(message) {
                log::warn!("message to {to} does not fit one packet; dropped: {message:?}");
            }
        }
        self.piggyback(&mut writer);
        if !writer.is_empty() {
            self.transmit(to, writer);
        }
    }

    /// One gossip round: pending updates to `gossip_nodes` random members.
    fn gossip_round(&mut self, now: Instant) {
        if self.members.is_empty() && self.user.is_empty() {
            return;
        }
        self.recently_dead.retain(|_, (_, until)| *until > now);
        // While leaving, only live members count: a `left` that went to the dead would
        // confirm the leave to the caller without anyone alive having heard it.
        let dead_targets = if self.leave.is_some() {
            0
        } else {
            self.recently_dead.len()
        };
        let targets = self.pick_targets(dead_targets);
        for to in targets {
            let mut writer = PacketWriter::new(&self.header, self.config.mtu);
            self.piggyback(&mut writer);
            if writer.is_empty() {
                break;
            }
            self.transmit(to, writer);
        }
    }

    fn on_user(&mut self, now: Instant, message: UserMessage) {
        if message.origin == self.local {
            return;
        }
        let id = (message.origin.clone(), message.seq);
        if !self.seen.insert(now, id.clone()) {
            return;
        }
        self.outputs.push_back(Output::Deliver(Delivery::Message {
            origin: message.origin.clone(),
            payload: message.payload.clone(),
        }));
        // Rumor mongering: what is new to us, we spread in turn.
        self.user.push(id, Message::User(message));
    }

    fn broadcast(&mut self, payload: Vec<u8>) -> Result<(), BroadcastError> {
        let max = self.config.max_broadcast_bytes;
        if payload.len() > max {
            return Err(BroadcastError::TooLarge { payload, max });
        }
        if self.user.is_full() {
            return Err(BroadcastError::QueueFull(payload));
        }
        self.next_user_seq += 1;
        let seq = self.next_user_seq;
        let message = UserMessage {
            origin: self.local.clone(),
            seq,
            payload: Arc::from(payload),
        };
        self.user
            .push((self.local.clone(), seq), Message::User(message));
        Ok(())
    }

    fn check_leave_sent(&mut self) {
        let Some((request, needed)) = self.leave else {
            return;
        };
        let sent = match self.members.transmits_of(&self.local) {
            Some(n) => n >= needed,
            None => true, // reached its retransmit limit and left the queue
        };
        if sent {
            self.leave = None;
            self.outputs
                .push_back(Output::Reply(request, Reply::LeaveSent));
        }
    }
}

impl Component for Dissemination {
    type Input = DisseminationInput;

    fn handle(&mut self, now: Instant, input: DisseminationInput) {
        let was_idle = self.members.is_empty() && self.user.is_empty();
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
        if self.members.is_empty() && self.user.is_empty() {
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
        if self.next_gossip_at >= now || (self.members.is_empty() && self.user.is_empty()) {
            return;
        }
        let interval = self.config.gossip_interval.as_micros().max(1) as u64;
        let behind = now.saturating_since(self.next_gossip_at).as_micros() as u64;
        let ticks = behind.div_ceil(interval);
        self.next_gossip_at = self.next_gossip_at + Duration::from_micros(ticks * interval);
    }

    /// Queues a membership update, sent `weight` times the usual retransmit limit.
    fn enqueue(&mut self, message: Message, weight: u32) {
        if let Some(name) = subject(&message) {
            // This node is the only source of its own alive (a refutation) and left: if
            // they fail to reach someone, that member declares it dead. They get twice the
            // usual retransmissions; a member at the edge of a retransmit step (e.g.
            // N = 99: 8 instead of 12) still hears them.
            let weight = if name == self.local { 2 } else { weight };
            self.members.push_weighted(name, message, weight);
        }
    }

    fn on_input(&mut self, now: Instant, input: DisseminationInput) {
        match input {
            DisseminationInput::Send { to, messages } => self.send(to, messages),
            DisseminationInput::Enqueue(message) => self.enqueue(message, 1),
            DisseminationInput::EnqueueUrgent(message) => self.enqueue(message, 2),
            DisseminationInput::PeerUp { name } => {
                self.recently_dead.remove(&name);
            }
            DisseminationInput::PeerDown {
                name,
                addr,
                gossip_until,
            } => {
                self.recently_dead.insert(name, (addr, gossip_until));
            }
            DisseminationInput::PeerGone { name } => {
                self.recently_dead.remove(&name);
            }
            DisseminationInput::User(message) => self.on_user(now, message),
            DisseminationInput::Broadcast { request, payload } => {
                let result = self.broadcast(payload);
                self.outputs
                    .push_back(Output::Reply(request, Reply::Broadcast(result)));
            }
            DisseminationInput::Leave { request, update } => {
                let needed = self.config.gossip_nodes.min(self.peers.len()) as u32;
                self.members.push_weighted(self.local.clone(), update, 2);
                self.leave = Some((request, needed));
                self.check_leave_sent();
                self.gossip_round(now);
            }
        }
    }
}

/// The member a membership update is about (its queue key).
fn subject(message: &Message) -> Option<NodeName> {
    match message {
        Message::Alive(m) => Some(m.name.clone()),
        Message::Suspect(m) => Some(m.name.clone()),
        Message::Dead(m) => Some(m.name.clone()),
        Message::Left(m) => Some(m.name.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::codec::{Left, decode_packet};
    use rand::SeedableRng;

    fn name(s: &str) -> NodeName {
        NodeName::new(s).unwrap()
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn diss() -> Dissemination {
        Dissemination::new(
            Config::lan(),
            name("me"),
            PeerView::new(),
            Instant::ZERO,
            ChaCha8Rng::seed_from_u64(5),
        )
    }

    /// `peer` enters the live view, as the member table would put it there.
    fn up(d: &Dissemination, peer: &str, port: u16) {
        d.peers.push(crate::protocol::peers::Peer {
            name: name(peer),
            addr: addr(port),
            suspect: false,
        });
    }

    fn drain(d: &mut Dissemination) -> Vec<Output> {
        std::iter::from_fn(|| d.poll_output()).collect()
    }

    /// Decoded datagrams sent, with their destination.
    fn datagrams(outputs: &[Output]) -> Vec<(SocketAddr, Vec<Message>)> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Net(NetOutput::SendTo { to, bytes }) => {
                    Some((*to, decode_packet(bytes).unwrap().messages))
                }
                _ => None,
            })
            .collect()
    }

    fn user(origin: &str, seq: u64) -> UserMessage {
        UserMessage {
            origin: name(origin),
            seq,
            payload: Arc::from(&b"hi"[..]),
        }
    }

    #[test]
    fn updates_ride_on_probes_up_to_the_mtu() {
        let mut d = diss();
        for i in 0..200 {
            let left = Message::Left(Left {
                name: name(&format!("member-number-{i}")),
                incarnation: 1,
            });
            d.handle(Instant::ZERO, DisseminationInput::Enqueue(left));
        }
        let ping = Message::Nack(crate::codec::Nack {
            seq: 1,
            source: name("me"),
        });
        d.handle(
            Instant::ZERO,
            DisseminationInput::Send {
                to: addr(2),
                messages: vec![ping],
            },
        );
        let out = drain(&mut d);
        let bytes = match out.as_slice() {
            [Output::Net(NetOutput::SendTo { bytes, .. })] => bytes.len(),
            other => panic!("expected one datagram, got {other:?}"),
        };
        assert!(bytes <= 1400 && bytes > 1300, "packed {bytes} bytes");
        let sent = &datagrams(&out)[0].1;
        assert!(matches!(sent[0], Message::Nack(_)));
        assert!(sent.len() > 30);
    }

    #[test]
    fn user_messages_are_delivered_once_and_spread_on() {
        let mut d = diss();
        up(&d, "b", 2);
        for _ in 0..3 {
            d.handle(Instant::ZERO, DisseminationInput::User(user("b", 1)));
        }
        d.handle(Instant::ZERO, DisseminationInput::User(user("me", 1)));
        let delivered = drain(&mut d)
            .into_iter()
            .filter(|o| matches!(o, Output::Deliver(Delivery::Message { .. })))
            .count();
        assert_eq!(delivered, 1);
        d.handle_timeout(Instant::ZERO + Config::lan().gossip_interval);
        let out = datagrams(&drain(&mut d));
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0].1[..], [Message::User(u)] if u.seq == 1));
    }

    #[test]
    fn broadcast_is_bounded_and_returns_the_payload() {
        let mut config = Config::lan();
        config.broadcast_queue = 2;
        let mut d = Dissemination::new(
            config,
            name("me"),
            PeerView::new(),
            Instant::ZERO,
            ChaCha8Rng::seed_from_u64(1),
        );
        let results: Vec<_> = (0..3u8)
            .map(|i| {
                d.handle(
                    Instant::ZERO,
                    DisseminationInput::Broadcast {
                        request: u64::from(i),
                        payload: vec![i],
                    },
                );
                drain(&mut d)
            })
            .collect();
        assert!(matches!(
            results[0].as_slice(),
            [Output::Reply(0, Reply::Broadcast(Ok(())))]
        ));
        assert!(matches!(results[2].as_slice(),
            [Output::Reply(2, Reply::Broadcast(Err(BroadcastError::QueueFull(p))))] if p == &vec![2u8]));
        d.handle(
            Instant::ZERO,
            DisseminationInput::Broadcast {
                request: 4,
                payload: vec![0; 5000],
            },
        );
        assert!(matches!(
            drain(&mut d).as_slice(),
            [Output::Reply(
                4,
                Reply::Broadcast(Err(BroadcastError::TooLarge { .. }))
            )]
        ));
    }

    #[test]
    fn gossip_tick_reaches_recently_dead_and_leave_is_confirmed() {
        let mut d = diss();
        up(&d, "b", 2);
        // "c" went down (the table took it out of the live view).
        let until = Instant::ZERO + Duration::from_secs(30);
        d.handle(
            Instant::ZERO,
            DisseminationInput::PeerDown {
                name: name("c"),
                addr: addr(3),
                gossip_until: until,
            },
        );
        // An ordinary update reaches the live member and the recently dead one.
        let update = Message::Left(Left {
            name: name("x"),
            incarnation: 1,
        });
        d.handle(Instant::ZERO, DisseminationInput::Enqueue(update));
        d.handle_timeout(d.poll_timeout().unwrap());
        let targets: Vec<SocketAddr> = datagrams(&drain(&mut d))
            .into_iter()
            .map(|(to, _)| to)
            .collect();
        assert_eq!(targets.len(), 2);
        assert!(targets.contains(&addr(2)) && targets.contains(&addr(3)));
        // Our own leave goes to live members only, so only they can confirm it.
        let left = Message::Left(Left {
            name: name("me"),
            incarnation: 1,
        });
        d.handle(
            Instant::ZERO,
            DisseminationInput::Leave {
                request: 7,
                update: left,
            },
        );
        let out = drain(&mut d);
        let targets: Vec<SocketAddr> = datagrams(&out).into_iter().map(|(to, _)| to).collect();
        assert_eq!(targets, [addr(2)]);
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Reply(7, Reply::LeaveSent)))
        );
        // Nothing pending once the retransmit limit is spent: no more datagrams.
        let mut now = Instant::ZERO;
        while let Some(at) = d.poll_timeout() {
            assert!(at < Instant::ZERO + Duration::from_secs(60), "never drains");
            now = at;
            d.handle_timeout(now);
            drain(&mut d);
        }
        // Drained: no deadline (an idle node sleeps) and no more datagrams.
        d.handle_timeout(now + Duration::from_secs(1));
        assert!(datagrams(&drain(&mut d)).is_empty());
    }
}
