//! The sans-io protocol core: plain state machines that never touch a socket, a thread,
//! the OS clock or a global RNG.
//!
//! Each actor of a node hosts one [`Component`]:
//!
//! | component | actor | owns |
//! |---|---|---|
//! | [`Membership`] | membership | member table, precedence rules, failure detector, push-pull |
//! | [`Suspicion`] | suspicion timers | one deadline per suspected member |
//! | [`Dissemination`] | dissemination queue | piggyback queues, packet assembly, gossip tick, user broadcasts in every [`BroadcastMode`](crate::BroadcastMode) |
//! | [`Aggregation`] | aggregation | push-sum masses, epochs, estimates (sent through dissemination) |
//! | [`KvState`] | state | replicated key-value maps, Scuttlebutt digests and deltas (datagrams through dissemination, or TCP) |
//!
//! Every component follows one contract, and both drivers (the threaded runtime and the
//! deterministic simulator) use nothing else:
//!
//! ```text
//! handle(now, input)              a message from the network, another actor, or the user
//! handle_timeout(now)             called at (or after) poll_timeout(); early calls are no-ops
//! poll_output() -> Option<Output> drain until None; each Output names its destination
//! poll_timeout() -> Option<Instant>
//! ```
//!
//! Data path, for one probe round:
//! ```text
//! membership --Send{ping}--> dissemination --SendTo(bytes, gossip piggybacked)--> net
//! net --Packet{ack, updates}--> membership --Enqueue(update)--> dissemination
//!                                          --Start/Stop--> suspicion --Expired--> membership
//!                                          --Event--> dispatcher (user callbacks)
//! ```

mod aggregation;
mod anti_entropy;
mod awareness;
mod dissemination;
mod failure_detector;
mod membership;
mod node;
mod peers;
mod piggyback;
mod rules;
mod seen;
mod state;
mod suspicion;
mod table;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use aggregation::{Aggregation, check_value};
pub(crate) use dissemination::Dissemination;
pub(crate) use membership::Membership;
pub(crate) use node::{Components, Inbound, Interner, NodeCore, NodeSetup, SharedNames};
pub(crate) use state::{KvState, StateChange, StateConfig, StateInput, check_key, check_value_len};
pub(crate) use suspicion::Suspicion;

use crate::aggregate::{AggregateName, Estimate};
use crate::codec::{Aggregate, Message, PushPull, StateKey};
use crate::error::{AggregateError, BroadcastError, ExchangeError, JoinError, StateError};
use crate::event::Event;
use crate::member::{Incarnation, NodeName};
use crate::time::Instant;

/// A caller waiting for a [`Reply`] (the runtime maps it back to a channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RequestId(pub(crate) u64);

/// An inbound TCP connection that delivered a request; the answer goes back on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ConnId(pub(crate) u64);

/// A TCP exchange this node started. The variant names the component that started it, so
/// its answer (or failure) goes back there; the number is that component's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ExchangeId {
    /// A join or periodic push-pull of membership.
    Membership(u64),
    /// A leg of the key-value state's anti-entropy.
    State(u64),
}

/// One sans-io state machine, hosted by one actor.
pub(crate) trait Component {
    /// What the actor's inbox carries.
    type Input;

    /// Feeds one input.
    fn handle(&mut self, now: Instant, input: Self::Input);
    /// Fires due deadlines; calling it early does nothing.
    fn handle_timeout(&mut self, now: Instant);
    /// The next deadline, if any.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next output, until `None`.
    fn poll_output(&mut self) -> Option<Output>;
}

/// What a component hands back: an input for another component of the same node, or
/// something that leaves the node. The variant is the routing: no driver decides it.
#[derive(Debug)]
pub(crate) enum Output {
    /// To another component of this node (an actor's inbox, or the core's queue).
    To(ComponentInput),
    /// Out of the node: the network, the application, or a waiting caller.
    Out(Egress),
}

/// An input for one component of a node; the variant names the component.
#[derive(Debug)]
pub(crate) enum ComponentInput {
    /// For membership.
    Membership(MembershipInput),
    /// For the suspicion timers.
    Suspicion(SuspicionInput),
    /// For dissemination.
    Dissemination(DisseminationInput),
    /// For aggregation.
    Aggregation(AggregationInput),
    /// For the key-value state.
    State(StateInput),
}

impl ComponentInput {
    /// Whether it is probe traffic, which a driver with queues takes first: an input
    /// carrying a ping, ack, ping-req or nack for membership, or a probe for
    /// dissemination to send. Late probe traffic is how a healthy member gets suspected.
    pub(crate) fn is_urgent(&self) -> bool {
        match self {
            ComponentInput::Membership(MembershipInput::Packet { messages, .. }) => {
                messages.iter().any(Message::is_probe)
            }
            ComponentInput::Dissemination(DisseminationInput::Probe { .. }) => true,
            _ => false,
        }
    }
}

