//! What each component's inbox carries: the inputs of membership, the suspicion timers,
//! dissemination and aggregation (the key-value state's are in `kv.rs`). Every input that
//! refers to a member carries what makes a late or reordered copy harmless (an
//! incarnation, a timer token, a request or exchange id).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{ConnId, RequestId};
use crate::aggregate::AggregateName;
use crate::codec::{Aggregate, Message, PushPull};
use crate::error::ExchangeError;
use crate::member::{Incarnation, NodeName};

/// Inputs of the membership actor.
#[derive(Debug)]
pub(crate) enum MembershipInput {
    /// Probe and membership messages of one datagram.
    Packet {
        /// The datagram's source address.
        from: SocketAddr,
        /// Its messages other than user broadcasts.
        messages: Vec<Message>,
    },
    /// A peer opened a full-state exchange (inbound TCP).
    SyncRequest {
        /// The connection to answer on.
        conn: ConnId,
        /// The peer's state.
        state: PushPull,
    },
    /// The answer to a full-state exchange this node started.
    SyncResponse {
        /// The exchange: the number in its [`ExchangeId::Membership`](super::ExchangeId::Membership).
        exchange: u64,
        /// The peer's state, or why the exchange failed.
        result: Result<PushPull, ExchangeError>,
    },
    /// A suspicion timer fired.
    SuspicionExpired {
        /// The suspect.
        name: NodeName,
        /// The incarnation it was suspected at.
        incarnation: Incarnation,
        /// The timer's token; a stale token does nothing.
        token: u64,
    },
    /// Join through these seeds; answered with [`Reply::Joined`](super::Reply::Joined).
    Join {
        /// The caller.
        request: RequestId,
        /// Seed addresses, tried in parallel.
        seeds: Vec<SocketAddr>,
    },
    /// Announce a graceful leave; answered with [`Reply::LeaveSent`](super::Reply::LeaveSent).
    Leave {
        /// The caller.
        request: RequestId,
    },
    /// Replace this node's metadata and announce it.
    SetMetadata(Arc<[u8]>),
}

/// Inputs of the suspicion timer actor.
#[derive(Debug)]
pub(crate) enum SuspicionInput {
    /// Start (or restart) the timer for a suspect. It first runs for `max_timeout`;
    /// Lifeguard's confirmations shrink it toward `min_timeout`, always measured from this
    /// input's `now` (THEORY.md §4).
    Start {
        /// The suspect.
        name: NodeName,
        /// The incarnation suspected.
        incarnation: Incarnation,
        /// Echoed back in the expiry so a stale timer does nothing.
        token: u64,
        /// The shortest the timeout can become (after `confirmations` confirmations).
        min_timeout: Duration,
        /// The timeout with no confirmation; equal to `min_timeout` when Lifeguard is off.
        max_timeout: Duration,
        /// Lifeguard's k: independent confirmations that bring the timeout down to
        /// `min_timeout`; 0 keeps it fixed.
        confirmations: u32,
    },
    /// Members other than the suspector independently suspect the same member at the
    /// same incarnation (Lifeguard): the timer may move earlier. Membership alone counts
    /// who confirmed (each member once, at most k); this carries its count so far. Ignored
    /// for another suspicion (token) or a count not above the one held.
    Confirm {
        /// The suspect.
        name: NodeName,
        /// The suspicion's token.
        token: u64,
        /// Distinct confirmations counted so far.
        confirmations: u32,
    },
    /// The suspect refuted, died or left: forget its timer.
    Cancel {
        /// The member.
        name: NodeName,
    },
}

/// Inputs of the dissemination actor.
#[derive(Debug)]
pub(crate) enum DisseminationInput {
    /// Send membership's probe traffic (pings, acks, ping-reqs, nacks, a refutation to an
    /// accuser) to `to`, with pending gossip piggybacked up to the MTU. Urgent: the
    /// runtime takes it before any other input, and its datagram before other datagrams,
    /// so an ack never waits behind broadcasts or key-value traffic.
    Probe {
        /// The destination.
        to: SocketAddr,
        /// The primary messages.
        messages: Vec<Message>,
        /// Pack pending gossip beside them: only for a live member at its recorded
        /// address. An ack to anyone else goes bare, so a spoofed ping cannot make this
        /// node reflect more bytes than it received.
        piggyback: bool,
    },
    /// Send these messages (a key-value leg, a push-sum share) to `to`, with pending
    /// gossip piggybacked up to the MTU.
    Send {
        /// The destination.
        to: SocketAddr,
        /// The primary messages.
        messages: Vec<Message>,
    },
    /// Spread a membership update; a newer one about the same member replaces it.
    Enqueue(Message),
    /// Spread a refutation (an `alive` that overrides a suspicion), retransmitted twice as
    /// often as other updates: a member that misses it declares a live member dead.
    EnqueueUrgent(Message),
    /// The user broadcasts and rumor-mongering feedback (`known`) of one datagram; other
    /// messages are ignored. One input per datagram, so that the duplicates it carried are
    /// answered with one `known` datagram and new broadcasts a flood forwards share
    /// datagrams.
    Packet {
        /// The datagram's source address (where feedback goes).
        from: SocketAddr,
        /// Its user broadcasts and feedback.
        messages: Vec<Message>,
    },
    /// The application broadcasts a payload; answered with [`Reply::Broadcast`](super::Reply::Broadcast).
    Broadcast {
        /// The caller.
        request: RequestId,
        /// The payload.
        payload: Vec<u8>,
    },
    /// Spread this node's `left` update now; answered with [`Reply::LeaveSent`](super::Reply::LeaveSent) once it
    /// has gone out to a few members (or there is no one to tell).
    Leave {
        /// The caller.
        request: RequestId,
        /// The `left` message.
        update: Message,
    },
}

/// Inputs of the aggregation actor (its peers come from the shared peer view).
#[derive(Debug)]
pub(crate) enum AggregationInput {
    /// Push-sum mass from another node.
    Message(Aggregate),
    /// Publish (or change) a local value; answered with [`Reply::Published`](super::Reply::Published).
    Publish {
        /// The caller.
        request: RequestId,
        /// The aggregate.
        name: AggregateName,
        /// The value.
        value: f64,
    },
    /// Stop publishing a value (from the next epoch on).
    Unpublish {
        /// The aggregate.
        name: AggregateName,
    },
}
