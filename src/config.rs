//! Protocol settings, with presets for a LAN, a WAN and a single machine. Validated once,
//! when the node starts.

mod kv;
mod validate;

use std::time::Duration;

pub use self::kv::StateMode;
pub use self::validate::ConfigError;

mod broadcast;

pub use broadcast::BroadcastMode;
pub(crate) use broadcast::Rumor;

/// Settings of one node. Every node of a cluster should use the same values.
///
/// Start from a preset and adjust fields:
/// ```
/// let mut config = epidemic::Config::lan();
/// config.cluster = "payments".into();
/// config.probe_interval = std::time::Duration::from_millis(500);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Cluster name. Packets from a cluster with another name are dropped, so two clusters
    /// sharing addresses never merge.
    pub cluster: String,
    /// How often this node probes one member (SWIM's protocol period).
    pub probe_interval: Duration,
    /// How long to wait for a direct ack before asking helpers (must be below the interval).
    pub probe_timeout: Duration,
    /// Helpers asked to probe indirectly (SWIM's k).
    pub indirect_checks: usize,
    /// Suspicion timeout = `suspicion_mult × max(1, log10 N) × probe_interval`: the whole
    /// timeout in plain SWIM, the shortest one with Lifeguard (reached after
    /// `suspicion_mult − 2` independent confirmations).
    pub suspicion_mult: u32,
    /// Lifeguard (Dadgar et al. 2017, as in HashiCorp memberlist): local health scaling of
    /// the probe period, nacks from ping-req helpers, suspicion timeouts that shrink with
    /// independent confirmations, and telling a suspect first when probing it. Off, the
    /// node runs plain SWIM with suspicion.
    pub lifeguard: bool,
    /// Lifeguard's highest local health score: a node in trouble stretches its probe
    /// interval and timeout up to `awareness_max + 1` times. 0 disables the scaling.
    pub awareness_max: u32,
    /// Lifeguard's longest suspicion timeout, as a multiple of the shortest (memberlist's
    /// `SuspicionMaxTimeoutMult`); a suspicion nobody confirms runs this long.
    pub suspicion_max_mult: u32,
    /// Each update is piggybacked `retransmit_mult × ceil(log10(N + 1))` times.
    pub retransmit_mult: u32,
    /// How user broadcasts travel: rumor mongering (the default, pushed to `gossip_nodes`
    /// members per round and sent `8 × ceil(log10(N + 1))` times, more than membership
    /// updates because broadcasts have no anti-entropy backstop), with feedback, or one
    /// of two direct baselines. See [`BroadcastMode`] for what each costs.
    pub broadcast_mode: BroadcastMode,
    /// How often pending gossip is pushed even when no probe is due.
    pub gossip_interval: Duration,
    /// Members sent pending gossip each gossip interval.
    pub gossip_nodes: usize,
    /// How long a dead member still receives gossip (so a false death can be refuted).
    pub gossip_to_the_dead: Duration,
    /// Base interval of the periodic full-state (push-pull) exchange; scaled up with N
    /// above 32 members, as memberlist does.
    pub push_pull_interval: Duration,
    /// Bound on one TCP exchange (connect, write, read).
    pub tcp_timeout: Duration,
    /// Largest datagram sent or accepted, in bytes (512..=65,000).
    pub mtu: usize,
    /// Dead and left members are forgotten this long after their last change.
    pub reap_after: Duration,
    /// Most members this node holds, itself included. A newcomer beyond it takes the place
    /// of the member dead or departed the longest (forgotten early, as reaping would
    /// later), or is refused if every member held is alive or suspect (counted in
    /// `Stats::refused_members`); the live members held are never affected. Bounds what
    /// forged `alive`s can make a node hold.
    pub max_members: usize,
    /// Largest user broadcast payload; must fit in one datagram.
    pub max_broadcast_bytes: usize,
    /// Broadcasts waiting to be spread, at most.
    pub broadcast_queue: usize,
    /// Events and messages waiting for user callbacks, at most; beyond it they are dropped
    /// and counted in `Stats::events_dropped`.
    pub dispatcher_queue: usize,
    /// How often a node hands half of its push-sum mass on (one aggregation round).
    pub aggregation_interval: Duration,
    /// Rounds per aggregation epoch (at least 8): aggregates restart from the local values
    /// this often, so crashes, joins and changed values show in the next epoch's estimates.
    pub aggregation_epoch_rounds: u32,
    /// Members the half that leaves a node each round is split between: 1 (classic
    /// push-sum), 2 or 4 (faster; shares stay exact in binary floating point).
    pub aggregation_fanout: usize,
    /// Which way the replicated key-value state flows in each exchange (see
    /// [`StateMode`]). A node that holds no state sends nothing for it.
    pub state_mode: StateMode,
    /// How often a node that holds state reconciles it with `state_fanout` random members.
    pub state_interval: Duration,
    /// Members contacted per state interval.
    pub state_fanout: usize,
    /// Most keys with a value one node may own ([`crate::NodeHandle::set`] refuses more).
    pub state_max_keys: usize,
    /// Largest value of a key, in bytes (at most [`crate::codec::MAX_STATE_VALUE_LEN`]).
    /// Exchanges that do not fit one datagram go over TCP, bounded by `tcp_timeout`.
    pub state_max_value_len: usize,
    /// How long a deleted key's tombstone is kept (so the deletion reaches every replica)
    /// before it is collected. A replica partitioned for longer re-copies the owner's map.
    pub state_tombstone_grace: Duration,
    /// How far the time a member sealed a packet at may be from this node's clock before
    /// the packet is refused as stale ([`crate::Stats::dropped_stale`]): the clock skew
    /// tolerated between members, and how long a captured packet is remembered so that a
    /// replay of it is refused. Only sealed packets carry a time.
    pub max_clock_skew: Duration,
}

