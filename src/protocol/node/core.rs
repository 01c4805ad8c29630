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

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use super::{Components, Inbound, NodeSetup, SharedNames};
use crate::error::ExchangeError;
use crate::protocol::{Component, ComponentInput, ConnId, Egress, ExchangeId, NetOutput, Output};
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
}

impl NodeCore {
    /// The node `setup` describes; `names`, when given, interns every decoded name.
    pub(crate) fn new(setup: NodeSetup, names: Option<SharedNames>) -> NodeCore {
        let counters = Arc::new(Counters::default());
        let inbound = Inbound::new(&setup.config, counters.clone(), names);
        NodeCore {
            components: Components::new(setup, &counters),
            inbound,
            counters,
            pending: VecDeque::new(),
            egress: VecDeque::new(),
        }
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
        let components = &mut self.components;
        let pending = &mut self.pending;
        let egress = &mut self.egress;
        self.inbound.datagram(from, bytes, |input| {
            deliver(components, pending, egress, now, input);
        });
        self.run(now);
    }

    /// A request arrived on the inbound connection `conn`; an unusable one is counted and
    /// the connection closed ([`NetOutput::Close`]).
    pub(crate) fn request(&mut self, now: Instant, conn: ConnId, frame: &[u8]) {
        match self.inbound.request(conn, frame) {
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
        let input = self.inbound.response(exchange, result);
        self.handle(now, input);
    }

    /// An input for one component: a command from the application, or an inter-component
    /// message a driver holds back.
    pub(crate) fn handle(&mut self, now: Instant, input: ComponentInput) {
        // `run` leaves nothing pending, so this input is the first handled.
        self.pending.push_back(input);
        self.run(now);
    }

    /// Fires every component's due deadlines (calling early does nothing).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
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

    /// The next thing that leaves the node, until `None`.
    pub(crate) fn poll_output(&mut self) -> Option<Egress> {
        self.egress.pop_front()
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
