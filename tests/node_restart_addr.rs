//! A node stopped and started again under its name at a new port (a container
//! rescheduled) on real sockets: every other node holds it alive at the new address, at an
//! incarnation above what they held, within the bound of `restart/bound.rs` (doubled: a
//! loaded machine runs these threads late). Two cases: it left gracefully (the others hold
//! it departed: join, refutation, gossip), or it stopped silently and came back at once
//! (they still hold it alive at the old address, which must fail first: a live name is
//! never taken over from another address).

#![allow(clippy::unwrap_used)]

#[path = "restart/bound.rs"]
mod bound;
mod common;

use std::time::Duration;

use bound::{rejoin_bound, restart_bound};
use common::{Cluster, builder, wait_until};
use epidemic::MemberState;

const NODES: usize = 4;
const MOVED: usize = 2;

/// How the moved node goes away.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Leave,
    Crash,
}

/// Stops node [`MOVED`] as `how`, starts it again on a new port, and waits until every
/// other node holds it alive there; returns how long that took.
fn restart_elsewhere(cluster: &str, how: Stop, seed: u64) -> Duration {
    let mut cluster = Cluster::start(cluster, "rs", NODES, seed);
    let name = cluster.name(MOVED);
    let old = cluster.node(MOVED).local_addr();
    let others = cluster.others(&[MOVED]);
    match how {
        Stop::Leave => cluster.node(MOVED).leave(Duration::from_secs(2)).unwrap(),
        Stop::Crash => cluster.node(MOVED).stop(),
    }
    if let Stop::Leave = how {
        cluster.wait_state(&others, &name, MemberState::Left);
    }
    let held: Vec<u64> = others
        .iter()
        .map(|&i| cluster.node(i).member(&name).map_or(0, |m| m.incarnation))
        .collect();
    // A new port: should the kernel hand back the old one, try again.
    let moved = loop {
        let i = cluster.start_node(&name, builder(&name, seed + 100, &cluster.config));
        if cluster.node(i).local_addr() != old {
            break i;
        }
        cluster.node(i).stop();
    };
    let new = cluster.node(moved).local_addr();
    let started = now();
    let joined = cluster.node(moved).join(&[cluster.node(0).local_addr()]);
    assert!(
        matches!(joined, Ok(n) if n >= 1),
        "{name} could not rejoin: {joined:?}"
    );
    let bound = match how {
        Stop::Leave => rejoin_bound(&cluster.config, NODES),
        Stop::Crash => restart_bound(&cluster.config, NODES),
    };
    wait_until(
        bound * 2,
        || {
            format!(
                "every node holds {name} alive at {new} (was {old}, held at {held:?}):\n{}",
                cluster.describe(&others)
            )
        },
        || {
            others.iter().zip(&held).all(|(&i, &inc)| {
                cluster.node(i).member(&name).is_some_and(|m| {
                    m.state == MemberState::Alive && m.addr == new && m.incarnation > inc
                })
            })
        },
    );
    let took = started.elapsed();
    println!(
        "{how:?}: {name} alive at its new address everywhere after {took:.1?} (bound {bound:?})"
    );
    // And the moved node sees every other alive.
    let all: Vec<usize> = others.iter().copied().chain([moved]).collect();
    cluster.wait_all_alive(&all, NODES);
    took
}

/// The clock, read only to report how long the move took.
#[allow(clippy::disallowed_methods)] // A measurement, never a wait.
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

#[test]
fn a_departed_node_restarted_at_a_new_port_is_taken_there() {
    restart_elsewhere("node-restart-addr-leave", Stop::Leave, 6100);
}

#[test]
fn a_crashed_node_restarted_at_a_new_port_is_taken_there() {
    restart_elsewhere("node-restart-addr-crash", Stop::Crash, 6200);
}
