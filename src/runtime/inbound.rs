//! The reactor's sink: what arrives goes through the node core's [`Inbound`] path (checks,
//! decoding, classification), and each input it makes goes to its actor's inbox. Nothing
//! here decodes or routes on its own.

use std::net::SocketAddr;

use super::clock::wall_ms;
use super::reactor::NetSink;
use super::router::Inboxes;
use crate::error::ExchangeError;
use crate::protocol::{ConnId, ExchangeId, Inbound, NetOutput, Unsealed};
use crate::stats::DropReason;

/// The reactor's sink for one node.
pub(crate) struct ReactorSink {
    /// The node core's inbound path.
    pub(crate) inbound: Inbound,
    /// Where its inputs go.
    pub(crate) inboxes: Inboxes,
}

impl NetSink for ReactorSink {
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        let inboxes = &self.inboxes;
        self.inbound
            .datagram(from, bytes, wall_ms(), |input| inboxes.offer(input));
    }

    fn request(&mut self, conn: ConnId, from: SocketAddr, frame: Vec<u8>) -> bool {
        match self.inbound.request(conn, &frame, wall_ms()) {
            Ok(input) => {
                self.inboxes.offer(input);
                true
            }
            Err(reason) => {
                log::debug!("dropping a TCP request from {from}: {reason:?}");
                false
            }
        }
    }

    fn response(&mut self, exchange: ExchangeId, result: Result<Vec<u8>, ExchangeError>) {
        let input = self.inbound.response(exchange, result, wall_ms());
        self.inboxes.offer(input);
    }

    fn admits_frame(&self, head: &[u8]) -> Result<(), DropReason> {
        self.inbound.admits_frame(head)
    }

    fn outgoing(&mut self, net: NetOutput) -> Result<NetOutput, Unsealed> {
        self.inbound.outgoing(net, wall_ms())
    }
}
