//! Entry points for the crate's own criterion benches (`benches/protocol.rs`) and fuzz
//! targets (`fuzz/`, see [`fuzz`]). Not part of the API: hidden from the docs and free to
//! change.

pub mod fuzz;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{Ack, Alive, Message, decode_packet};
use crate::config::Config;
use crate::member::NodeName;
use crate::protocol::{self, ComponentInput, Egress, MembershipInput, NetOutput, NodeSetup};
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

/// One node core (the very wiring the runtime and the simulator use), with a cluster of
/// healthy members around it that answer every probe.
pub struct NodeCore {
    core: protocol::NodeCore,
    now: Instant,
    /// Datagram bytes produced so far.
    pub bytes_out: usize,
}

impl NodeCore {
    /// A node named `me` that knows no one.
    pub fn new() -> NodeCore {
        let setup = NodeSetup {
            config: Config::lan(),
            name: NodeName::new("me").unwrap_or_else(|_| unreachable!()),
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            metadata: Arc::from(&[][..]),
            seed: 1,
            generation: 1,
            now: Instant::ZERO,
            seal: Arc::default(),
        };
        NodeCore {
            core: protocol::NodeCore::new(setup, None),
            now: Instant::ZERO,
            bytes_out: 0,
        }
    }

    /// Feeds `updates` as one packet's worth of gossip and routes every output.
    pub fn apply(&mut self, updates: Vec<Message>) {
        self.core.handle(self.now, membership_packet(updates));
        self.route();
    }

    /// Advances one protocol period (probe, indirect stage, gossip ticks) and routes every
    /// output, packing datagrams to the MTU.
    pub fn protocol_period(&mut self) {
        let end = self.now + Duration::from_secs(1);
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= end) {
            self.now = at;
            self.core.handle_timeout(at);
            self.route();
        }
        self.now = end;
    }

    /// Takes every datagram that left the node; every member answers its probes, as in a
    /// healthy cluster.
    fn route(&mut self) {
        while let Some(egress) = self.core.poll_output() {
            if let Egress::Net(NetOutput::SendTo { bytes, .. }) = egress {
                self.bytes_out += bytes.len();
                let acks = acks_for(&bytes);
                if !acks.is_empty() {
                    self.core.handle(self.now, membership_packet(acks));
                }
            }
        }
    }
}

/// `messages` as membership's share of one datagram from a member.
fn membership_packet(messages: Vec<Message>) -> ComponentInput {
    let from = SocketAddr::from(([127, 0, 0, 1], 2));
    ComponentInput::Membership(MembershipInput::Packet { from, messages })
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
