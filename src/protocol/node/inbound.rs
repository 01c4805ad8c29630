//! Everything that arrives from the network, checked, decoded and split into inputs for the
//! components that own it. Bad input is counted and dropped here, before any component
//! sees it; what is counted here is counted alike by every driver.
//!
//! Sealed bytes are opened first ([`Edge`]): the size check is on what came off the wire,
//! the rest on the plain packet.
//!
//! ```text
//! datagram -> size ≤ MTU? -> open -> decode -> our cluster? -> user messages, known -> dissemination
//!                                                    -> aggregates          -> aggregation
//!                                                    -> state               -> state
//!                                                    -> everything else     -> membership
//! request  -> open -> decode frame -> our cluster? -> PushPull -> membership
//!                                          -> State    -> state
//! response -> open -> ExchangeId::Membership -> a PushPull frame, or why not -> membership
//!             ExchangeId::State      -> a State frame, or why not    -> state
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use super::SharedNames;
use super::edge::{Edge, Unsealed};
use crate::codec::{self, Frame, Message};
use crate::config::Config;
use crate::error::ExchangeError;
use crate::protocol::{
    AggregationInput, ComponentInput, ConnId, DisseminationInput, ExchangeId, MembershipInput,
    NetOutput, StateInput,
};
use crate::seal::{SealControl, Transport};
use crate::stats::{Counters, DropReason};

/// The inbound half of a node core (see the module docs), and its edge to the wire, which
/// also seals what leaves ([`Inbound::outgoing`]).
#[derive(Debug)]
pub(crate) struct Inbound {
    cluster: u64,
    mtu: usize,
    counters: Arc<Counters>,
    names: Option<SharedNames>,
    edge: Edge,
}

impl Inbound {
    /// The inbound path of a node running `config`, sealing as `control` says with nonce
    /// prefixes from `source`; `names`, when given, interns every name decoded (see
    /// [`SharedNames`]).
    pub(crate) fn new(
        config: &Config,
        counters: Arc<Counters>,
        names: Option<SharedNames>,
        control: Arc<SealControl>,
        source: crate::seal::PrefixSource,
    ) -> Inbound {
        Inbound {
            cluster: config.cluster_id(),
            mtu: config.mtu,
            edge: Edge::new(config, control, source, counters.clone()),
            counters,
            names,
        }
    }

    /// A network output of this node, sealed as the mode says, at `wall_ms` (ms since the
    /// Unix epoch on this node's clock).
    pub(crate) fn outgoing(&mut self, net: NetOutput, wall_ms: u64) -> Result<NetOutput, Unsealed> {
        self.edge.seal(net, wall_ms)
    }

    /// A datagram from `from`: each input it makes goes to `deliver`, in the order user
    /// broadcasts and state legs appear, then one input for dissemination (its user
    /// broadcasts and feedback), then one for membership (everything else).
    pub(crate) fn datagram(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        wall_ms: u64,
        mut deliver: impl FnMut(ComponentInput),
    ) {
        Counters::bump(&self.counters.packets_in);
        Counters::add(&self.counters.bytes_in, bytes.len());
        if bytes.len() > self.mtu {
            return self.counters.dropped(DropReason::Oversized);
        }
        let Ok(plain) = self.edge.open(Transport::Datagram, bytes, wall_ms) else {
            return;
        };
        let packet = match codec::decode_packet(&plain) {
            Ok(packet) => packet,
            Err(e) => {
                log::debug!("bad datagram from {from}: {e}");
                return self.counters.dropped(e.reason());
            }
        };
        if packet.header.cluster != self.cluster {
            return self.counters.dropped(DropReason::WrongCluster);
        }
        let mut membership = Vec::with_capacity(packet.messages.len());
        let mut broadcasts = Vec::new();
        for mut message in packet.messages {
            if let Some(names) = &self.names {
                names.lock().message(&mut message);
            }
            match message {
                Message::User(_) | Message::Known(_) => broadcasts.push(message),
                Message::Aggregate(aggregate) => {
                    deliver(ComponentInput::Aggregation(AggregationInput::Message(
                        aggregate,
                    )));
                }
                Message::State(sync) => {
                    deliver(ComponentInput::State(StateInput::Message { from, sync }));
                }
                other => membership.push(other),
            }
        }
        if !broadcasts.is_empty() {
            let messages = broadcasts;
            let packet = DisseminationInput::Packet { from, messages };
            deliver(ComponentInput::Dissemination(packet));
        }
        if !membership.is_empty() {
            let messages = membership;
            deliver(ComponentInput::Membership(MembershipInput::Packet {
                from,
                messages,
            }));
        }
    }

