//! The messages epidemic puts on the wire, as plain data.
//!
//! UDP datagrams carry a [`Packet`]: a header and one or more [`Message`]s (a compound
//! packet: probes with membership updates and user broadcasts piggybacked). TCP carries
//! [`Frame`]s for full-state exchanges.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{Known, StateSync};
use crate::aggregate::AggregateName;
use crate::member::{Incarnation, MemberState, NodeName};

/// The packet header every datagram and frame starts with.
///
/// ```text
/// magic "EP" (2) | version (1) | flags (1) | cluster id (8, big-endian)
/// ```
/// `flags` is reserved for the authentication/encryption envelope; version 1 requires 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Identifies the cluster, so two clusters sharing addresses never merge.
    pub cluster: u64,
    /// Reserved envelope flags; must be 0 in protocol version 1.
    pub flags: u8,
}

/// A datagram: a header and at least one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// The messages, in order (at most [`super::MAX_MESSAGES_PER_PACKET`]).
    pub messages: Vec<Message>,
}

/// One message inside a compound packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `A -> ping -> B`: are you there?
    Ping(Ping),
    /// `A -> ping-req(B) -> C`: please ping B for me and relay its ack.
    PingReq(PingReq),
    /// `B -> ack -> A`: answer to a ping (relayed by the helper for a ping-req).
    Ack(Ack),
    /// `C -> nack -> A`: the helper got no ack from the target in time (Lifeguard).
    Nack(Nack),
    /// A member is alive at an incarnation, with its address and metadata.
    Alive(Alive),
    /// Someone suspects a member at an incarnation.
    Suspect(Suspect),
    /// Someone declared a member dead at an incarnation.
    Dead(Dead),
    /// A member left the cluster on purpose.
    Left(Left),
    /// A user broadcast, identified by `(origin, seq)`.
    User(UserMessage),
    /// `A -> aggregate -> B`: push-sum mass A hands over in an aggregation round.
    Aggregate(Aggregate),
    /// One leg of a key-value state exchange (`A -> digest -> B`, `B -> deltas -> A`).
    State(StateSync),
    /// `B -> known -> A`: B already had these user broadcasts (rumor-mongering feedback).
    Known(Known),
}

/// Direct probe. The receiver answers with an [`Ack`] carrying `seq`, to the datagram's
/// source address, but only if `target` is its own name (a restarted process under a
/// new name at the same address must not answer for the old one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// Sequence number chosen by the prober.
    pub seq: u32,
    /// Name of the member being probed.
    pub target: NodeName,
    /// Name of the prober.
    pub source: NodeName,
}

/// Indirect probe request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReq {
    /// Sequence number the requester waits on; the helper relays the ack with it.
    pub seq: u32,
    /// Member to probe.
    pub target: NodeName,
    /// Address to probe it at.
    pub target_addr: SocketAddr,
    /// The requester.
    pub source: NodeName,
}

/// Probe answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The sequence number of the ping (or ping-req) being answered.
    pub seq: u32,
    /// Who answers (the probed member, or the helper that relays).
    pub source: NodeName,
}

/// Negative answer from a ping-req helper: the target stayed silent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// The ping-req's sequence number.
    pub seq: u32,
    /// The helper.
    pub source: NodeName,
}

/// `name` is alive at `incarnation`, reachable at `addr`, with `metadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alive {
    /// The member.
    pub name: NodeName,
    /// Its incarnation.
    pub incarnation: Incarnation,
    /// Its gossip address.
    pub addr: SocketAddr,
    /// Its metadata (at most [`crate::member::MAX_METADATA_LEN`] bytes).
    pub metadata: Arc<[u8]>,
}

/// `from` suspects `name` at `incarnation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspect {
    /// The suspected member.
    pub name: NodeName,
    /// The incarnation suspected.
    pub incarnation: Incarnation,
    /// Who raised or confirmed the suspicion.
    pub from: NodeName,
}

/// `from` declared `name` dead at `incarnation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dead {
    /// The member declared dead.
    pub name: NodeName,
    /// The incarnation declared dead.
    pub incarnation: Incarnation,
    /// Who declared it.
    pub from: NodeName,
}

/// `name` left the cluster at `incarnation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    /// The member that left.
    pub name: NodeName,
    /// Its final incarnation.
    pub incarnation: Incarnation,
}

/// A user payload spread through the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMessage {
    /// The node that broadcast it.
    pub origin: NodeName,
    /// The origin's sequence number; `(origin, seq)` identifies the message.
    pub seq: u64,
    /// The payload (at most [`super::MAX_USER_PAYLOAD`] bytes).
    pub payload: Arc<[u8]>,
}

/// Push-sum mass for some aggregates: the share of its mass the sender hands to the
/// receiver in one aggregation round (at most [`super::MAX_AGGREGATES_PER_MESSAGE`]
/// entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// The sender's epoch: a receiver in a lower one jumps to it, one in a higher one
    /// discards the message.
    pub epoch: u64,
    /// The sender's round within the epoch.
    pub round: u32,
    /// One entry per aggregate.
    pub entries: Vec<AggregateEntry>,
}

/// One aggregate's share of push-sum mass.
///
/// `value / ones` estimates the average, `ones / weight` the number of publishers;
/// `min` and `max` are the extremes the sender has heard of (`+inf`/`-inf` for none).
/// Equality compares the bits of the floats, so every value, NaN included, round-trips.
#[derive(Clone, Debug)]
pub struct AggregateEntry {
    /// The aggregate.
    pub name: AggregateName,
    /// Share of the sum of published values.
    pub value: f64,
    /// Share of the number of publishers (each starts with 1).
    pub ones: f64,
    /// Share of the epoch's unit weight (one node starts with 1).
    pub weight: f64,
    /// Smallest published value heard of.
    pub min: f64,
    /// Largest published value heard of.
    pub max: f64,
}

impl AggregateEntry {
    fn bits(&self) -> [u64; 5] {
        [self.value, self.ones, self.weight, self.min, self.max].map(f64::to_bits)
    }
}

impl PartialEq for AggregateEntry {
    fn eq(&self, other: &AggregateEntry) -> bool {
        self.name == other.name && self.bits() == other.bits()
    }
}

impl Eq for AggregateEntry {}

/// A TCP frame: the content after the length prefix. Every frame kind is one variant, so
/// one decoder reads them all and the receiver routes by variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Full-state exchange of membership (kind 1); the receiver answers with its own
    /// `PushPull` (`join: false`).
    PushPull(PushPull),
    /// One leg of a key-value state exchange (kind 2); answered with a `State` leg.
    State(super::StateSync),
}

/// Full membership state of the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPull {
    /// Set when the sender is joining through the receiver.
    pub join: bool,
    /// Every member the sender knows, itself included (at most
    /// [`super::MAX_MEMBERS_PER_SYNC`]).
    pub members: Vec<MemberRecord>,
}

/// One member in a full-state exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// The member.
    pub name: NodeName,
    /// Its gossip address.
    pub addr: SocketAddr,
    /// Its incarnation.
    pub incarnation: Incarnation,
    /// What the sender believes about it.
    pub state: MemberState,
    /// Its metadata.
    pub metadata: Arc<[u8]>,
}
