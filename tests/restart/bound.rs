//! How long a node restarted under its name at a new address may take to be an alive
//! member there in every other node's view, derived from the settings. Shared by the
//! simulator and loopback tests.
//!
//! When the others hold the name failed or departed, the restarted node's join tells it
//! so, it refutes with the next incarnation, and gossip spreads that ([`rejoin_bound`]):
//!
//! ```text
//! join (one TCP exchange)                                   tcp_timeout
//! + gossip of the refuting `alive` to everyone               retransmit_mult × ceil(log10(N + 1))
//!                                                              probe intervals
//! ```
//!
//! The others may instead still hold the name alive at the old address (a crash). They keep that
//! record against any claim from elsewhere (a name conflict keeps the first, so a live
//! name cannot be taken over) until it fails, then take the newcomer's `alive`, which
//! must beat the death's incarnation:
//!
//! ```text
//! join (one TCP exchange)                                   tcp_timeout
//! + someone probes the old address (two probe rounds)        2 (N − 1) × probe_interval
//! + its suspicion runs out, never confirmed (Lifeguard max)  suspicion_max_mult × suspicion_mult
//!                                                              × max(1, log10 N) × probe_interval
//! + the restarted node's next push-pull: it learns of its    push_pull_interval (scaled for N)
//!   death and refutes, or pushes its `alive` above it
//! + gossip of that `alive` to everyone                       retransmit_mult × ceil(log10(N + 1))
//!                                                              probe intervals
//! ```

use std::time::Duration;

use epidemic::Config;

/// The bound for a name held failed or departed (module docs), `n` nodes, `config`.
pub(crate) fn rejoin_bound(config: &Config, n: usize) -> Duration {
    config.tcp_timeout + spread(config, n)
}

/// Gossip of one update to every node: `retransmit_mult × ceil(log10(N + 1))` periods.
fn spread(config: &Config, n: usize) -> Duration {
    config.probe_interval * config.retransmit_mult * (n as f64 + 1.0).log10().ceil() as u32
}

/// The bound for a name still held alive at the old address (module docs).
pub(crate) fn restart_bound(config: &Config, n: usize) -> Duration {
    let t = config.probe_interval;
    let n_f = n as f64;
    let detect = t * 2 * (n as u32 - 1);
    let suspicion = t.mul_f64(
        f64::from(config.suspicion_max_mult)
            * f64::from(config.suspicion_mult)
            * n_f.log10().max(1.0),
    );
    let push_pull = if n <= 32 {
        config.push_pull_interval
    } else {
        config
            .push_pull_interval
            .mul_f64((n_f.log2() - 5.0).ceil() + 1.0)
    };
    config.tcp_timeout + detect + suspicion + push_pull + spread(config, n)
}
