//! [`NodeCore`]: a whole node for single-threaded drivers. Every component, the inbound
//! path, and the routing between components; the driver sees only what leaves the node.
//!
//! ```text
//! driver --datagram / request / response / handle(ComponentInput) / handle_timeout--> core
//!   core: Inbound -> component.handle -> Output::To(input) -> queue -> component.handle ...
//!         until no component has anything left for another
//! driver <--poll_output: Egress (Net, Deliver, Reply)-- core,  poll_timeout: next deadline
//! ```
//! Inputs between components are handled in the order they were produced (one FIFO, as
//! the runtime's actors would see them if every thread ran at once), each to the end of
//! its outputs, before the call returns.
//!
//! Its wall clock, for sealing, is protocol time after a fixed origin (a driver may set
//! another, to skew a node's clock), and its nonce prefixes come from its seed: a core is
//! for deterministic drivers, whose nodes have distinct seeds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Components, Inbound, NodeSetup, SharedNames};
use crate::error::ExchangeError;
use crate::protocol::{Component, ComponentInput, ConnId, Egress, ExchangeId, NetOutput, Output};
use crate::seal::PrefixSource;
use crate::stats::Counters;
use crate::time::Instant;

/// One node's components, wired (see the module docs).
#[derive(Debug)]
pub(crate) struct NodeCore {
    components: Components,
    inbound: Inbound,
    counters: Arc<Counters>,
    /// Inputs one component produced for another, not yet handled.
    pending: VecDeque<ComponentInput>,
    /// What leaves the node, for the driver.
    egress: VecDeque<Egress>,
    /// The latest protocol time the driver gave.
    now: Instant,
    /// This node's wall clock at protocol time zero, ms since the Unix epoch.
    wall_origin_ms: u64,
}

/// The wall clock of a core at protocol time zero unless its driver says otherwise:
/// 2026-01-01T00:00:00Z.
pub(crate) const WALL_ORIGIN_MS: u64 = 1_767_225_600_000;

impl NodeCore {
    /// The node `setup` describes; `names`, when given, interns every decoded name.
    pub(crate) fn new(setup: NodeSetup, names: Option<SharedNames>) -> NodeCore {
        let counters = Arc::new(Counters::default());
        // Its own stream, apart from the components' (their draws stay as they were).
        let prefixes = ChaCha8Rng::seed_from_u64(setup.seed ^ 0x5ea1_5ea1_5ea1_5ea1);
        let inbound = Inbound::new(
            &setup.config,
            counters.clone(),
            names,
            setup.seal.clone(),
            PrefixSource::Seeded(Box::new(prefixes)),
        );
        let now = setup.now;
        NodeCore {
            components: Components::new(setup, &counters),
            inbound,
            counters,
            pending: VecDeque::new(),
            egress: VecDeque::new(),
            now,
            wall_origin_ms: WALL_ORIGIN_MS,
        }
    }

    /// Sets this node's wall clock at protocol time zero (ms since the Unix epoch).
    pub(crate) fn set_wall_origin(&mut self, ms: u64) {
        self.wall_origin_ms = ms;
    }

    /// This node's wall clock at `now`, ms since the Unix epoch.
    fn wall_ms(&mut self, now: Instant) -> u64 {
        self.now = self.now.max(now);
        self.wall_origin_ms
            .saturating_add(now.saturating_since(Instant::ZERO).as_millis() as u64)
    }

    /// The components, to inspect.
    pub(crate) fn components(&self) -> &Components {
        &self.components
    }

    /// The components, to set up directly (a simulator's bootstrap, a bench's fixture).
    pub(crate) fn components_mut(&mut self) -> &mut Components {
        &mut self.components
    }

