//! The simulation loop: pops events in order, feeds them to node components, and routes
//! what the components output back into the queue (`routing.rs`), as the runtime's router
//! would. What callers can read lives in `inspect.rs`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::aggregate::Settled;
use super::faults::Fault;
use super::interner::Interner;
use super::invariants::{Invariants, Violation};
use super::network::Network;
use super::node::{Comp, Input, SimNode, Status};
use super::queue::{Event, EventQueue};
use super::state::StateChanged;
use super::trace::Trace;
use super::{NodeId, SimulationBuilder, node_addr, node_name};
use crate::config::Config;
use crate::error::BroadcastError;
use crate::member::NodeName;
use crate::protocol::{Component, DisseminationInput, MembershipInput, Reply, RequestId};
use crate::time::Instant;

/// A user broadcast delivered to a node.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// When.
    pub at: Duration,
    /// The receiving node.
    pub node: NodeId,
    /// The node that broadcast it.
    pub origin: NodeName,
    /// The payload.
    pub payload: Arc<[u8]>,
}

/// Datagram totals over the whole network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkTotals {
    /// Datagrams sent.
    pub datagrams: u64,
    /// Bytes of datagrams sent.
    pub bytes: u64,
    /// Datagrams lost (loss or partition).
    pub lost: u64,
    /// Push-pull exchanges started.
    pub exchanges: u64,
    /// Bytes of push-pull frames sent (both directions).
    pub frame_bytes: u64,
}

pub(super) struct PendingExchange {
    pub(super) requester: usize,
    pub(super) generation: u32,
    pub(super) request: RequestId,
    pub(super) deadline: Instant,
}

/// A running simulation (see the module docs).
pub struct Simulation {
    pub(super) config: Config,
    pub(super) seed: u64,
    pub(super) now: Instant,
    pub(super) queue: EventQueue,
    pub(super) nodes: Vec<SimNode>,
    pub(super) by_addr: HashMap<SocketAddr, usize>,
    pub(super) network: Network,
    pub(super) rng: ChaCha8Rng,
    pub(super) names: Interner,
    pub(super) trace: Trace,
    pub(super) invariants: Invariants,
    pub(super) exchanges: BTreeMap<u64, PendingExchange>,
    pub(super) next_conn: u64,
    pub(super) next_request: RequestId,
    pub(super) replies: BTreeMap<RequestId, Reply>,
    pub(super) deliveries: Vec<Delivered>,
    pub(super) settled: Vec<Settled>,
    pub(super) state_changes: Vec<StateChanged>,
    pub(super) totals: NetworkTotals,
}

impl Simulation {
    /// Starts configuring a simulation.
    pub fn builder() -> SimulationBuilder {
        SimulationBuilder::default()
    }

    pub(super) fn new(b: SimulationBuilder) -> Simulation {
        let mut rng = ChaCha8Rng::seed_from_u64(b.seed);
        let network = Network::new(b.network.clone(), ChaCha8Rng::from_rng(&mut rng));
        let lossless = b.network.loss == 0.0;
        let mut sim = Simulation {
            config: b.config,
            seed: b.seed,
            now: Instant::ZERO,
            queue: EventQueue::default(),
            nodes: Vec::with_capacity(b.nodes),
            by_addr: HashMap::new(),
            network,
            rng,
            names: Interner::new(),
            trace: Trace::new(b.record_trace),
            invariants: Invariants::new(b.invariants, lossless),
            exchanges: BTreeMap::new(),
            next_conn: 0,
            next_request: 0,
            replies: BTreeMap::new(),
            deliveries: Vec::new(),
            settled: Vec::new(),
            state_changes: Vec::new(),
            totals: NetworkTotals::default(),
        };
        for _ in 0..b.nodes {
            sim.spawn_node();
        }
        if b.bootstrapped {
            sim.bootstrap();
        } else {
            let seed = node_addr(NodeId(0));
            for i in 1..b.nodes {
                let at = Instant::ZERO + b.join_spacing * i as u32;
                sim.queue_join(i, seed, at);
            }
        }
        for i in 0..sim.nodes.len() {
            sim.drain(i);
        }
        sim
    }

    pub(super) fn spawn_node(&mut self) -> usize {
        let id = self.nodes.len();
        let name = self
            .names
            .name(&NodeName::new(&node_name(NodeId(id))).unwrap_or_else(|_| unreachable!()));
        let addr = node_addr(NodeId(id));
        let seed = self.rng.random();
        self.nodes
            .push(SimNode::new(&self.config, name, addr, self.now, seed, 0));
        self.by_addr.insert(addr, id);
        id
    }

