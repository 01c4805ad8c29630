//! Protocol settings, with presets for a LAN, a WAN and a single machine. Validated once,
//! when the node starts.

mod state;

use std::fmt;
use std::time::Duration;

pub use self::state::StateMode;
use crate::codec::{self, PACKET_OVERHEAD};
use crate::member::MAX_NAME_LEN;

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

    /// The 64-bit cluster identifier carried in every packet header (FNV-1a of the name).
    pub fn cluster_id(&self) -> u64 {
        crate::hash::fnv1a(self.cluster.as_bytes())
    }

    /// Checks every field; [`crate::NodeBuilder::start`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let durations = [
            ("probe_interval", self.probe_interval),
            ("probe_timeout", self.probe_timeout),
            ("gossip_interval", self.gossip_interval),
            ("push_pull_interval", self.push_pull_interval),
            ("tcp_timeout", self.tcp_timeout),
            ("aggregation_interval", self.aggregation_interval),
            ("state_interval", self.state_interval),
        ];
        for (field, value) in durations {
            if value.is_zero() {
                return Err(ConfigError::Zero(field));
            }
        }
        let counts = [
            ("indirect_checks", self.indirect_checks),
            ("suspicion_mult", self.suspicion_mult as usize),
            ("retransmit_mult", self.retransmit_mult as usize),
            ("gossip_nodes", self.gossip_nodes),
            ("max_broadcast_bytes", self.max_broadcast_bytes),
            ("broadcast_queue", self.broadcast_queue),
            ("dispatcher_queue", self.dispatcher_queue),
            ("state_fanout", self.state_fanout),
            ("state_max_keys", self.state_max_keys),
        ];
        for (field, value) in counts {
            if value == 0 {
                return Err(ConfigError::Zero(field));
            }
        }
        if self.lifeguard && self.suspicion_max_mult == 0 {
            return Err(ConfigError::Zero("suspicion_max_mult"));
        }
        self.broadcast_mode.validate()?;
        if self.cluster.is_empty() {
            return Err(ConfigError::EmptyCluster);
        }
        if self.aggregation_epoch_rounds < MIN_EPOCH_ROUNDS {
            return Err(ConfigError::EpochRounds(self.aggregation_epoch_rounds));
        }
        if ![1, 2, 4].contains(&self.aggregation_fanout) {
            return Err(ConfigError::AggregationFanout(self.aggregation_fanout));
        }
        if self.probe_timeout >= self.probe_interval {
            return Err(ConfigError::ProbeTimeoutNotBelowInterval);
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        let max = max_broadcast_for_mtu(self.mtu);
        if self.max_broadcast_bytes > max {
            return Err(ConfigError::BroadcastTooLarge {
                max_broadcast_bytes: self.max_broadcast_bytes,
                fits: max,
            });
        }
        if self.state_max_value_len > codec::MAX_STATE_VALUE_LEN {
            return Err(ConfigError::StateValueTooLarge(self.state_max_value_len));
        }
        Ok(())
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

/// The largest user payload that fits one datagram of `mtu` bytes, with the longest origin
/// name and room for a ping beside it.
fn max_broadcast_for_mtu(mtu: usize) -> usize {
    // user message: len u16 + type u8 + origin (1 + name) + seq u64 + payload len u16
    let user_overhead = 2 + 1 + 1 + MAX_NAME_LEN + 8 + 2;
    let ping_room = 2 + 1 + 4 + 2 * (1 + MAX_NAME_LEN);
    mtu.saturating_sub(PACKET_OVERHEAD + user_overhead + ping_room)
        .min(codec::MAX_USER_PAYLOAD)
}

/// A setting that makes no sense. Nothing was started.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// This field must not be zero.
    Zero(&'static str),
    /// The cluster name is empty.
    EmptyCluster,
    /// The probe timeout must be shorter than the probe interval.
    ProbeTimeoutNotBelowInterval,
    /// The MTU is outside 512..=65,000.
    Mtu(usize),
    /// `max_broadcast_bytes` does not fit one datagram of the configured MTU.
    BroadcastTooLarge {
        /// The configured value.
        max_broadcast_bytes: usize,
        /// The largest that fits.
        fits: usize,
    },
    /// `aggregation_epoch_rounds` is below 8 (the value is given).
    EpochRounds(u32),
    /// `aggregation_fanout` is not 1, 2 or 4 (the value is given).
    AggregationFanout(usize),
    /// `BroadcastMode::Feedback`'s `known_limit` is outside
    /// 1..=[`BroadcastMode::MAX_KNOWN_LIMIT`] (the value is given).
    KnownLimit(u32),
    /// `state_max_value_len` is above the largest value the wire carries (16 KiB; the value
    /// is given).
    StateValueTooLarge(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero(field) => write!(f, "{field} must not be zero"),
            ConfigError::EmptyCluster => f.write_str("cluster name must not be empty"),
            ConfigError::ProbeTimeoutNotBelowInterval => {
                f.write_str("probe_timeout must be shorter than probe_interval")
            }
            ConfigError::Mtu(mtu) => write!(f, "mtu {mtu} is outside {MIN_MTU}..={MAX_MTU}"),
            ConfigError::BroadcastTooLarge {
                max_broadcast_bytes,
                fits,
            } => write!(
                f,
                "max_broadcast_bytes {max_broadcast_bytes} does not fit the MTU (at most {fits})"
            ),
            ConfigError::EpochRounds(n) => write!(
                f,
                "aggregation_epoch_rounds {n} is below {MIN_EPOCH_ROUNDS}"
            ),
            ConfigError::AggregationFanout(n) => {
                write!(f, "aggregation_fanout {n} is not 1, 2 or 4")
            }
            ConfigError::KnownLimit(k) => write!(
                f,
                "broadcast_mode known_limit {k} is outside 1..={}",
                BroadcastMode::MAX_KNOWN_LIMIT
            ),
            ConfigError::StateValueTooLarge(n) => write!(
                f,
                "state_max_value_len {n} is above {}",
                codec::MAX_STATE_VALUE_LEN
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for config in [Config::lan(), Config::wan(), Config::local()] {
            assert_eq!(config.validate(), Ok(()));
        }
    }

    #[test]
    fn nonsense_is_refused() {
        let mut c = Config::lan();
        c.probe_interval = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Zero("probe_interval")));
        let mut c = Config::lan();
        c.gossip_nodes = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("gossip_nodes")));
        let mut c = Config::lan();
        c.mtu = 511;
        assert_eq!(c.validate(), Err(ConfigError::Mtu(511)));
        let mut c = Config::lan();
        c.probe_timeout = c.probe_interval;
        assert_eq!(c.validate(), Err(ConfigError::ProbeTimeoutNotBelowInterval));
        let mut c = Config::lan();
        c.max_broadcast_bytes = 1400;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::BroadcastTooLarge { .. })
        ));
        let mut c = Config::lan();
        c.suspicion_max_mult = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("suspicion_max_mult")));
        c.lifeguard = false;
        assert_eq!(c.validate(), Ok(()), "unused without Lifeguard");
        let mut c = Config::lan();
        c.cluster.clear();
        assert_eq!(c.validate(), Err(ConfigError::EmptyCluster));
        let mut c = Config::lan();
        c.broadcast_mode = BroadcastMode::Feedback {
            fanout: 3,
            retransmit_mult: 8,
            known_limit: 0,
        };
        assert_eq!(c.validate(), Err(ConfigError::KnownLimit(0)));
        c.broadcast_mode = BroadcastMode::Gossip {
            fanout: 0,
            retransmit_mult: 8,
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Zero("broadcast_mode fanout"))
        );
        let mut c = Config::lan();
        c.state_fanout = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("state_fanout")));
        let mut c = Config::lan();
        c.state_max_value_len = codec::MAX_STATE_VALUE_LEN + 1;
        assert_eq!(
            c.validate(),
            Err(ConfigError::StateValueTooLarge(
                codec::MAX_STATE_VALUE_LEN + 1
            ))
        );
    }

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