    /// A request that arrived on the inbound connection `conn`: the input for the component
    /// that answers it, or why it is unusable (counted; the driver closes the connection).
    pub(crate) fn request(
        &mut self,
        conn: ConnId,
        frame: &[u8],
        wall_ms: u64,
    ) -> Result<ComponentInput, DropReason> {
        Counters::bump(&self.counters.frames_in);
        let frame = self.edge.open(Transport::Frame, frame, wall_ms)?;
        let input = match self.decode_frame(&frame)? {
            Frame::PushPull(state) => {
                ComponentInput::Membership(MembershipInput::SyncRequest { conn, state })
            }
            Frame::State(sync) => ComponentInput::State(StateInput::SyncRequest { conn, sync }),
        };
        Ok(input)
    }

    /// The end of an exchange this node started: the answer, or why there is none, for the
    /// component that started it. An answer of the wrong kind, another cluster's, or one
    /// that does not decode is counted and handed on as [`ExchangeError::Unusable`].
    pub(crate) fn response(
        &mut self,
        exchange: ExchangeId,
        result: Result<Vec<u8>, ExchangeError>,
        wall_ms: u64,
    ) -> ComponentInput {
        let frame = result.and_then(|bytes| {
            Counters::bump(&self.counters.frames_in);
            let plain = self
                .edge
                .open(Transport::Frame, &bytes, wall_ms)
                .map_err(ExchangeError::Unusable)?;
            self.decode_frame(&plain).map_err(ExchangeError::Unusable)
        });
        match exchange {
            ExchangeId::Membership(exchange) => {
                let result = frame.and_then(|frame| match frame {
                    Frame::PushPull(state) => Ok(state),
                    Frame::State(_) => Err(self.unexpected()),
                });
                ComponentInput::Membership(MembershipInput::SyncResponse { exchange, result })
            }
            ExchangeId::State(exchange) => {
                let result = frame.and_then(|frame| match frame {
                    Frame::State(sync) => Ok(sync),
                    Frame::PushPull(_) => Err(self.unexpected()),
                });
                ComponentInput::State(StateInput::SyncResponse { exchange, result })
            }
        }
    }

    /// Whether a TCP frame that begins with `head` (its first [`codec::FRAME_HEAD_LEN`]
    /// bytes, or the whole frame if shorter) may be read on: a known kind of this
    /// cluster's (of a sealed frame, only the clear header can be checked). Counts why
    /// not; the reader then closes the connection before it buffers the body.
    pub(crate) fn admits_frame(&self, head: &[u8]) -> Result<(), DropReason> {
        let refuse = |reason| {
            self.counters.dropped(reason);
            Err(reason)
        };
        let checked = if Edge::is_sealed(head) {
            let mut header = head.get(..codec::HEADER_LEN).unwrap_or(head).to_vec();
            header[3] = 0;
            codec::decode_header(&header)
        } else {
            codec::check_frame_head(head)
        };
        match checked {
            Ok(header) if header.cluster == self.cluster => Ok(()),
            Ok(_) => refuse(DropReason::WrongCluster),
            Err(e) => {
                log::debug!("bad frame head: {e}");
                refuse(e.reason())
            }
        }
    }

    /// Decodes a frame of this cluster, or counts why not.
    fn decode_frame(&self, bytes: &[u8]) -> Result<Frame, DropReason> {
        let (header, mut frame) = codec::decode_frame(bytes).map_err(|e| {
            log::debug!("bad frame: {e}");
            self.counters.dropped(e.reason());
            e.reason()
        })?;
        if header.cluster != self.cluster {
            self.counters.dropped(DropReason::WrongCluster);
            return Err(DropReason::WrongCluster);
        }
        if let Some(names) = &self.names {
            names.lock().frame(&mut frame);
        }
        Ok(frame)
    }

    /// An answer of the other kind than the exchange asked for: counted as malformed.
    fn unexpected(&self) -> ExchangeError {
        self.counters.dropped(DropReason::Malformed);
        ExchangeError::Unusable(DropReason::Malformed)
    }
}
