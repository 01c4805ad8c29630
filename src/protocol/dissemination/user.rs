//! User broadcasts in each [`BroadcastMode`]: ids, exactly-once delivery, and how a
//! broadcast leaves this node.
//!
//! ```text
//! Gossip        origin/infected: queue --every round--> fanout random members (+ probes)
//! Feedback      as Gossip;  A -> user(x) -> B (had x);  A <- known{x} -- B
//!               A drops x from its queue after known_limit distinct members said so
//! PointToPoint  origin --user(x)--> every live member; receivers deliver, never forward
//! EagerFlood    origin, and each node on first receipt --user(x)--> every live member, once
//! ```
//! The direct modes send their own datagrams at once (the broadcasts of one input share
//! them, up to the MTU), and membership updates ride in the room left; rumors ride the
//! gossip rounds and probes, with up to half of each packet (see the parent module).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Dissemination;
use crate::codec::{KNOWN_OVERHEAD, Known, MAX_KNOWN_IDS, Message, PacketWriter, UserMessage};
use crate::config::{BroadcastMode, Config, Rumor};
use crate::error::BroadcastError;
use crate::member::NodeName;
use crate::protocol::peers::Pick;
use crate::protocol::piggyback::{Packed, PiggybackQueue, retransmit_limit};
use crate::protocol::seen::{MessageId, SeenSet};
use crate::protocol::{Delivery, Output};
use crate::stats::Counters;
use crate::time::Instant;

/// How long a delivered broadcast's id is remembered.
pub(super) const SEEN_TTL: Duration = Duration::from_secs(120);
/// Most delivered ids remembered.
pub(super) const SEEN_CAPACITY: usize = 65_536;

/// What a datagram carries for user broadcasts, for the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct UserShare {
    /// User broadcasts in it.
    pub(super) copies: usize,
    /// Their bytes and those of feedback, framing included.
    pub(super) bytes: usize,
}

impl UserShare {
    pub(super) fn add(&mut self, other: UserShare) {
        self.copies += other.copies;
        self.bytes += other.bytes;
    }
}

/// The user-broadcast state of one node.
#[derive(Debug)]
pub(super) struct UserBroadcasts {
    mode: BroadcastMode,
    /// Set in the rumor-mongering modes.
    rumor: Option<Rumor>,
    /// Infective broadcasts (rumor modes only; bounded by `broadcast_queue`).
    rumors: PiggybackQueue<MessageId>,
    /// Feedback mode: the distinct members that said they knew each queued rumor (at most
    /// `known_limit` each; entries of rumors that left the queue are pruned every round).
    pub(super) known_by: BTreeMap<MessageId, Vec<SocketAddr>>,
    pub(super) seen: SeenSet,
    /// The last sequence number this node gave a broadcast of its own.
    pub(super) next_seq: u64,
    capacity: usize,
}

impl UserBroadcasts {
    pub(super) fn new(config: &Config) -> UserBroadcasts {
        UserBroadcasts {
            mode: config.broadcast_mode,
            rumor: config.broadcast_mode.rumor(),
            rumors: PiggybackQueue::new(config.broadcast_queue),
            known_by: BTreeMap::new(),
            seen: SeenSet::new(SEEN_TTL, SEEN_CAPACITY),
            next_seq: 0,
            capacity: config.broadcast_queue,
        }
    }

    /// Rumors waiting to be pushed.
    pub(super) fn queued(&self) -> usize {
        self.rumors.len()
    }

    /// Members to push rumors to this round: the mode's fanout, 0 with nothing to push.
    pub(super) fn fanout(&self) -> usize {
        match self.rumor {
            Some(rumor) if !self.rumors.is_empty() => rumor.fanout,
            _ => 0,
        }
    }

    /// Packs rumors into `writer`, within `budget` bytes, in a cluster of `n`, except those
    /// `packed` holds (an earlier pass over the same packet put them in).
    pub(super) fn fill(
        &mut self,
        writer: &mut PacketWriter,
        budget: usize,
        n: usize,
        packed: &mut Packed,
    ) -> UserShare {
        let Some(rumor) = self.rumor else {
            return UserShare::default();
        };
        let before = writer.remaining();
        let limit = retransmit_limit(rumor.retransmit_mult, n);
        let copies = self.rumors.fill_once(writer, budget, limit, packed);
        UserShare {
            copies,
            bytes: before - writer.remaining(),
        }
    }

    /// Drops the feedback counts of rumors that reached their retransmit limit.
    pub(super) fn forget_feedback_of_dropped_rumors(&mut self) {
        let rumors = &self.rumors;
        self.known_by
            .retain(|id, _| rumors.transmits_of(id).is_some());
    }

    /// `from` said it knew these broadcasts: count it once per rumor, and stop pushing a
    /// rumor once `known_limit` distinct members said so.
    fn on_known(&mut self, from: SocketAddr, ids: Vec<(NodeName, u64)>) {
        let Some(limit) = self.rumor.and_then(|r| r.known_limit) else {
            return;
        };
        for id in ids {
            if self.rumors.transmits_of(&id).is_none() {
                continue;
            }
            if self.known_by.len() >= self.capacity && !self.known_by.contains_key(&id) {
                self.forget_feedback_of_dropped_rumors();
            }
            let knowers = self.known_by.entry(id.clone()).or_default();
            if !knowers.contains(&from) {
                knowers.push(from);
            }
            if knowers.len() >= limit as usize {
                self.known_by.remove(&id);
                self.rumors.remove(&id);
            }
        }
    }

