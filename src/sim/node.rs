//! One simulated node: the four protocol components of a real node, their wake-up times,
//! and what the reactor's inbound path does (size, decode, cluster check, routing).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::codec::{self, Frame, Message, PushPull};
use crate::config::Config;
use crate::member::{Incarnation, NodeName};
use crate::protocol::{
    Aggregation, AggregationInput, Component, Dissemination, DisseminationInput, Membership,
    MembershipInput, Output, Suspicion, SuspicionInput,
};
use crate::stats::{Counters, DropReason};
use crate::time::Instant;

/// Which component of a node an input or a wake-up is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comp {
    Membership = 0,
    Suspicion = 1,
    Dissemination = 2,
    Aggregation = 3,
}

/// An input for one component (what an actor's inbox carries).
#[derive(Debug)]
pub(crate) enum Input {
    Membership(MembershipInput),
    Suspicion(SuspicionInput),
    Dissemination(DisseminationInput),
}

/// Whether a simulated node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Processing inputs.
    Up,
    /// Processes nothing until then; inputs wait (a GC pause).
    Paused(Instant),
    /// Crashed, or stopped after leaving: inputs are lost.
    Down,
}

/// One simulated node.
pub(crate) struct SimNode {
    pub(crate) name: NodeName,
    pub(crate) addr: SocketAddr,
    /// Bumped on restart; inputs addressed to an older generation are lost.
    pub(crate) generation: u32,
    pub(crate) status: Status,
    /// Extra delay before this node sees each datagram (a slow node).
    pub(crate) slow: Duration,
    /// Ever crashed, paused, slowed or partitioned.
    pub(crate) faulted: bool,
    /// Leaving gracefully: stops once the `left` went out.
    pub(crate) leaving: bool,
    pub(crate) membership: Membership,
    pub(crate) suspicion: Suspicion,
    pub(crate) dissemination: Dissemination,
    pub(crate) aggregation: Aggregation,
    /// The wake-up time scheduled for each component.
    pub(crate) wakes: [Option<Instant>; 4],
    pub(crate) counters: Arc<Counters>,
    /// Highest own incarnation seen in this generation (must never fall).
    pub(crate) incarnation_floor: Incarnation,
}

impl SimNode {
    /// A fresh process named `name` at `addr`, with components seeded from `seed`.
    pub(crate) fn new(
        config: &Config,
        name: NodeName,
        addr: SocketAddr,
        now: Instant,
        seed: u64,
        generation: u32,
    ) -> SimNode {
        let counters = Arc::new(Counters::default());
        let mut seeds = ChaCha8Rng::seed_from_u64(seed);
        let membership = Membership::new(
            config.clone(),
            name.clone(),
            addr,
            Arc::from(&[][..]),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        let dissemination = Dissemination::new(
            config.clone(),
            name.clone(),
            membership.peer_view(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        let aggregation = Aggregation::new(
            config,
            name.clone(),
            membership.peer_view(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
        );
        SimNode {
            name,
            addr,
            generation,
            status: Status::Up,
            slow: Duration::ZERO,
            faulted: generation > 0,
            leaving: false,
            membership,
            suspicion: Suspicion::new(),
            dissemination,
            aggregation,
            wakes: [None; 4],
            counters,
            incarnation_floor: 0,
        }
    }

    /// Feeds one input to its component.
    pub(crate) fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Membership(i) => self.membership.handle(now, i),
            Input::Suspicion(i) => self.suspicion.handle(now, i),
            Input::Dissemination(i) => self.dissemination.handle(now, i),
        }
    }

    /// Fires a component's due deadlines.
    pub(crate) fn handle_timeout(&mut self, now: Instant, comp: Comp) {
        match comp {
            Comp::Membership => self.membership.handle_timeout(now),
            Comp::Suspicion => self.suspicion.handle_timeout(now),
            Comp::Dissemination => self.dissemination.handle_timeout(now),
            Comp::Aggregation => self.aggregation.handle_timeout(now),
        }
    }

    /// The next output of any component, membership first.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.membership
            .poll_output()
            .or_else(|| self.suspicion.poll_output())
            .or_else(|| self.dissemination.poll_output())
            .or_else(|| self.aggregation.poll_output())
    }

    /// Each component's next deadline.
    pub(crate) fn deadlines(&self) -> [Option<Instant>; 4] {
        [
            self.membership.poll_timeout(),
            self.suspicion.poll_timeout(),
            self.dissemination.poll_timeout(),
            self.aggregation.poll_timeout(),
        ]
    }

    /// What the reactor's inbound path does with a datagram: check, decode, route.
    pub(crate) fn datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        config: &Config,
        names: &mut Interner,
    ) {
        Counters::bump(&self.counters.packets_in);
        if bytes.len() > config.mtu {
            self.counters.dropped(DropReason::Oversized);
            return;
        }
        let packet = match codec::decode_packet(bytes) {
            Ok(packet) => packet,
            Err(e) => return self.counters.dropped(e.reason()),
        };
        if packet.header.cluster != config.cluster_id() {
            return self.counters.dropped(DropReason::WrongCluster);
        }
        let mut rest = Vec::with_capacity(packet.messages.len());
        let mut broadcasts = Vec::new();
        for mut message in packet.messages {
            names.message(&mut message);
            match message {
                Message::User(_) | Message::Known(_) => broadcasts.push(message),
                Message::Aggregate(aggregate) => {
                    self.aggregation
                        .handle(now, AggregationInput::Message(aggregate));
                }
                other => rest.push(other),
            }
        }
        if !broadcasts.is_empty() {
            let input = DisseminationInput::Packet {
                from,
                messages: broadcasts,
            };
            self.dissemination.handle(now, input);
        }
        if !rest.is_empty() {
            let input = MembershipInput::Packet {
                from,
                messages: rest,
            };
            self.membership.handle(now, input);
        }
    }