    /// Every node knows every other as alive, with no gossip; outputs are routed at once
    /// (a setup step, not protocol traffic).
    fn bootstrap(&mut self) {
        let peers: Vec<(NodeName, SocketAddr)> = self
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr))
            .collect();
        let empty = self.names.metadata(&Arc::from(&[][..]));
        for node in &mut self.nodes {
            node.membership.seed_members(self.now, &peers, &empty);
        }
    }

    pub(super) fn queue_join(&mut self, node: usize, seed: SocketAddr, at: Instant) {
        self.next_request += 1;
        let input = MembershipInput::Join {
            request: self.next_request,
            seeds: vec![seed],
        };
        let generation = self.nodes[node].generation;
        self.queue.push(
            at,
            Event::Input {
                node,
                generation,
                input: Input::Membership(input),
            },
        );
    }

    /// Simulated time since the start.
    pub fn now(&self) -> Duration {
        self.now.saturating_since(Instant::ZERO)
    }

    /// The seed this run derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs until `duration` more simulated time has passed, or an invariant breaks.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), Violation> {
        let until = self.now + duration;
        while let Some((at, event)) = self.queue.pop_until(until) {
            self.now = at;
            self.dispatch(event);
            if let Some(violation) = self.invariants.violation.take() {
                return Err(violation);
            }
        }
        self.now = until;
        Ok(())
    }

    /// Applies a fault now.
    pub fn fault(&mut self, fault: Fault) {
        self.apply_fault(fault);
    }

    /// Schedules a fault `after` from now.
    pub fn schedule(&mut self, after: Duration, fault: Fault) {
        self.queue.push(self.now + after, Event::Fault(fault));
    }

    /// Adds a node that joins through a random live node; returns its id.
    pub fn add_node(&mut self) -> NodeId {
        let id = self.spawn_node();
        if let Some(seed) = self.random_live_node(id) {
            self.queue_join(id, self.nodes[seed].addr, self.now);
        }
        self.drain(id);
        NodeId(id)
    }

    /// Broadcasts `payload` from `node` (best effort, as `Node::broadcast`).
    pub fn broadcast(&mut self, node: NodeId, payload: Vec<u8>) -> Result<(), BroadcastError> {
        self.next_request += 1;
        let request = self.next_request;
        let Some(n) = self.nodes.get_mut(node.0) else {
            return Err(BroadcastError::Stopped(payload));
        };
        n.dissemination
            .handle(self.now, DisseminationInput::Broadcast { request, payload });
        self.drain(node.0);
        match self.replies.remove(&request) {
            Some(Reply::Broadcast(result)) => result,
            _ => Err(BroadcastError::Stopped(Vec::new())),
        }
    }

    pub(super) fn random_live_node(&mut self, except: usize) -> Option<usize> {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| i != except && self.nodes[i].status == Status::Up)
            .collect();
        (!live.is_empty()).then(|| live[self.rng.random_range(0..live.len())])
    }
}

// Event dispatch (output routing is in `routing.rs`).
impl Simulation {
    fn node_ready(&mut self, node: usize, generation: u32, event: &mut Option<Event>) -> bool {
        let n = &self.nodes[node];
        if n.generation != generation || n.status == Status::Down {
            return false;
        }
        if let Status::Paused(until) = n.status {
            if until > self.now {
                if let Some(e) = event.take() {
                    self.queue.push(until, e);
                }
                return false;
            }
            self.nodes[node].status = Status::Up;
        }
        true
    }

    fn dispatch(&mut self, event: Event) {
        let (node, generation) = match &event {
            Event::Datagram { to, generation, .. }
            | Event::SyncRequest { to, generation, .. }
            | Event::SyncResponse { to, generation, .. } => (*to, *generation),
            Event::Input {
                node, generation, ..
            }
            | Event::Wake {
                node, generation, ..
            }
            | Event::LeaveDeadline { node, generation } => (*node, *generation),
            Event::SyncTimeout { conn } => return self.exchange_timeout(*conn),
            Event::Fault(_) => {
                if let Event::Fault(fault) = event {
                    self.apply_fault(fault);
                }
                return;
            }
        };
        let mut slot = Some(event);
        if !self.node_ready(node, generation, &mut slot) {
            return;
        }
        let Some(event) = slot else { return };
        let now = self.now;
        let n = &mut self.nodes[node];
        match event {
            Event::Datagram { from, bytes, .. } => {
                n.datagram(now, from, &bytes, &self.config, &mut self.names)
            }
            Event::Input { input, .. } => n.handle(now, input),
            Event::Wake { comp, deadline, .. } => {
                if n.wakes[comp as usize] != Some(deadline) {
                    return;
                }
                n.wakes[comp as usize] = None;
                n.handle_timeout(now, comp);
            }
            Event::SyncRequest { conn, frame, .. } => {
                n.sync_request(now, conn, &frame, &self.config, &mut self.names);
            }
            Event::SyncResponse {
                request, result, ..
            } => n.sync_response(now, request, result, &self.config, &mut self.names),
            Event::LeaveDeadline { .. } => {
                n.status = Status::Down;
                return;
            }
            Event::SyncTimeout { .. } | Event::Fault(_) => return,
        }
        self.drain(node);
    }

    /// Routes every output of `node`'s components, then reschedules its wake-ups.
    pub(super) fn drain(&mut self, node: usize) {
        while let Some(output) = self.nodes[node].poll_output() {
            self.route(node, output);
        }
        self.check_node(node);
        let generation = self.nodes[node].generation;
        let deadlines = self.nodes[node].deadlines();
        for (c, comp) in Comp::ALL.into_iter().enumerate() {
            if deadlines[c] != self.nodes[node].wakes[c] {
                self.nodes[node].wakes[c] = deadlines[c];
                if let Some(deadline) = deadlines[c] {
                    let wake = Event::Wake {
                        node,
                        generation,
                        comp,
                        deadline,
                    };
                    self.queue.push(deadline.max(self.now), wake);
                }
            }
        }
    }

    pub(super) fn input(&mut self, node: usize, input: Input) {
        let generation = self.nodes[node].generation;
        let event = Event::Input {
            node,
            generation,
            input,
        };
        self.queue.push(self.now, event);
    }
}
