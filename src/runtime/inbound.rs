//! What the reactor hands up: checks each datagram or frame (size, header, cluster),
//! decodes it, and routes its messages to the actor that owns them. Bad input is counted
//! and dropped here, before any actor sees it.
//!
//! ```text
//! datagram -> size ≤ MTU? -> decode -> our cluster? -> user messages, known -> dissemination
//!                                                    -> aggregates     -> aggregation
//!                                                    -> state          -> state
//!                                                    -> everything else -> membership
//! request  -> frame kind? -> 1 push-pull -> decode -> our cluster? -> membership
//!                         -> 2 state     -> decode -> our cluster? -> state
//! response -> request id ≥ STATE_REQUEST_BASE? -> state frame -> state
//!                                       else  -> push-pull frame -> membership
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use super::actor::ActorMsg;
use super::queue::QueueSender;
use super::reactor::{ExchangeError, NetCommand, NetSink, ReactorHandle};
use super::router::offer;
use crate::codec::{self, Frame, Header, Message, PushPull, STATE_FRAME_KIND, StateSync};
use crate::protocol::{
    AggregationInput, DisseminationInput, MembershipInput, STATE_REQUEST_BASE, StateInput,
};
use crate::stats::{Counters, DropReason};

/// The reactor's sink for one node.
pub(crate) struct Inbound {
    pub(crate) cluster: u64,
    pub(crate) mtu: usize,
    pub(crate) membership: QueueSender<ActorMsg<MembershipInput>>,
    pub(crate) dissemination: QueueSender<ActorMsg<DisseminationInput>>,
    pub(crate) aggregation: QueueSender<ActorMsg<AggregationInput>>,
    pub(crate) state: QueueSender<ActorMsg<StateInput>>,
    /// Set once the reactor runs; used to close connections that sent garbage.
    pub(crate) reactor: Arc<OnceLock<ReactorHandle>>,
    pub(crate) counters: Arc<Counters>,
}

impl Inbound {
    fn decode_push_pull(&self, bytes: &[u8]) -> Result<PushPull, DropReason> {
        let (header, frame) = codec::decode_frame(bytes).map_err(|e| {
            log::debug!("bad frame: {e}");
            e.reason()
        })?;
        self.check_cluster(&header)?;
        match frame {
            Frame::PushPull(state) => Ok(state),
        }
    }

    fn decode_state(&self, bytes: &[u8]) -> Result<StateSync, DropReason> {
        let (header, sync) = codec::decode_state_frame(bytes).map_err(|e| {
            log::debug!("bad state frame: {e}");
            e.reason()
        })?;
        self.check_cluster(&header)?;
        Ok(sync)
    }

    fn check_cluster(&self, header: &Header) -> Result<(), DropReason> {
        if header.cluster == self.cluster {
            Ok(())
        } else {
            Err(DropReason::WrongCluster)
        }
    }

    /// Queues `input` for an actor, counting it dropped when the inbox is full.
    fn offer<I>(&self, inbox: &QueueSender<ActorMsg<I>>, input: I) {
        if !offer(inbox, ActorMsg::Input(input)) {
            self.counters.dropped(DropReason::QueueFull);
        }
    }

    /// Hands an inbound request to its actor, or counts it and closes the connection.
    fn route_request(&self, conn: u64, frame: &[u8]) -> Result<(), DropReason> {
        let kind = codec::frame_kind(frame).map_err(|e| e.reason())?;
        if kind == STATE_FRAME_KIND {
            let sync = self.decode_state(frame)?;
            self.offer(&self.state, StateInput::SyncRequest { conn, sync });
        } else {
            let state = self.decode_push_pull(frame)?;
            self.offer(
                &self.membership,
                MembershipInput::SyncRequest { conn, state },
            );
        }
        Ok(())
    }

    /// The result of an exchange, decoded as `decode` says, or why it is unusable.
    fn decode_answer<T>(
        &self,
        result: Result<Vec<u8>, ExchangeError>,
        decode: impl FnOnce(&Inbound, &[u8]) -> Result<T, DropReason>,
    ) -> Result<T, String> {
        match result {
            Ok(frame) => decode(self, &frame).map_err(|reason| {
                self.counters.dropped(reason);
                format!("unusable answer ({reason:?})")
            }),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl NetSink for Inbound {
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        if bytes.len() > self.mtu {
            self.counters.dropped(DropReason::Oversized);
            return;
        }
        let packet = match codec::decode_packet(bytes) {
            Ok(packet) => packet,
            Err(e) => {
                log::debug!("bad datagram from {from}: {e}");
                self.counters.dropped(e.reason());
                return;
            }
        };
        if packet.header.cluster != self.cluster {
            self.counters.dropped(DropReason::WrongCluster);
            return;
        }
        let mut membership = Vec::with_capacity(packet.messages.len());
        let mut broadcasts = Vec::new();
        for message in packet.messages {
            match message {
                Message::User(_) | Message::Known(_) => broadcasts.push(message),
                Message::Aggregate(message) => {
                    self.offer(&self.aggregation, AggregationInput::Message(message));
                }
                Message::State(sync) => {
                    self.offer(&self.state, StateInput::Message { from, sync });
                }
                other => membership.push(other),
            }
        }
        if !broadcasts.is_empty() {
            let messages = broadcasts;
            self.offer(
                &self.dissemination,
                DisseminationInput::Packet { from, messages },
            );
        }
        if !membership.is_empty() {
            let messages = membership;
            self.offer(&self.membership, MembershipInput::Packet { from, messages });
        }
    }

    fn request(&mut self, conn: u64, from: SocketAddr, frame: Vec<u8>) {
        if let Err(reason) = self.route_request(conn, &frame) {
            log::debug!("dropping a TCP request from {from}: {reason:?}");
            self.counters.dropped(reason);
            if let Some(reactor) = self.reactor.get() {
                reactor.send(NetCommand::Close { conn });
            }
        }
    }

    fn response(&mut self, request: u64, result: Result<Vec<u8>, ExchangeError>) {
        if request >= STATE_REQUEST_BASE {
            let result = self.decode_answer(result, Inbound::decode_state);
            self.offer(&self.state, StateInput::SyncResponse { request, result });
        } else {
            let result = self.decode_answer(result, Inbound::decode_push_pull);
            self.offer(
                &self.membership,
                MembershipInput::SyncResponse { request, result },
            );
        }
    }
}
