//! Checking a [`Config`] once, when the node starts: every setting that would make the
//! protocol misbehave is refused with a [`ConfigError`] naming it.

use std::fmt;

use super::{BroadcastMode, Config, MAX_MTU, MIN_EPOCH_ROUNDS, MIN_MTU};
use crate::codec::{self, PACKET_OVERHEAD};
use crate::member::MAX_NAME_LEN;

impl Config {
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
            ("max_clock_skew", self.max_clock_skew),
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
            ("max_members", self.max_members),
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
        let max = max_broadcast_for_mtu(self.datagram_budget());
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
    use std::time::Duration;

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
}
