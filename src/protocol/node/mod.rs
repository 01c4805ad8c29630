//! One node's components, wired together in one place: construction and seeding
//! ([`Components::new`]), the classification of everything that arrives from the network
//! ([`Inbound`]), and the routing of outputs between components ([`NodeCore`]).
//!
//! ```text
//!            datagram / request / response bytes
//!                          |
//!                      Inbound: size, decode, cluster, split by kind
//!                          |  ComponentInput (the variant names the component)
//!         +----------------+--------------+---------------+-------------+
//!         v                v              v               v             v
//!    membership        suspicion    dissemination    aggregation      state
//!         |  Output::To(ComponentInput) -> another component of this node
//!         |  Output::Out(Egress)        -> leaves the node: datagrams, TCP exchanges,
//!         v                                deliveries to the application, replies
//! ```
//!
//! Both drivers use this and nothing else. The threaded runtime takes the five components
//! apart and hosts each on its actor thread: its inboxes receive the `ComponentInput`s the
//! core's [`Inbound`] produces and the `Output::To` of the other actors. Single-threaded
//! drivers (the simulator, the benches, the unit tests' harnesses) hold a whole
//! [`NodeCore`], which routes `Output::To` itself, in order, and hands them only what
//! leaves the node and its next deadline. So the simulator runs the runtime's code,
//! decoding and routing included, by construction.

mod core;
mod edge;
mod footprint;
mod inbound;
mod names;

use std::net::SocketAddr;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(crate) use self::core::{NodeCore, WALL_ORIGIN_MS};
pub(crate) use self::edge::Unsealed;
pub use self::footprint::Footprint;
pub(crate) use self::inbound::Inbound;
pub(crate) use self::names::{Interner, SharedNames};
use super::{Aggregation, Dissemination, KvState, Membership, Suspicion};
use crate::config::Config;
use crate::member::NodeName;
use crate::stats::Counters;
use crate::time::Instant;

/// What a node is made of: everything [`Components::new`] needs.
#[derive(Clone, Debug)]
pub(crate) struct NodeSetup {
    /// Protocol settings (validated).
    pub(crate) config: Config,
    /// This node's name.
    pub(crate) name: NodeName,
    /// The address others reach it at.
    pub(crate) addr: SocketAddr,
    /// Its initial metadata.
    pub(crate) metadata: Arc<[u8]>,
    /// Every random choice of the node derives from this.
    pub(crate) seed: u64,
    /// A number that grows across restarts of the node under the same name (the runtime
    /// passes wall-clock microseconds at start, the simulator virtual microseconds + 1):
    /// the generation of its key-value state, and the base its broadcasts are numbered
    /// from, so peers take neither for an earlier life's.
    pub(crate) generation: u64,
    /// Protocol time at start.
    pub(crate) now: Instant,
    /// Its keys and encryption mode, shared with whoever changes them.
    pub(crate) seal: Arc<crate::seal::SealControl>,
}

/// The five components of one node, constructed and seeded together.
#[derive(Debug)]
pub(crate) struct Components {
    /// Member table, failure detector, push-pull.
    pub(crate) membership: Membership,
    /// Suspicion timers.
    pub(crate) suspicion: Suspicion,
    /// Piggyback queues, packet assembly, user broadcasts.
    pub(crate) dissemination: Dissemination,
    /// Push-sum aggregates.
    pub(crate) aggregation: Aggregation,
    /// The replicated key-value state.
    pub(crate) state: KvState,
}

impl Components {
    /// Builds every component of the node `setup` describes. Each draws its own random
    /// stream from `setup.seed`, in a fixed order (membership, dissemination, aggregation,
    /// state), so one seed gives one node whichever driver runs it.
    pub(crate) fn new(setup: NodeSetup, counters: &Arc<Counters>) -> Components {
        let NodeSetup {
            config,
            name,
            addr,
            metadata,
            seed,
            generation,
            now,
            seal,
        } = setup;
        let mut seeds = ChaCha8Rng::seed_from_u64(seed);
        let mut membership = Membership::new(
            config.clone(),
            name.clone(),
            addr,
            metadata,
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        membership.set_seal_control(seal);
        let peers = membership.peer_view();
        let mut dissemination = Dissemination::new(
            config.clone(),
            name.clone(),
            peers.clone(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        dissemination.number_broadcasts_after(generation);
        let aggregation = Aggregation::new(
            &config,
            name.clone(),
            peers.clone(),
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        let state = KvState::new(
            config.state_config(),
            name,
            generation,
            peers,
            now,
            ChaCha8Rng::from_rng(&mut seeds),
            counters.clone(),
        );
        Components {
            membership,
            suspicion: super::Suspicion::new(),
            dissemination,
            aggregation,
            state,
        }
    }
}
