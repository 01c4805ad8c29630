//! The simulation loop: pops events in order, feeds each to its node's core, and routes
//! what leaves the node (`routing.rs`): datagrams and exchanges through the network model,
//! deliveries to the trace, replies to the caller. What callers can read lives in
//! `inspect.rs`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::adversary::{Attack, AttackTotals};
use super::aggregate::Settled;
use super::faults::Fault;
use super::inspect::{Delivered, NetworkTotals};
use super::invariants::{Invariants, Violation};
use super::kv::StateChanged;
use super::network::Network;
use super::node::{SimNode, Status};
use super::queue::{Event, EventQueue};
use super::trace::Trace;
use super::{NodeId, SimulationBuilder, node_addr, node_name};
use crate::config::Config;
use crate::error::BroadcastError;
use crate::member::NodeName;
use crate::protocol::{
    ComponentInput, ConnId, DisseminationInput, ExchangeId, Interner, MembershipInput, Reply,
    RequestId, SharedNames,
};
use crate::seal::{EncryptionMode, Key, Keyring, SealControl};
use crate::time::Instant;

pub(super) struct PendingExchange {
    pub(super) requester: usize,
    pub(super) generation: u32,
    pub(super) exchange: ExchangeId,
    pub(super) deadline: Instant,
}

/// A running simulation (see the module docs).
///
/// Its nodes are `NodeId(0)..NodeId(node_count())`. A read that takes a [`NodeId`] panics
/// on an id outside that range, as indexing a slice does (a bug in the caller, not
/// something a run can produce); commands (`broadcast`, `set`, `publish`, faults) refuse
/// or ignore it instead.
pub struct Simulation {
    pub(super) config: Config,
    pub(super) seed: u64,
    pub(super) now: Instant,
    pub(super) queue: EventQueue,
    pub(super) nodes: Vec<SimNode>,
    pub(super) by_addr: HashMap<SocketAddr, usize>,
    pub(super) network: Network,
    pub(super) rng: ChaCha8Rng,
    pub(super) names: SharedNames,
    pub(super) trace: Trace,
    pub(super) invariants: Invariants,
    pub(super) exchanges: BTreeMap<ConnId, PendingExchange>,
    pub(super) next_conn: u64,
    pub(super) last_request: u64,
    pub(super) replies: BTreeMap<RequestId, Reply>,
    pub(super) deliveries: Vec<Delivered>,
    pub(super) settled: Vec<Settled>,
    pub(super) state_changes: Vec<StateChanged>,
    pub(super) totals: NetworkTotals,
    pub(super) attack: Option<Attack>,
    pub(super) attack_totals: AttackTotals,
    /// Until then, the ends of exchanges are lost (`Fault::LoseExchangeAnswers`).
    pub(super) answers_lost_until: Instant,
    /// The key every node starts with, if the cluster is encrypted.
    pub(super) encryption: Option<Key>,
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
            names: Arc::new(Mutex::new(Interner::new())),
            trace: Trace::new(b.record_trace),
            invariants: Invariants::new(b.invariants, lossless),
            exchanges: BTreeMap::new(),
            next_conn: 0,
            last_request: 0,
            replies: BTreeMap::new(),
            deliveries: Vec::new(),
            settled: Vec::new(),
            state_changes: Vec::new(),
            totals: NetworkTotals::default(),
            attack: None,
            attack_totals: AttackTotals::default(),
            answers_lost_until: Instant::ZERO,
            encryption: b.encryption.clone(),
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
        let name = NodeName::new(&node_name(NodeId(id))).unwrap_or_else(|_| unreachable!());
        let name = self.names.lock().name(&name);
        let addr = node_addr(NodeId(id));
        let seed = self.rng.random();
        let keyring = self.encryption.clone().map(Keyring::new);
        let mode = match keyring {
            Some(_) => EncryptionMode::Required,
            None => EncryptionMode::Off,
        };
        let seal = Arc::new(SealControl::new(keyring, mode));
        let node = SimNode::new(
            &self.config,
            name,
            addr,
            self.now,
            seed,
            0,
            &self.names,
            seal,
        );
        self.nodes.push(node);
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
        let empty = self.names.lock().metadata(&Arc::from(&[][..]));
        for node in &mut self.nodes {
            let membership = &mut node.core.components_mut().membership;
            membership.seed_members(self.now, &peers, &empty);
        }
    }

    pub(super) fn queue_join(&mut self, node: usize, seed: SocketAddr, at: Instant) {
        let request = self.next_request();
        let input = ComponentInput::Membership(MembershipInput::Join {
            request,
            seeds: vec![seed],
        });
        let generation = self.nodes[node].generation;
        let event = Event::Input {
            node,
            generation,
            input,
        };
        self.queue.push(at, event);
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

    /// Broadcasts `payload` from `node` (best effort, as `Node::broadcast`); a crashed or
    /// departed node refuses, handing the payload back.
    pub fn broadcast(&mut self, node: NodeId, payload: Vec<u8>) -> Result<(), BroadcastError> {
        if !self
            .nodes
            .get(node.0)
            .is_some_and(|n| n.status != Status::Down)
        {
            return Err(BroadcastError::Stopped(payload));
        }
        let reply = self.command(node, |request| {
            ComponentInput::Dissemination(DisseminationInput::Broadcast { request, payload })
        });
        match reply {
            Some(Reply::Broadcast(result)) => result,
            _ => Err(BroadcastError::Stopped(Vec::new())),
        }
    }

    /// Hands `bytes` to `node` now as a datagram from `from`, whoever that is: it goes
    /// through the node's inbound path as if it came off the socket (a forged, garbled or
    /// foreign datagram, for tests of what a node does with them), when the simulation
    /// next runs. A stopped node, or a paused one until it resumes, does not see it.
    pub fn inject_datagram(&mut self, node: NodeId, from: SocketAddr, bytes: Vec<u8>) {
        let Some(n) = self.nodes.get(node.0) else {
            return;
        };
        let event = Event::Datagram {
            to: node.0,
            generation: n.generation,
            from,
            bytes,
        };
        self.queue.push(self.now, event);
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
        if matches!(event, Event::SyncResponse { .. }) && self.now < self.answers_lost_until {
            return; // lost on its way back (`Fault::LoseExchangeAnswers`)
        }
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
            Event::Attack => return self.attack_tick(),
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
            Event::Datagram { from, bytes, .. } => n.core.datagram(now, from, &bytes),
            Event::Input { input, .. } => n.core.handle(now, input),
            Event::Wake { deadline, .. } => {
                if n.wake != Some(deadline) {
                    return;
                }
                n.wake = None;
                n.core.handle_timeout(now);
            }
            Event::SyncRequest { conn, frame, .. } => n.core.request(now, conn, &frame),
            Event::SyncResponse {
                exchange, result, ..
            } => {
                n.answered.count(exchange, &result);
                n.core.response(now, exchange, result);
            }
            Event::LeaveDeadline { .. } => {
                n.status = Status::Down;
                return;
            }
            Event::SyncTimeout { .. } | Event::Attack | Event::Fault(_) => return,
        }
        self.drain(node);
    }

    /// Routes everything that left `node`, then reschedules its wake-up.
    pub(super) fn drain(&mut self, node: usize) {
        while let Some(egress) = self.nodes[node].core.poll_output() {
            self.route(node, egress);
        }
        self.check_node(node);
        let n = &mut self.nodes[node];
        let deadline = n.core.poll_timeout();
        if deadline != n.wake {
            n.wake = deadline;
            if let Some(deadline) = deadline {
                let generation = n.generation;
                let wake = Event::Wake {
                    node,
                    generation,
                    deadline,
                };
                self.queue.push(deadline.max(self.now), wake);
            }
        }
    }

    /// Feeds a command to one component of `node` now, routes what it causes, and takes
    /// the answer to `request`, if any. A stopped node takes nothing (`None`).
    pub(super) fn command(
        &mut self,
        node: NodeId,
        input: impl FnOnce(RequestId) -> ComponentInput,
    ) -> Option<Reply> {
        if !self
            .nodes
            .get(node.0)
            .is_some_and(|n| n.status != Status::Down)
        {
            return None;
        }
        let request = self.next_request();
        self.nodes[node.0].core.handle(self.now, input(request));
        self.drain(node.0);
        self.replies.remove(&request)
    }

    /// A fresh caller id.
    pub(super) fn next_request(&mut self) -> RequestId {
        self.last_request += 1;
        RequestId(self.last_request)
    }
}
