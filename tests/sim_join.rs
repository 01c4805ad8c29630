//! A cluster forming all at once: every node joining through one seed at the same moment
//! converges in seconds of protocol time, not at the next push-pull. (Only members may
//! introduce members; a node that hears from senders it does not know yet, gossip it
//! must refuse or pings it cannot place, asks a member for the full state early.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use epidemic::Config;
use epidemic::sim::Simulation;

/// Protocol time for `n` nodes started together, all joining through node 0, until every
/// node holds every other alive.
fn convergence(n: usize, seed: u64) -> Duration {
    let mut sim = Simulation::builder()
        .nodes(n)
        .seed(seed)
        .config(Config::lan())
        .build();
    let start = sim.now();
    sim.run_until_converged(Duration::from_secs(120)).unwrap();
    sim.now().saturating_sub(start)
}

#[test]
fn fifty_and_two_hundred_nodes_joining_through_one_seed_converge_long_before_a_push_pull() {
    // LAN push-pull: every 30 s, scaled up with N. Gossip alone left a few hundred pairs
    // unknown until then (converging 13–30 s in).
    for (n, seeds) in [(50, 1..6), (200, 1..3)] {
        for seed in seeds {
            let took = convergence(n, seed);
            assert!(
                took <= Duration::from_secs(8),
                "{n} nodes, seed {seed}: converged after {took:?}"
            );
        }
    }
}
