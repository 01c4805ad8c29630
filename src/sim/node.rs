//! One simulated node: the five protocol components of a real node, their wake-up times,
//! and what the reactor's inbound path does (size, decode, cluster check, routing by
//! message type, frame kind and request id).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::interner::Interner;
use super::state::StateTraffic;
use crate::codec::{self, Frame, Header, Message, PushPull, STATE_FRAME_KIND, StateSync};
use crate::config::Config;
use crate::member::{Incarnation, NodeName};
use crate::protocol::{
    Aggregation, AggregationInput, Component, Dissemination, DisseminationInput, KvState,
    Membership, MembershipInput, Output, RequestId, STATE_REQUEST_BASE, StateInput, Suspicion,
    SuspicionInput,
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
    State = 4,
}

impl Comp {
    /// Every component, in wake-up slot order.
    pub(crate) const ALL: [Comp; 5] = [
        Comp::Membership,
        Comp::Suspicion,
        Comp::Dissemination,
        Comp::Aggregation,
        Comp::State,
    ];
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
    pub(crate) state: KvState,
    /// The wake-up time scheduled for each component.
    pub(crate) wakes: [Option<Instant>; 5],
    pub(crate) counters: Arc<Counters>,
    /// What this process sent for the key-value state (the simulator's own count).
    pub(crate) state_traffic: StateTraffic,
    /// Highest own incarnation seen in this generation (must never fall).
    pub(crate) incarnation_floor: Incarnation,
}

impl SimNode {
    /// A fresh process named `name` at `addr`, with components seeded from `seed`; its
    /// key-value state runs under generation `generation + 1`, so a restart's grows.
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
        let mut dissemination = Dissemination::new(
            config.clone(),
            name.clone(),
            membership.peer_view(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        dissemination.number_broadcasts_after(u64::from(generation) << 40);
        let aggregation = Aggregation::new(
            config,
            name.clone(),
            membership.peer_view(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
        );
        let state = KvState::new(
            config.state_config(),
            name.clone(),
            u64::from(generation) + 1,
            config.cluster_id(),
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
            state,
            wakes: [None; 5],
            counters,
            state_traffic: StateTraffic::default(),
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
            Comp::State => self.state.handle_timeout(now),
        }
    }

    /// The next output of any component, membership first.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.membership
            .poll_output()
            .or_else(|| self.suspicion.poll_output())
            .or_else(|| self.dissemination.poll_output())
            .or_else(|| self.aggregation.poll_output())
            .or_else(|| self.state.poll_output())
    }

    /// Each component's next deadline.
    pub(crate) fn deadlines(&self) -> [Option<Instant>; 5] {
        [
            self.membership.poll_timeout(),
            self.suspicion.poll_timeout(),
            self.dissemination.poll_timeout(),
            self.aggregation.poll_timeout(),
            self.state.poll_timeout(),
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
                Message::State(sync) => {
                    self.state.handle(now, StateInput::Message { from, sync });
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

    /// An inbound TCP request, routed by frame kind as the runtime's inbound path does:
    /// state frames to the state component, anything else to membership. A bad frame is
    /// counted and dropped (the requester's exchange then times out).
    pub(crate) fn sync_request(
        &mut self,
        now: Instant,
        conn: u64,
        frame: &[u8],
        config: &Config,
        names: &mut Interner,
    ) {
        Counters::bump(&self.counters.frames_in);
        let kind = match codec::frame_kind(frame) {
            Ok(kind) => kind,
            Err(e) => return self.counters.dropped(e.reason()),
        };
        if kind == STATE_FRAME_KIND {
            if let Ok(sync) = self.state_frame(frame, config, names) {
                self.state
                    .handle(now, StateInput::SyncRequest { conn, sync });
            }
        } else if let Ok(state) = self.frame(frame, config, names) {
            let input = MembershipInput::SyncRequest { conn, state };
            self.membership.handle(now, input);
        }
    }

    /// The answer to an exchange this node started, routed by request id as the runtime
    /// does: ids from [`STATE_REQUEST_BASE`] up belong to the state component.
    pub(crate) fn sync_response(
        &mut self,
        now: Instant,
        request: RequestId,
        result: Result<Vec<u8>, String>,
        config: &Config,
        names: &mut Interner,
    ) {
        if result.is_ok() {
            Counters::bump(&self.counters.frames_in);
        }
        if request >= STATE_REQUEST_BASE {
            let result = result.and_then(|f| self.state_frame(&f, config, names));
            let input = StateInput::SyncResponse { request, result };
            self.state.handle(now, input);
        } else {
            let result = result.and_then(|f| self.frame(&f, config, names));
            let input = MembershipInput::SyncResponse { request, result };
            self.membership.handle(now, input);
        }
    }

    /// Decodes a push-pull frame the way the runtime's inbound path does.
    fn frame(
        &self,
        bytes: &[u8],
        config: &Config,
        names: &mut Interner,
    ) -> Result<PushPull, String> {
        let (header, frame) = codec::decode_frame(bytes).map_err(|e| {
            self.counters.dropped(e.reason());
            e.to_string()
        })?;
        self.check_cluster(&header, config)?;
        let Frame::PushPull(mut state) = frame;
        for record in &mut state.members {
            record.name = names.name(&record.name);
            record.metadata = names.metadata(&record.metadata);
        }
        Ok(state)
    }

    /// Decodes a state frame the way the runtime's inbound path does.
    fn state_frame(
        &self,
        bytes: &[u8],
        config: &Config,
        names: &mut Interner,
    ) -> Result<StateSync, String> {
        let (header, mut sync) = codec::decode_state_frame(bytes).map_err(|e| {
            self.counters.dropped(e.reason());
            e.to_string()
        })?;
        self.check_cluster(&header, config)?;
        names.state(&mut sync);
        Ok(sync)
    }

    fn check_cluster(&self, header: &Header, config: &Config) -> Result<(), String> {
        if header.cluster == config.cluster_id() {
            Ok(())
        } else {
            self.counters.dropped(DropReason::WrongCluster);
            Err("wrong cluster".into())
        }
    }
}