    /// Decodes a push-pull frame the way the runtime's inbound path does.
    pub(crate) fn frame(
        &self,
        bytes: &[u8],
        config: &Config,
        names: &mut Interner,
    ) -> Result<PushPull, String> {
        let (header, frame) = codec::decode_frame(bytes).map_err(|e| {
            self.counters.dropped(e.reason());
            e.to_string()
        })?;
        if header.cluster != config.cluster_id() {
            self.counters.dropped(DropReason::WrongCluster);
            return Err("wrong cluster".into());
        }
        let Frame::PushPull(mut state) = frame;
        for record in &mut state.members {
            record.name = names.name(&record.name);
            record.metadata = names.metadata(&record.metadata);
        }
        Ok(state)
    }
}

/// Shares one allocation per distinct name (and for empty metadata) across every node of
/// a simulation: decoding creates fresh strings, and 10,000 tables of 10,000 members
/// must not hold 10⁸ copies.
#[derive(Debug)]
pub(crate) struct Interner {
    names: HashSet<NodeName>,
    empty: Arc<[u8]>,
}

impl Interner {
    /// An empty interner.
    pub(crate) fn new() -> Interner {
        Interner {
            names: HashSet::new(),
            empty: Arc::from(&[][..]),
        }
    }

    /// The shared copy of `name`.
    pub(crate) fn name(&mut self, name: &NodeName) -> NodeName {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        self.names.insert(name.clone());
        name.clone()
    }

    /// The shared copy of empty metadata, or `metadata` itself.
    pub(crate) fn metadata(&self, metadata: &Arc<[u8]>) -> Arc<[u8]> {
        if metadata.is_empty() {
            self.empty.clone()
        } else {
            metadata.clone()
        }
    }

    /// Interns every name in a message.
    pub(crate) fn message(&mut self, message: &mut Message) {
        match message {
            Message::Ping(m) => {
                m.target = self.name(&m.target);
                m.source = self.name(&m.source);
            }
            Message::PingReq(m) => {
                m.target = self.name(&m.target);
                m.source = self.name(&m.source);
            }
            Message::Ack(m) => m.source = self.name(&m.source),
            Message::Nack(m) => m.source = self.name(&m.source),
            Message::Alive(m) => {
                m.name = self.name(&m.name);
                m.metadata = self.metadata(&m.metadata);
            }
            Message::Suspect(m) => {
                m.name = self.name(&m.name);
                m.from = self.name(&m.from);
            }
            Message::Dead(m) => {
                m.name = self.name(&m.name);
                m.from = self.name(&m.from);
            }
            Message::Left(m) => m.name = self.name(&m.name),
            Message::User(m) => m.origin = self.name(&m.origin),
            Message::Known(m) => {
                for (origin, _) in &mut m.ids {
                    *origin = self.name(origin);
                }
            }
            Message::Aggregate(_) | Message::State(_) => {}
        }
    }
}
