//! Settings of the replicated key-value state: the public [`StateMode`], and the internal
//! `StateConfig` the state component runs with, built from [`Config`].

use super::Config;
use crate::protocol::StateConfig;

/// Which way the replicated key-value state flows when a node reconciles with a peer
/// (Scuttlebutt's exchange, van Renesse et al. 2008). A digest lists, per owner, the
/// newest version held; a peer answers with exactly the entries the other side lacks.
///
/// ```text
/// Push:      A -> "your digest?" -------------------> B
///            A <- B's digest ------------------------ B
///            A -> entries B lacks -------------------> B     data flows A -> B
///
/// Pull:      A -> A's digest ------------------------> B
///            A <- entries A lacks -------------------- B     data flows B -> A
///
/// PushPull:  A -> A's digest ------------------------> B
///            A <- entries A lacks + B's digest ------- B
///            A -> entries B lacks -------------------> B     data flows both ways
/// ```
/// Each leg is one datagram when it fits the MTU, else a TCP exchange. Push-pull spreads
/// fastest (about log₃ N + ln ln N rounds for one update, Karp et al. 2000) for one more
/// leg per exchange; pull beats push once most nodes hold the update. A node that holds
/// no state starts no exchange in any mode; it starts once it writes a key or hears of
/// state from a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateMode {
    /// The initiator sends what the peer lacks.
    Push,
    /// The initiator asks for what it lacks.
    Pull,
    /// Both, in one three-leg exchange.
    PushPull,
}

impl Config {
    /// The state component's settings: the public `state_*` fields, the datagram size from
    /// `mtu`, and TCP exchanges bounded by `tcp_timeout`.
    pub(crate) fn state_config(&self) -> StateConfig {
        StateConfig {
            cluster: self.cluster_id(),
            mode: self.state_mode,
            interval: self.state_interval,
            fanout: self.state_fanout,
            max_keys: self.state_max_keys,
            max_value_len: self.state_max_value_len,
            tombstone_grace: self.state_tombstone_grace,
            mtu: self.datagram_budget(),
            sync_timeout: self.tcp_timeout,
            ..StateConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_reconcile_push_pull_with_one_peer() {
        for config in [Config::lan(), Config::wan(), Config::local()] {
            let state = config.state_config();
            assert_eq!((state.mode, state.fanout), (StateMode::PushPull, 1));
            assert_eq!(state.mtu, config.datagram_budget());
            assert_eq!(state.sync_timeout, config.tcp_timeout);
            // What the component relies on: a whole datagram fits a frame, a frame the wire.
            assert!(state.mtu <= state.max_sync_frame);
            assert!(state.max_sync_frame <= crate::codec::MAX_FRAME_LEN);
        }
        assert!(Config::local().state_interval < Config::lan().state_interval);
        assert!(Config::lan().state_interval < Config::wan().state_interval);
    }
}
