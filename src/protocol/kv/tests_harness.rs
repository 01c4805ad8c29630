//! The unit tests' harness: `KvState` components alone, with explicit `now` and their
//! own peer lists. Every leg is encoded with the real codec and taken in through the node
//! core's inbound path (`Inbound`), so nothing here decodes or classifies on its own; the
//! harness stands in for the network and for dissemination's packing.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::time::Duration;

use rand::SeedableRng;

use super::*;
use crate::codec::PacketWriter;
use crate::config::Config;
use crate::protocol::peers::Peer;
use crate::protocol::{ComponentInput, ConnId, Egress, Inbound};

/// The harness cluster's id (`Config::lan()`'s).
pub(super) fn cluster() -> u64 {
    Config::lan().cluster_id()
}

/// The node core's inbound path, for a node with this MTU.
fn inbound(mtu: usize) -> Inbound {
    let mut config = Config::lan();
    config.mtu = mtu;
    // Plaintext: the harness tests the state component, not sealing.
    let prefixes = crate::seal::PrefixSource::Os;
    Inbound::new(
        &config,
        Arc::new(Counters::default()),
        None,
        Arc::default(),
        prefixes,
    )
}

pub(super) fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

pub(super) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 1000 + u16::try_from(i).unwrap()))
}

pub(super) fn config(mode: StateMode) -> StateConfig {
    StateConfig {
        cluster: cluster(),
        mode,
        ..StateConfig::default()
    }
}

/// Components wired by hand: every output is encoded, checked against its budget,
/// decoded and handed to its destination, until nothing moves.
pub(super) struct Net {
    pub(super) nodes: Vec<KvState>,
    /// Each node's live peers.
    pub(super) views: Vec<PeerView>,
    /// A cut node sends and receives nothing (its exchanges fail).
    pub(super) cut: Vec<bool>,
    pub(super) now: Instant,
    /// Every change event seen, per node.
    pub(super) changes: Vec<Vec<StateChange>>,
    /// Largest datagram and frame seen.
    pub(super) largest: (usize, usize),
    pub(super) tcp_exchanges: usize,
    /// Datagrams and TCP exchanges sent, in all.
    pub(super) sent: usize,
}

impl Net {
    /// `n` components named n0.., all peers of each other, generation 1.
    pub(super) fn new(n: usize, config: &StateConfig, seed: u64) -> Net {
        let mut views = Vec::new();
        let nodes = (0..n)
            .map(|i| {
                let rng = ChaCha8Rng::seed_from_u64(seed * 1000 + i as u64);
                let local = name(&format!("n{i}"));
                let view = PeerView::new();
                views.push(view.clone());
                let counters = Arc::new(Counters::default());
                KvState::new(config.clone(), local, 1, view, Instant::ZERO, rng, counters)
            })
            .collect();
        let mut net = Net {
            nodes,
            views,
            cut: vec![false; n],
            now: Instant::ZERO,
            changes: vec![Vec::new(); n],
            largest: (0, 0),
            tcp_exchanges: 0,
            sent: 0,
        };
        for i in 0..n {
            for j in (0..n).filter(|j| *j != i) {
                net.link(i, j);
            }
        }
        net
    }

    /// Makes `j` a live peer of `i`.
    pub(super) fn link(&mut self, i: usize, j: usize) {
        self.views[i].push(Peer {
            name: name(&format!("n{j}")),
            addr: addr(j),
        });
    }

    /// Every node stops exchanging with every other (their state is kept), though all
    /// stay members each knows of: as if each held the others down, gossiped to no more.
    pub(super) fn isolate(&mut self) {
        let n = self.views.len();
        for (i, view) in self.views.iter().enumerate() {
            view.mark_all_dead();
            for j in (0..n).filter(|j| *j != i) {
                view.went_down(name(&format!("n{j}")), addr(j), Instant::ZERO);
            }
        }
    }

    /// Advances one interval: every node's round, then every message until quiet.
    pub(super) fn round(&mut self) {
        self.now = self.now + Duration::from_secs(1);
        let mut queue = VecDeque::new();
        for i in 0..self.nodes.len() {
            self.nodes[i].handle_timeout(self.now);
            self.drain(i, &mut queue);
        }
        while let Some((from, output)) = queue.pop_front() {
            self.deliver(from, output, &mut queue);
        }
    }

    fn drain(&mut self, i: usize, queue: &mut VecDeque<(usize, Output)>) {
        while let Some(o) = self.nodes[i].poll_output() {
            match o {
                Output::Out(Egress::Deliver(Delivery::StateChange(c))) => self.changes[i].push(c),
                other => queue.push_back((i, other)),
            }
        }
    }