impl Config {
    /// Local network: memberlist's LAN values (1 s probes, 500 ms timeout, 200 ms gossip).
    pub fn lan() -> Config {
        Config {
            cluster: "epidemic".into(),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            suspicion_mult: 4,
            lifeguard: true,
            awareness_max: 8,
            suspicion_max_mult: 6,
            retransmit_mult: 4,
            broadcast_mode: BroadcastMode::gossip(3),
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead: Duration::from_secs(30),
            push_pull_interval: Duration::from_secs(30),
            tcp_timeout: Duration::from_secs(10),
            mtu: 1400,
            reap_after: Duration::from_secs(60),
            max_members: 32_768,
            max_broadcast_bytes: 1024,
            broadcast_queue: 1024,
            dispatcher_queue: 4096,
            aggregation_interval: Duration::from_millis(200),
            aggregation_epoch_rounds: 64,
            aggregation_fanout: 2,
            state_mode: StateMode::PushPull,
            state_interval: Duration::from_secs(1),
            state_fanout: 1,
            state_max_keys: 1024,
            state_max_value_len: 1024,
            state_tombstone_grace: Duration::from_secs(300),
            max_clock_skew: Duration::from_secs(60),
        }
    }

    /// Wide-area network: slower probes, longer timeouts, more tolerance.
    pub fn wan() -> Config {
        Config {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            broadcast_mode: BroadcastMode::gossip(4),
            gossip_to_the_dead: Duration::from_secs(60),
            push_pull_interval: Duration::from_secs(60),
            tcp_timeout: Duration::from_secs(30),
            reap_after: Duration::from_secs(120),
            aggregation_interval: Duration::from_millis(500),
            state_interval: Duration::from_secs(3),
            state_tombstone_grace: Duration::from_secs(600),
            ..Config::lan()
        }
    }

    /// One machine (loopback, tests, demos): fast probes and short timeouts.
    pub fn local() -> Config {
        Config {
            probe_interval: Duration::from_millis(200),
            probe_timeout: Duration::from_millis(100),
            suspicion_mult: 3,
            retransmit_mult: 3,
            gossip_interval: Duration::from_millis(50),
            gossip_to_the_dead: Duration::from_secs(5),
            push_pull_interval: Duration::from_secs(5),
            tcp_timeout: Duration::from_secs(2),
            reap_after: Duration::from_secs(15),
            aggregation_interval: Duration::from_millis(50),
            state_interval: Duration::from_millis(200),
            state_tombstone_grace: Duration::from_secs(60),
            ..Config::lan()
        }
    }

    /// Bytes a node packs into one datagram before sealing: the MTU less what sealing adds
    /// (40 bytes), reserved whether or not the node seals, so that turning encryption on
    /// at run time never makes a datagram larger than the MTU.
    pub fn datagram_budget(&self) -> usize {
        self.mtu.saturating_sub(crate::seal::SEALED_OVERHEAD)
    }

    /// The 64-bit cluster identifier carried in every packet header (FNV-1a of the name).
    pub fn cluster_id(&self) -> u64 {
        crate::hash::fnv1a(self.cluster.as_bytes())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::lan()
    }
}

/// Fewest rounds in an aggregation epoch.
pub const MIN_EPOCH_ROUNDS: u32 = 8;

/// Smallest accepted MTU.
pub const MIN_MTU: usize = 512;
/// Largest accepted MTU (a UDP payload over IPv4 is at most 65,507 bytes).
pub const MAX_MTU: usize = 65_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifeguard_is_on_in_every_preset() {
        for config in [Config::lan(), Config::wan(), Config::local()] {
            assert!(config.lifeguard);
            assert_eq!((config.awareness_max, config.suspicion_max_mult), (8, 6));
        }
    }

    /// The presets keep the behaviour from before broadcast modes existed: rumors pushed
    /// to `gossip_nodes` members, `8 × ceil(log10(N + 1))` times.
    #[test]
    fn presets_monger_rumors_to_the_gossip_fanout() {
        for config in [Config::lan(), Config::wan(), Config::local()] {
            assert_eq!(
                config.broadcast_mode,
                BroadcastMode::Gossip {
                    fanout: config.gossip_nodes,
                    retransmit_mult: 8
                }
            );
        }
    }

    #[test]
    fn cluster_ids_differ_by_name() {
        let a = Config::lan();
        let mut b = Config::lan();
        b.cluster = "other".into();
        assert_ne!(a.cluster_id(), b.cluster_id());
        assert_eq!(a.cluster_id(), Config::wan().cluster_id());
    }
}
