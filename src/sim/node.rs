//! One simulated node: a protocol [`NodeCore`] (the components of a real node, its inbound
//! path and its routing) and what the simulator keeps about the process running it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::control::Answered;
use crate::config::Config;
use crate::member::{Incarnation, NodeName};
use crate::protocol::{Components, NodeCore, NodeSetup, SharedNames};
use crate::seal::SealControl;
use crate::stats::Counters;
use crate::time::Instant;

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
    /// The protocol node.
    pub(crate) core: NodeCore,
    /// Its keys and encryption mode (kept across restarts, as a key file would be).
    pub(crate) seal: Arc<SealControl>,
    /// The wake-up time scheduled for the core's next deadline.
    pub(crate) wake: Option<Instant>,
    /// Highest own incarnation seen in this generation (must never fall).
    pub(crate) incarnation_floor: Incarnation,
    /// Exchanges this process opened that were answered.
    pub(crate) answered: Answered,
}

impl SimNode {
    /// A fresh process named `name` at `addr`, seeded from `seed`; `generation` counts its
    /// restarts, and `seal` holds its keys. Its protocol generation is the virtual time in
    /// microseconds (+ 1), so it grows across restarts as the runtime's wall clock does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        name: NodeName,
        addr: SocketAddr,
        now: Instant,
        seed: u64,
        generation: u32,
        names: &SharedNames,
        seal: Arc<SealControl>,
    ) -> SimNode {
        let setup = NodeSetup {
            config: config.clone(),
            name: name.clone(),
            addr,
            metadata: names.lock().metadata(&Arc::from(&[][..])),
            seed,
            generation: now.as_micros().saturating_add(1),
            now,
            seal: seal.clone(),
        };
        SimNode {
            name,
            addr,
            generation,
            status: Status::Up,
            slow: Duration::ZERO,
            faulted: generation > 0,
            leaving: false,
            core: NodeCore::new(setup, Some(names.clone())),
            seal,
            wake: None,
            incarnation_floor: 0,
            answered: Answered::default(),
        }
    }

    /// The node's components, to inspect.
    pub(crate) fn parts(&self) -> &Components {
        self.core.components()
    }

    /// The node's counters.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        self.core.counters()
    }
}
