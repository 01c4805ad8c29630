//! What leaves a node ([`super::Egress`]): commands for the network, deliveries to the
//! application, and answers to callers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{ConnId, ExchangeId, StateChange};
use crate::aggregate::{AggregateName, Estimate};
use crate::codec::StateKey;
use crate::error::{AggregateError, BroadcastError, JoinError, StateError};
use crate::event::Event;
use crate::member::NodeName;

/// Commands for the network driver.
#[derive(Debug)]
pub(crate) enum NetOutput {
    /// Send one datagram.
    SendTo {
        /// Destination.
        to: SocketAddr,
        /// The encoded packet.
        bytes: Vec<u8>,
        /// It carries probe traffic ([`DisseminationInput::Probe`](super::DisseminationInput::Probe)): sent before other
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