    /// The node's counters.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// A datagram arrived from `from`.
    pub(crate) fn datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let wall_ms = self.wall_ms(now);
        let components = &mut self.components;
        let pending = &mut self.pending;
        let egress = &mut self.egress;
        self.inbound.datagram(from, bytes, wall_ms, |input| {
            deliver(components, pending, egress, now, input);
        });
        self.run(now);
    }

    /// A request arrived on the inbound connection `conn`; an unusable one is counted and
    /// the connection closed ([`NetOutput::Close`]).
    pub(crate) fn request(&mut self, now: Instant, conn: ConnId, frame: &[u8]) {
        let wall_ms = self.wall_ms(now);
        match self.inbound.request(conn, frame, wall_ms) {
            Ok(input) => self.handle(now, input),
            Err(_) => self
                .egress
                .push_back(Egress::Net(NetOutput::Close { conn })),
        }
    }

    /// An exchange this node started ended: the peer's frame, or why there is none.
    pub(crate) fn response(
        &mut self,
        now: Instant,
        exchange: ExchangeId,
        result: Result<Vec<u8>, ExchangeError>,
    ) {
        let wall_ms = self.wall_ms(now);
        let input = self.inbound.response(exchange, result, wall_ms);
        self.handle(now, input);
    }

    /// An input for one component: a command from the application, or an inter-component
    /// message a driver holds back.
    pub(crate) fn handle(&mut self, now: Instant, input: ComponentInput) {
        self.now = self.now.max(now);
        // `run` leaves nothing pending, so this input is the first handled.
        self.pending.push_back(input);
        self.run(now);
    }

    /// Fires every component's due deadlines (calling early does nothing).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let c = &mut self.components;
        fire(&mut c.membership, now);
        fire(&mut c.suspicion, now);
        fire(&mut c.dissemination, now);
        fire(&mut c.aggregation, now);
        fire(&mut c.state, now);
        self.collect();
        self.run(now);
    }

    /// The earliest deadline of any component.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let c = &self.components;
        [
            c.membership.poll_timeout(),
            c.suspicion.poll_timeout(),
            c.dissemination.poll_timeout(),
            c.aggregation.poll_timeout(),
            c.state.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing that leaves the node, until `None`; network outputs sealed as the
    /// node's encryption mode says.
    pub(crate) fn poll_output(&mut self) -> Option<Egress> {
        loop {
            let net = match self.egress.pop_front()? {
                Egress::Net(net) => net,
                other => return Some(other),
            };
            let now = self.now;
            let wall_ms = self.wall_ms(now);
            match self.inbound.outgoing(net, wall_ms) {
                Ok(sealed) => return Some(Egress::Net(sealed)),
                Err(unsealed) => {
                    if let Some((exchange, error)) = unsealed.answer() {
                        self.response(now, exchange, Err(error));
                    }
                }
            }
        }
    }

    /// Handles inputs between components until none is left.
    fn run(&mut self, now: Instant) {
        while let Some(input) = self.pending.pop_front() {
            deliver(
                &mut self.components,
                &mut self.pending,
                &mut self.egress,
                now,
                input,
            );
        }
    }

    /// Sorts what every component has produced into `pending` and `egress`.
    fn collect(&mut self) {
        let c = &mut self.components;
        drain(&mut c.membership, &mut self.pending, &mut self.egress);
        drain(&mut c.suspicion, &mut self.pending, &mut self.egress);
        drain(&mut c.dissemination, &mut self.pending, &mut self.egress);
        drain(&mut c.aggregation, &mut self.pending, &mut self.egress);
        drain(&mut c.state, &mut self.pending, &mut self.egress);
    }
}

/// Hands `input` to its component and sorts that component's outputs.
fn deliver(
    c: &mut Components,
    pending: &mut VecDeque<ComponentInput>,
    egress: &mut VecDeque<Egress>,
    now: Instant,
    input: ComponentInput,
) {
    match input {
        ComponentInput::Membership(i) => feed(&mut c.membership, now, i, pending, egress),
        ComponentInput::Suspicion(i) => feed(&mut c.suspicion, now, i, pending, egress),
        ComponentInput::Dissemination(i) => feed(&mut c.dissemination, now, i, pending, egress),
        ComponentInput::Aggregation(i) => feed(&mut c.aggregation, now, i, pending, egress),
        ComponentInput::State(i) => feed(&mut c.state, now, i, pending, egress),
    }
}

fn feed<C: Component>(
    component: &mut C,
    now: Instant,
    input: C::Input,
    pending: &mut VecDeque<ComponentInput>,
    egress: &mut VecDeque<Egress>,
) {
    component.handle(now, input);
    drain(component, pending, egress);
}

fn fire<C: Component>(component: &mut C, now: Instant) {
    if component.poll_timeout().is_some_and(|at| at <= now) {
        component.handle_timeout(now);
    }
}

fn drain<C: Component>(
    component: &mut C,
    pending: &mut VecDeque<ComponentInput>,
    egress: &mut VecDeque<Egress>,
) {
    while let Some(output) = component.poll_output() {
        match output {
            Output::To(input) => pending.push_back(input),
            Output::Out(out) => egress.push_back(out),
        }
    }
}