    /// Hands one output of `from` on: datagrams and exchanges go through the real codec
    /// and the node core's inbound path (`Inbound`), as in every driver.
    fn deliver(&mut self, from: usize, output: Output, queue: &mut VecDeque<(usize, Output)>) {
        let now = self.now;
        let mtu = self.nodes[from].config.mtu;
        let max_frame = self.nodes[from].config.max_sync_frame;
        match output {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Send {
                to,
                messages,
            })) => {
                let header = Header {
                    cluster: cluster(),
                    flags: 0,
                };
                let mut w = PacketWriter::new(&header, mtu);
                for m in &messages {
                    assert!(w.push(m), "a state message must fit one datagram");
                }
                self.sent += 1;
                let bytes = w.finish();
                self.largest.0 = self.largest.0.max(bytes.len());
                let to = self.index(to);
                if self.cut[from] || self.cut[to] {
                    return;
                }
                let mut inputs = Vec::new();
                inbound(mtu).datagram(addr(from), &bytes, 0, |input| inputs.push(input));
                for input in inputs {
                    let ComponentInput::State(input) = input else {
                        panic!("only state messages expected")
                    };
                    self.nodes[to].handle(now, input);
                }
                self.drain(to, queue);
            }
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange,
                to,
                frame,
                ..
            })) => {
                self.tcp_exchanges += 1;
                self.sent += 1;
                assert!(frame.len() <= max_frame);
                self.largest.1 = self.largest.1.max(frame.len());
                let to = self.index(to);
                let result = if self.cut[from] || self.cut[to] {
                    Err(ExchangeError::Timeout)
                } else {
                    let conn = ConnId(1);
                    let Ok(ComponentInput::State(request)) = inbound(mtu).request(conn, &frame, 0)
                    else {
                        panic!("a state request expected")
                    };
                    self.nodes[to].handle(now, request);
                    let mut answer = None;
                    while let Some(o) = self.nodes[to].poll_output() {
                        match o {
                            Output::Out(Egress::Net(NetOutput::Reply {
                                conn: ConnId(1),
                                frame,
                            })) => {
                                assert!(frame.len() <= max_frame);
                                answer = Some(frame);
                            }
                            Output::Out(Egress::Deliver(Delivery::StateChange(c))) => {
                                self.changes[to].push(c)
                            }
                            other => queue.push_back((to, other)),
                        }
                    }
                    self.drain(to, queue);
                    answer.ok_or(ExchangeError::Closed)
                };
                let ComponentInput::State(answer) = inbound(mtu).response(exchange, result, 0)
                else {
                    panic!("the answer goes back to the state")
                };
                self.nodes[from].handle(now, answer);
                self.drain(from, queue);
            }
            // Gossip ("state is in use"): a rumor that reaches every other node, as
            // dissemination's would within a few gossip intervals.
            Output::To(ComponentInput::Dissemination(DisseminationInput::Enqueue(message))) => {
                for to in (0..self.nodes.len()).filter(|&j| j != from) {
                    let messages = vec![message.clone()];
                    let send = DisseminationInput::Send {
                        to: addr(to),
                        messages,
                    };
                    queue.push_back((from, Output::To(ComponentInput::Dissemination(send))));
                }
            }
            other => panic!("unexpected output {other:?}"),
        }
    }

    fn index(&self, to: SocketAddr) -> usize {
        usize::from(to.port() - 1000)
    }

    /// Whether every node's digest equals every other's (owners that never wrote are
    /// not held by others: there is nothing to hold).
    pub(super) fn converged(&self) -> bool {
        let digest = |n: &KvState| -> Vec<StateDigest> {
            n.digest()
                .into_iter()
                .filter(|d| d.max_version > 0)
                .collect()
        };
        let first = digest(&self.nodes[0]);
        self.nodes.iter().all(|n| digest(n) == first)
    }

    /// Rounds until converged (at most `limit`).
    pub(super) fn rounds_to_converge(&mut self, limit: u32) -> u32 {
        for r in 1..=limit {
            self.round();
            if self.converged() {
                return r;
            }
        }
        panic!("no convergence within {limit} rounds");
    }

    pub(super) fn value(&self, at: usize, owner: usize, key: &str) -> Option<Vec<u8>> {
        let owner = name(&format!("n{owner}"));
        self.nodes[at].get(&owner, key).map(|v| v.to_vec())
    }
}

pub(super) fn max_of(node: &KvState, owner: &str) -> u64 {
    let owner = name(owner);
    node.digest()
        .iter()
        .find(|d| d.owner == owner)
        .map_or(0, |d| d.max_version)
}
