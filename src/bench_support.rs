//! Entry points for the crate's own criterion benches (`benches/protocol.rs`). Not part of
//! the API: hidden from the docs and free to change.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::codec::{Ack, Alive, Message, decode_packet};
use crate::config::Config;
use crate::member::NodeName;
use crate::protocol::{Component, Dissemination, Membership, MembershipInput, NetOutput, Output};
use crate::stats::Counters;
use crate::time::Instant;

/// `alive` updates for `n` members `m0..m{n-1}` at `incarnation`.
pub fn alive_updates(n: usize, incarnation: u64) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let port = 10_000 + (i % 50_000) as u16;
            Message::Alive(Alive {
                name: NodeName::new(&format!("member-{i}")).unwrap_or_else(|_| unreachable!()),
                incarnation,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                metadata: Arc::from(&b"zone=a"[..]),
            })
        })
        .collect()
}

/// One node's membership and dissemination components, wired by hand.
pub struct NodeCore {
    membership: Membership,
    dissemination: Dissemination,
    now: Instant,
    /// Datagram bytes produced so far.
    pub bytes_out: usize,
}

impl NodeCore {
    /// A node named `me` that knows no one.
    pub fn new() -> NodeCore {
        let config = Config::lan();
        let me = NodeName::new("me").unwrap_or_else(|_| unreachable!());
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let membership = Membership::new(
            config.clone(),
            me.clone(),
            addr,
            Arc::from(&[][..]),
            Instant::ZERO,
            ChaCha8Rng::seed_from_u64(1),
            Arc::new(Counters::default()),
        );
        let peers = membership.peer_view();
        NodeCore {
            membership,
            dissemination: Dissemination::new(
                config,
                me,
                peers,
                Instant::ZERO,
                ChaCha8Rng::seed_from_u64(2),
                Arc::new(Counters::default()),
            ),
            now: Instant::ZERO,
            bytes_out: 0,
        }
    }

    /// Feeds `updates` as one packet's worth of gossip and routes every output.
    pub fn apply(&mut self, updates: Vec<Message>) {
        let from = SocketAddr::from(([127, 0, 0, 1], 2));
        self.membership.handle(
            self.now,
            MembershipInput::Packet {
                from,
                messages: updates,
            },
        );
        self.route();
    }

    /// Advances one protocol period (probe, indirect stage, gossip ticks) and routes every
    /// output, packing datagrams to the MTU.
    pub fn protocol_period(&mut self) {
        let end = self.now + Duration::from_secs(1);
        loop {
            let next = [
                self.membership.poll_timeout(),
                self.dissemination.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= end => {
                    self.now = at;
                    self.membership.handle_timeout(at);
                    self.dissemination.handle_timeout(at);
                    self.route();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn route(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.membership.poll_output() {
                progressed = true;
                if let Output::Dissemination(input) = out {
                    self.dissemination.handle(self.now, input);
                }
            }
            let mut acks = Vec::new();
            while let Some(out) = self.dissemination.poll_output() {
                progressed = true;
                if let Output::Net(NetOutput::SendTo { bytes, .. }) = out {
                    self.bytes_out += bytes.len();
                    acks.extend(acks_for(&bytes));
                }
            }
            // Every member answers its probes, as in a healthy cluster.
            if !acks.is_empty() {
                let from = SocketAddr::from(([127, 0, 0, 1], 2));
                let input = MembershipInput::Packet {
                    from,
                    messages: acks,
                };
                self.membership.handle(self.now, input);
            }
            if !progressed {
                break;
            }
        }
    }
}

/// The acks a healthy target would send for the pings in a datagram.
fn acks_for(datagram: &[u8]) -> Vec<Message> {
    let Ok(packet) = decode_packet(datagram) else {
        return Vec::new();
    };
    packet
        .messages
        .into_iter()
        .filter_map(|m| match m {
            Message::Ping(ping) => Some(Message::Ack(Ack {
                seq: ping.seq,
                source: ping.target,
            })),
            _ => None,
        })
        .collect()
}

impl Default for NodeCore {
    fn default() -> NodeCore {
        NodeCore::new()
    }
}
