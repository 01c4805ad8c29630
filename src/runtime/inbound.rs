//! What the reactor hands up: checks each datagram or frame (size, header, cluster),
//! decodes it, and routes its messages to the actor that owns them. Bad input is counted
//! and dropped here, before any actor sees it.
//!
//! ```text
//! datagram -> size ≤ MTU? -> decode -> our cluster? -> user messages, known -> dissemination
//!                                                    -> aggregates     -> aggregation
//!                                                    -> everything else -> membership
//! frame    -> decode -> our cluster? -> push-pull request/response -> membership
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use super::actor::ActorMsg;
use super::queue::QueueSender;
use super::reactor::{ExchangeError, NetCommand, NetSink, ReactorHandle};
use super::router::offer;
use crate::codec::{self, Frame, Message, PushPull};
use crate::protocol::{AggregationInput, DisseminationInput, MembershipInput};
use crate::stats::{Counters, DropReason};

/// The reactor's sink for one node.
pub(crate) struct Inbound {
    pub(crate) cluster: u64,
    pub(crate) mtu: usize,
    pub(crate) membership: QueueSender<ActorMsg<MembershipInput>>,
    pub(crate) dissemination: QueueSender<ActorMsg<DisseminationInput>>,
    pub(crate) aggregation: QueueSender<ActorMsg<AggregationInput>>,
    /// Set once the reactor runs; used to close connections that sent garbage.
    pub(crate) reactor: Arc<OnceLock<ReactorHandle>>,
    pub(crate) counters: Arc<Counters>,
}

impl Inbound {
    fn decode_frame(&self, bytes: &[u8]) -> Result<PushPull, DropReason> {
        let (header, frame) = codec::decode_frame(bytes).map_err(|e| {
            log::debug!("bad frame: {e}");
            e.reason()
        })?;
        if header.cluster != self.cluster {
            return Err(DropReason::WrongCluster);
        }
        match frame {
            Frame::PushPull(state) => Ok(state),
        }
    }

    fn to_membership(&self, input: MembershipInput) {
        if !offer(&self.membership, ActorMsg::Input(input)) {
            self.counters.dropped(DropReason::QueueFull);
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
                    let input = AggregationInput::Message(message);
                    if !offer(&self.aggregation, ActorMsg::Input(input)) {
                        self.counters.dropped(DropReason::QueueFull);
                    }
                }
                other => membership.push(other),
            }
        }
        if !broadcasts.is_empty() {
            let input = DisseminationInput::Packet {
                from,
                messages: broadcasts,
            };
            if !offer(&self.dissemination, ActorMsg::Input(input)) {
                self.counters.dropped(DropReason::QueueFull);
            }
        }
        if !membership.is_empty() {
            self.to_membership(MembershipInput::Packet {
                from,
                messages: membership,
            });
        }
    }

    fn request(&mut self, conn: u64, from: SocketAddr, frame: Vec<u8>) {
        match self.decode_frame(&frame) {
            Ok(state) => self.to_membership(MembershipInput::SyncRequest { conn, state }),
            Err(reason) => {
                log::debug!("dropping push-pull request from {from}: {reason:?}");
                self.counters.dropped(reason);
                if let Some(reactor) = self.reactor.get() {
                    reactor.send(NetCommand::Close { conn });
                }
            }
        }
    }

    fn response(&mut self, request: u64, result: Result<Vec<u8>, ExchangeError>) {
        let result = match result {
            Ok(frame) => self.decode_frame(&frame).map_err(|reason| {
                self.counters.dropped(reason);
                format!("unusable answer ({reason:?})")
            }),
            Err(e) => Err(e.to_string()),
        };
        self.to_membership(MembershipInput::SyncResponse { request, result });
    }
}
