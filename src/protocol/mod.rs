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
//! Every component follows one contract:
//!
//! ```text
//! handle(now, input)              a message from the network, another actor, or the user
//! handle_timeout(now)             called at (or after) poll_timeout(); early calls are no-ops
//! poll_output() -> Option<Output> drain until None; each Output names its destination
//! poll_timeout() -> Option<Instant>
//! ```
//!
//! The components of one node are wired in one place, [`node`]: built and seeded together,
//! fed by one inbound path, their outputs routed by type (`Output::To(ComponentInput)` to
//! another component, `Output::Out(Egress)` out of the node). The threaded runtime and the
//! simulator both use it and nothing else.
//!
//! Data path, for one probe round:
//! ```text
//! membership --Probe{ping}--> dissemination --SendTo(bytes, gossip piggybacked, urgent)--> net
//! net --Packet{ack, updates}--> membership --Enqueue(update)--> dissemination
//!                                          --Start/Cancel--> suspicion --Expired--> membership
//!                                          --Event--> dispatcher (user callbacks)
//! ```

mod aggregation;
mod awareness;
mod directory;
mod dissemination;
mod failure_detector;
mod inputs;
mod kv;
mod membership;
mod node;
mod outputs;
mod peers;
mod piggyback;
mod rules;
mod seen;
mod suspicion;
mod table;

pub(crate) use aggregation::{Aggregation, check_value};
pub(crate) use dissemination::Dissemination;
pub(crate) use inputs::{AggregationInput, DisseminationInput, MembershipInput, SuspicionInput};
pub(crate) use kv::{KvState, StateChange, StateConfig, StateInput, check_key, check_value_len};
pub(crate) use membership::Membership;
pub use node::Footprint;
pub(crate) use node::{
    Components, Inbound, Interner, NodeCore, NodeSetup, SharedNames, Unsealed, WALL_ORIGIN_MS,
};
pub(crate) use outputs::{Delivery, NetOutput, Reply};
pub(crate) use suspicion::Suspicion;

use crate::codec::Message;
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