/// What leaves a node.
#[derive(Debug)]
pub(crate) enum Egress {
    /// To the network (the reactor).
    Net(NetOutput),
    /// To the application (the user-callback dispatcher).
    Deliver(Delivery),
    /// To a caller blocked on a request.
    Reply(RequestId, Reply),
}

impl Output {
    /// An answer to the caller `request`.
    pub(crate) fn reply(request: RequestId, reply: Reply) -> Output {
        Output::Out(Egress::Reply(request, reply))
    }
}

impl From<MembershipInput> for Output {
    fn from(input: MembershipInput) -> Output {
        Output::To(ComponentInput::Membership(input))
    }
}

impl From<SuspicionInput> for Output {
    fn from(input: SuspicionInput) -> Output {
        Output::To(ComponentInput::Suspicion(input))
    }
}

impl From<DisseminationInput> for Output {
    fn from(input: DisseminationInput) -> Output {
        Output::To(ComponentInput::Dissemination(input))
    }
}

impl From<NetOutput> for Output {
    fn from(net: NetOutput) -> Output {
        Output::Out(Egress::Net(net))
    }
}

impl From<Delivery> for Output {
    fn from(delivery: Delivery) -> Output {
        Output::Out(Egress::Deliver(delivery))
    }
}

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
        /// The exchange: the number in its [`ExchangeId::Membership`].
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
    /// Join through these seeds; answered with [`Reply::Joined`].
    Join {
        /// The caller.
        request: RequestId,
        /// Seed addresses, tried in parallel.
        seeds: Vec<SocketAddr>,
    },
    /// Announce a graceful leave; answered with [`Reply::LeaveSent`].
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
    /// The application broadcasts a payload; answered with [`Reply::Broadcast`].
    Broadcast {
        /// The caller.
        request: RequestId,
        /// The payload.
        payload: Vec<u8>,
    },
    /// Spread this node's `left` update now; answered with [`Reply::LeaveSent`] once it
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
    /// Publish (or change) a local value; answered with [`Reply::Published`].
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

/// Commands for the network driver.
#[derive(Debug)]
pub(crate) enum NetOutput {
    /// Send one datagram.
    SendTo {
        /// Destination.
        to: SocketAddr,
        /// The encoded packet.
        bytes: Vec<u8>,
        /// It carries probe traffic ([`DisseminationInput::Probe`]): sent before other
        /// datagrams waiting.
        urgent: bool,
    },
    /// Open a TCP exchange: write `frame`, read one frame back. Exactly one answer (the
    /// peer's frame, or why there is none) comes back to the node core, which hands it to
    /// the component `exchange` names.
    Exchange {
        /// Echoed in the answer.
        exchange: ExchangeId,
        /// The peer.
        to: SocketAddr,
        /// The encoded frame (without the length prefix).
        frame: Vec<u8>,
        /// Bound on the whole exchange.
        timeout: Duration,
    },
    /// Answer an inbound exchange, then close the connection once flushed.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The encoded frame.
        frame: Vec<u8>,
    },
    /// Close an inbound connection without answering (its request was unusable).
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// What the dispatcher hands to the application.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A membership event.
    Event(Event),
    /// A user broadcast from another node, delivered once.
    Message {
        /// The node that broadcast it.
        origin: NodeName,
        /// The payload.
        payload: Arc<[u8]>,
    },
    /// An aggregate's estimate settled this epoch (or the epoch ended before it did).
    Estimate {
        /// The aggregate.
        name: AggregateName,
        /// The estimate.
        estimate: Estimate,
    },
    /// A key of another node's map changed here (set, or deleted when the value is `None`).
    StateChange(StateChange),
}

/// Answers to requests.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Join finished: the number of seeds that answered, or why none did.
    Joined(Result<usize, JoinError>),
    /// Broadcast queued, or refused with the payload back.
    Broadcast(Result<(), BroadcastError>),
    /// The `left` update went out.
    LeaveSent,
    /// A value was published, or refused.
    Published(Result<(), AggregateError>),
    /// A state write finished (deleting an absent key is a success that writes nothing),
    /// or why nothing changed.
    StateWritten(Result<(), StateError>),
    /// The value of one key, if it has one here.
    StateValue(Option<Arc<[u8]>>),
    /// Every key of one owner with a value here, in key order.
    StateMap(Vec<(StateKey, Arc<[u8]>)>),
}
