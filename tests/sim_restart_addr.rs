//! A node restarted under its name at a new address (a container rescheduled): every
//! other node holds it alive at the new address, at an incarnation above what they held,
//! within the bound of `restart/bound.rs` for what they held at the old one: failed or
//! departed (join, refutation, gossip), or still alive after a crash (that record must
//! fail first: a live name is never taken over from another address). Each case runs with the test's seed; a failure
//! prints the rerun command.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

#[path = "restart/bound.rs"]
mod bound;
mod seeded;

use bound::{rejoin_bound, restart_bound};
use epidemic::sim::{Fault, NetworkModel, NodeId, Simulation};
use epidemic::{Config, MemberState};
use seeded::run_seeded;

const NODES: usize = 8;
const MOVED: NodeId = NodeId(2);

/// Where the moved node comes back: a port no simulated node uses.
fn new_addr(sim: &Simulation) -> SocketAddr {
    let old = sim.addr(MOVED);
    SocketAddr::new(old.ip(), old.port() + 1)
}

/// How the moved node went away before coming back.
#[derive(Clone, Copy, Debug)]
enum Before {
    /// Crashed and came back at once: the others still hold it alive at the old address.
    Crash,
    /// Crashed, and every other node declared it failed before it came back.
    CrashDetected,
    /// Left gracefully, and came back at once.
    Leave,
}

/// Runs one case; returns how long it took the others to hold the moved node alive at
/// its new address.
fn moved(seed: u64, before: Before) -> Result<Duration, String> {
    let config = Config::lan();
    let mut sim = Simulation::builder()
        .nodes(NODES)
        .seed(seed)
        .config(config.clone())
        .network(NetworkModel::lan())
        .build();
    sim.run_until_converged(Duration::from_secs(30))?;
    match before {
        Before::Crash => sim.fault(Fault::Crash(MOVED)),
        Before::CrashDetected => {
            sim.fault(Fault::Crash(MOVED));
            sim.run_until_converged(Duration::from_secs(60))?;
        }
        Before::Leave => {
            sim.fault(Fault::Leave(MOVED));
            // Until its `left` went out and it stopped.
            while sim.is_up(MOVED) {
                sim.run_for(Duration::from_millis(100))
                    .map_err(|v| v.to_string())?;
            }
        }
    }
    let others: Vec<NodeId> = (0..NODES).map(NodeId).filter(|&i| i != MOVED).collect();
    let held: Vec<u64> = others
        .iter()
        .map(|&o| sim.view(o, MOVED).map_or(0, |(_, inc)| inc))
        .collect();
    let (old, addr) = (sim.addr(MOVED), new_addr(&sim));
    sim.fault(Fault::RestartAt(MOVED, addr));
    if sim.addr(MOVED) != addr {
        return Err(format!("the node did not move from {old} to {addr}"));
    }
    let bound = bound_for(before);
    let start = sim.now();
    let there = |sim: &Simulation| {
        others.iter().zip(&held).all(|(&o, &inc)| {
            sim.members(o).iter().any(|m| {
                m.name == *sim.name(MOVED)
                    && m.state == MemberState::Alive
                    && m.addr == addr
                    && m.incarnation > inc
            })
        })
    };
    while !there(&sim) {
        if sim.now() - start > bound {
            let views: Vec<String> = others
                .iter()
                .map(|&o| {
                    let m = sim
                        .members(o)
                        .into_iter()
                        .find(|m| m.name == *sim.name(MOVED));
                    format!("{o:?}: {m:?}")
                })
                .collect();
            return Err(format!(
                "{before:?}: after {bound:?} not every node holds the moved node alive at \
                 {addr} (was {old}, held at {held:?}):\n{}",
                views.join("\n")
            ));
        }
        sim.run_for(Duration::from_millis(100))
            .map_err(|v| v.to_string())?;
    }
    let took = sim.now() - start;
    sim.run_until_converged(Duration::from_secs(5))?;
    Ok(took)
}

/// The bound of `restart/bound.rs` for the case.
fn bound_for(before: Before) -> Duration {
    match before {
        Before::Crash => restart_bound(&Config::lan(), NODES),
        Before::CrashDetected | Before::Leave => rejoin_bound(&Config::lan(), NODES),
    }
}

fn case(test: &str, before: Before) {
    run_seeded("sim_restart_addr", test, |seed| {
        let took = moved(seed, before)?;
        let bound = bound_for(before);
        println!(
            "{before:?}: alive at the new address everywhere after {took:?} (bound {bound:?})"
        );
        Ok(())
    });
}

#[test]
fn a_crashed_node_restarted_at_a_new_address_is_taken_there() {
    case(
        "a_crashed_node_restarted_at_a_new_address_is_taken_there",
        Before::Crash,
    );
}

#[test]
fn a_failed_node_restarted_at_a_new_address_is_taken_there() {
    case(
        "a_failed_node_restarted_at_a_new_address_is_taken_there",
        Before::CrashDetected,
    );
}

#[test]
fn a_departed_node_restarted_at_a_new_address_is_taken_there() {
    case(
        "a_departed_node_restarted_at_a_new_address_is_taken_there",
        Before::Leave,
    );
}