    fn feedback(&self) -> bool {
        matches!(self.mode, BroadcastMode::Feedback { .. })
    }
}

impl Dissemination {
    /// Accepts a broadcast from the application and starts spreading it.
    pub(super) fn broadcast(&mut self, payload: Vec<u8>) -> Result<(), BroadcastError> {
        let max = self.config.max_broadcast_bytes;
        if payload.len() > max {
            return Err(BroadcastError::TooLarge { payload, max });
        }
        let rumor_mode = self.user.rumor.is_some();
        if rumor_mode && self.user.rumors.is_full() {
            return Err(BroadcastError::QueueFull(payload));
        }
        self.user.next_seq += 1;
        let seq = self.user.next_seq;
        let message = Message::User(UserMessage {
            origin: self.local.clone(),
            seq,
            payload: Arc::from(payload),
        });
        if rumor_mode {
            self.user.rumors.push((self.local.clone(), seq), message);
        } else {
            // Both baselines: the origin tells every live member itself.
            self.send_to_all_live(&[message]);
        }
        Ok(())
    }

    /// The user broadcasts and feedback of one datagram from `from`: delivers what is new,
    /// spreads it as the mode says, and answers duplicates with feedback (Feedback mode).
    pub(super) fn on_packet(&mut self, now: Instant, from: SocketAddr, messages: Vec<Message>) {
        let mut flood = Vec::new();
        let mut known = Vec::new();
        for message in messages {
            let user = match message {
                Message::User(user) => user,
                Message::Known(feedback) => {
                    Counters::add(&self.counters.known_ids_in, feedback.ids.len());
                    self.user.on_known(from, feedback.ids);
                    continue;
                }
                _ => continue,
            };
            let id = (user.origin.clone(), user.seq);
            // Our own broadcast coming back is a duplicate too: the sender wasted a push.
            if user.origin == self.local || !self.user.seen.insert(now, id.clone()) {
                Counters::bump(&self.counters.broadcast_duplicates);
                if self.user.feedback() {
                    known.push(id);
                }
                continue;
            }
            Counters::bump(&self.counters.broadcasts_delivered);
            self.outputs.push_back(Output::from(Delivery::Message {
                origin: user.origin.clone(),
                payload: user.payload.clone(),
            }));
            match self.user.mode {
                // What is new to us, we spread in turn.
                BroadcastMode::Gossip { .. } | BroadcastMode::Feedback { .. } => {
                    self.user.rumors.push(id, Message::User(user));
                }
                BroadcastMode::EagerFlood => flood.push(Message::User(user)),
                BroadcastMode::PointToPoint => {}
            }
        }
        if !flood.is_empty() {
            self.send_to_all_live(&flood);
        }
        // Feedback only to a live member: a stranger's pushes are not ours to stop, and an
        // answer beside the ack its pings draw would reflect more bytes than it sent.
        if !known.is_empty() && self.peers.is_live_addr(from) {
            self.send_known(from, known);
        }
    }

    /// Sends `messages` to every live member, as few datagrams each as the MTU allows,
    /// with membership updates in the room left (but no rumors: the direct modes have
    /// none).
    fn send_to_all_live(&mut self, messages: &[Message]) {
        for to in self.peers.addrs(Pick::Live) {
            let mut writer = PacketWriter::new(&self.header, self.config.datagram_budget());
            let mut share = UserShare::default();
            for message in messages {
                let mut pushed = writer.push(message);
                if !pushed && !writer.is_empty() {
                    let full = std::mem::replace(
                        &mut writer,
                        PacketWriter::new(&self.header, self.config.datagram_budget()),
                    );
                    self.transmit(to, full, std::mem::take(&mut share), false);
                    pushed = writer.push(message);
                }
                if pushed {
                    share.copies += 1;
                    share.bytes += message.encoded_len();
                } else {
                    // `max_broadcast_bytes` is validated to fit one datagram.
                    log::warn!("a broadcast does not fit one datagram; not sent to {to}");
                }
            }
            self.piggyback(&mut writer, true, false);
            if !writer.is_empty() {
                self.transmit(to, writer, share, false);
            }
        }
    }

    /// Tells the live member `to` which of the broadcasts it pushed were already known here: one
    /// datagram, as many ids as fit (feedback is best effort), membership updates in the
    /// room left. No rumors ride along: two nodes that both know a rumor would otherwise
    /// bounce it and their feedback back and forth.
    fn send_known(&mut self, to: SocketAddr, ids: Vec<MessageId>) {
        let mut writer = PacketWriter::new(&self.header, self.config.datagram_budget());
        let mut share = UserShare::default();
        let mut ids = ids.into_iter().peekable();
        while ids.peek().is_some() {
            let mut batch = Vec::new();
            let mut len = KNOWN_OVERHEAD;
            while let Some(id) = ids.next_if(|id| {
                batch.len() < MAX_KNOWN_IDS && len + Known::id_len(id) <= writer.remaining()
            }) {
                len += Known::id_len(&id);
                batch.push(id);
            }
            if batch.is_empty() {
                break;
            }
            Counters::add(&self.counters.known_ids_out, batch.len());
            let message = Message::Known(Known { ids: batch });
            share.bytes += message.encoded_len();
            writer.push(&message);
        }
        // `to` is a live member (strangers get no feedback), so gossip rides along.
        self.piggyback(&mut writer, true, false);
        if !writer.is_empty() {
            self.transmit(to, writer, share, false);
        }
    }
}
