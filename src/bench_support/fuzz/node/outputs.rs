//! The `node` target's checks on the node itself: everything it sends is routed and
//! checked (sealed and authentic while the mode seals, this cluster's, within the MTU or
//! the frame limit, no amplification), and its invariants hold after every op.

use std::net::SocketAddr;

use super::{FuzzNode, remember};
use crate::codec::{MAX_FRAME_LEN, Message, decode_frame, decode_packet};
use crate::member::MemberState;
use crate::protocol::{Egress, NetOutput};
use crate::seal::Transport;

impl FuzzNode {
    /// Takes everything that left the node: each datagram must open (while the mode
    /// seals), decode as this cluster's and fit the MTU, each frame must open, decode and
    /// fit the frame limit. Returns the datagram bytes sent to `to`, as sent and before
    /// sealing.
    pub(super) fn route(&mut self, to: Option<SocketAddr>) -> (usize, usize) {
        let cluster = self.config.cluster_id();
        let mut sent = (0, 0);
        while let Some(egress) = self.core.poll_output() {
            let Egress::Net(net) = egress else {
                continue;
            };
            match net {
                NetOutput::SendTo {
                    to: dest, bytes, ..
                } => {
                    assert!(bytes.len() <= self.config.mtu, "a datagram over the MTU");
                    let wire = bytes.len();
                    let bytes = self.unseal(Transport::Datagram, bytes);
                    let packet = decode_packet(&bytes).unwrap_or_else(|e| panic!("sent {e}"));
                    assert_eq!(packet.header.cluster, cluster, "sent another cluster's");
                    for message in &packet.messages {
                        if let Message::Ping(p) = message {
                            remember(&mut self.seqs, p.seq);
                        } else if let Message::PingReq(p) = message {
                            remember(&mut self.seqs, p.seq);
                        }
                    }
                    if Some(dest) == to {
                        sent = (sent.0 + wire, sent.1 + bytes.len());
                    }
                }
                NetOutput::Exchange {
                    exchange, frame, ..
                } => {
                    check_frame(&self.unseal(Transport::Frame, frame), cluster);
                    remember(&mut self.exchanges, exchange);
                }
                NetOutput::Reply { frame, .. } => {
                    check_frame(&self.unseal(Transport::Frame, frame), cluster);
                }
                NetOutput::Close { .. } => {}
            }
        }
        sent
    }

    /// The invariants that hold after any input.
    pub(super) fn check(&mut self) {
        let c = self.core.components();
        let members = c.membership.members();
        assert!(
            members.len() <= self.config.max_members,
            "table over its bound"
        );
        assert!(
            c.suspicion.len() <= self.config.max_members,
            "too many timers"
        );
        let incarnation = c.membership.local_incarnation();
        assert!(incarnation >= self.incarnation, "own incarnation fell");
        self.incarnation = incarnation;
        let me = c.membership.state_of(&self.cast.me.0).map(|(s, _)| s);
        assert_eq!(
            me,
            Some(MemberState::Alive),
            "the node no longer sees itself alive"
        );
        let (queued, user) = c.dissemination.queue_lens();
        let (max_queued, max_user) = c.dissemination.queue_bounds();
        assert!(
            queued <= max_queued && user <= max_user,
            "gossip queues over bound"
        );
    }
}

/// A frame the node sent must decode as this cluster's, within the frame limit.
fn check_frame(frame: &[u8], cluster: u64) {
    assert!(frame.len() <= MAX_FRAME_LEN, "a frame over the limit");
    let (header, _) = decode_frame(frame).unwrap_or_else(|e| panic!("sent a bad frame: {e}"));
    assert_eq!(header.cluster, cluster, "sent another cluster's frame");
}
