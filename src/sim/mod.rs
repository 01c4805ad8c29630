//! A deterministic simulator: every node's protocol components on one thread, with a
//! virtual clock and one seeded event queue for datagrams, TCP exchanges, inter-actor
//! messages and timers alike. A run is a pure function of its seed.
//!
//! It drives the very components the runtime hosts (membership, suspicion timers,
//! dissemination, aggregation, the key-value state) with the same inter-actor messages,
//! and every datagram and frame goes through the real codec.
//!
//! ```
//! use std::time::Duration;
//! use epidemic::sim::{Fault, NodeId, Simulation};
//!
//! let mut sim = Simulation::builder().nodes(8).seed(7).build();
//! sim.run_for(Duration::from_secs(5)).unwrap();
//! assert!(sim.check_converged().is_ok());
//! sim.fault(Fault::Crash(NodeId(3)));
//! sim.run_for(Duration::from_secs(30)).unwrap();
//! assert!(sim.check_converged().is_ok()); // every live node now holds node 3 as failed
//! ```

mod adversary;
mod aggregate;
mod control;
mod engine;
mod faults;
mod inspect;
mod invariants;
mod keys;
mod kv;
mod network;
mod node;
mod queue;
mod routing;
mod trace;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

pub use adversary::{Adversary, AttackTotals, Attacker};
pub use control::Answered;
pub use faults::{Fault, random_faults};
pub use invariants::Violation;
pub use network::NetworkModel;
pub use trace::{EventKind, TraceEvent};

pub use aggregate::{Mass, Settled};
pub use engine::Simulation;
pub use inspect::{Delivered, NetworkTotals};
pub use kv::{StateChanged, StateTraffic};

use crate::config::Config;
pub use crate::protocol::Footprint;
use crate::seal::Key;

/// Index of a simulated node (`0..nodes`); node `i` is named `node-i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Configures a [`Simulation`].
#[derive(Clone, Debug)]
pub struct SimulationBuilder {
    pub(crate) nodes: usize,
    pub(crate) seed: u64,
    pub(crate) config: Config,
    pub(crate) network: NetworkModel,
    pub(crate) bootstrapped: bool,
    pub(crate) join_spacing: Duration,
    pub(crate) record_trace: bool,
    pub(crate) invariants: bool,
    pub(crate) encryption: Option<Key>,
}

impl SimulationBuilder {
    /// Number of nodes (default 10).
    pub fn nodes(mut self, n: usize) -> SimulationBuilder {
        self.nodes = n;
        self
    }

    /// The seed every random choice derives from (default 0).
    pub fn seed(mut self, seed: u64) -> SimulationBuilder {
        self.seed = seed;
        self
    }

    /// Protocol settings of every node (default [`Config::lan`]).
    pub fn config(mut self, config: Config) -> SimulationBuilder {
        self.config = config;
        self
    }

    /// The network model (default [`NetworkModel::lan`]).
    pub fn network(mut self, network: NetworkModel) -> SimulationBuilder {
        self.network = network;
        self
    }

    /// Start with every node already knowing every other as alive (default false: node 0
    /// starts alone and the others join through it, `join_spacing` apart).
    pub fn bootstrapped(mut self, yes: bool) -> SimulationBuilder {
        self.bootstrapped = yes;
        self
    }

    /// Time between successive joins when not bootstrapped (default 1 ms).
    pub fn join_spacing(mut self, spacing: Duration) -> SimulationBuilder {
        self.join_spacing = spacing;
        self
    }

    /// Keep every membership event in memory (default true; the hash is kept either way).
    pub fn record_trace(mut self, yes: bool) -> SimulationBuilder {
        self.record_trace = yes;
        self
    }

    /// Check invariants while running (default true).
    pub fn invariants(mut self, yes: bool) -> SimulationBuilder {
        self.invariants = yes;
        self
    }

    /// Encrypts the cluster: every node starts with a keyring holding `key`, in
    /// [`EncryptionMode::Required`](crate::EncryptionMode::Required). Nonces come from
    /// the run's seed, so the run stays deterministic.
    pub fn encrypted(mut self, key: Key) -> SimulationBuilder {
        self.encryption = Some(key);
        self
    }

    /// Builds the simulation at time zero.
    pub fn build(self) -> Simulation {
        Simulation::new(self)
    }
}

impl Default for SimulationBuilder {
    fn default() -> SimulationBuilder {
        SimulationBuilder {
            nodes: 10,
            seed: 0,
            config: Config::lan(),
            network: NetworkModel::lan(),
            bootstrapped: false,
            join_spacing: Duration::from_millis(1),
            record_trace: true,
            invariants: true,
            encryption: None,
        }
    }
}

/// The name of simulated node `id`.
pub fn node_name(id: NodeId) -> String {
    format!("node-{}", id.0)
}

/// The (virtual) address of simulated node `id`; nothing is ever sent to it.
pub(crate) fn node_addr(id: NodeId) -> SocketAddr {
    let i = id.0 as u32;
    let ip = Ipv4Addr::new(127, (i >> 16) as u8, (i >> 8) as u8, i as u8);
    SocketAddr::from((ip, 7946))
}

/// A seed derived from a test's name, overridden by `EPIDEMIC_SEED` when set, so a failing
/// simulator test reruns exactly with `EPIDEMIC_SEED=<seed> cargo test <name>`.
pub fn test_seed(test_name: &str) -> u64 {
    if let Some(seed) = std::env::var("EPIDEMIC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return seed;
    }
    crate::hash::fnv1a(test_name.as_bytes())
}
