//! Loopback: every broadcast mode runs on real sockets through the same runtime, delivers
//! each broadcast exactly once, and sends what the mode says.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Cluster, Observed, WAIT, local_config, wait_until};
use epidemic::BroadcastMode;

const NODES: usize = 5;
const ORIGIN: usize = 1;

/// Starts a cluster in `mode`, broadcasts three payloads from [`ORIGIN`], and checks that
/// every other node delivers each exactly once (the origin never), also during a window
/// after the first delivery in which retransmissions may still arrive.
fn broadcasts_arrive_once(cluster_name: &str, seed_base: u64, mode: BroadcastMode) -> Cluster {
    let mut config = local_config(cluster_name);
    config.broadcast_mode = mode;
    let cluster = Cluster::start_with(cluster_name, "m", NODES, seed_base, |_, b| {
        b.config(config.clone())
    });
    let from = cluster.name(ORIGIN);
    let payloads: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("{mode:?} #{i}").into_bytes())
        .collect();
    for p in &payloads {
        cluster.node(ORIGIN).broadcast(p.clone()).unwrap();
    }
    let others = cluster.others(&[ORIGIN]);
    wait_until(
        WAIT,
        || format!("every other node delivers the three {mode:?} broadcasts"),
        || {
            others.iter().all(|&i| {
                payloads
                    .iter()
                    .all(|p| cluster.node(i).logs.deliveries(&from, p) >= 1)
            })
        },
    );
    let mut seen: HashMap<(String, Vec<u8>), usize> = HashMap::new();
    common::observe_for(Duration::from_secs(1), &cluster.tap, |s| match &s.what {
        Observed::Message(o, p) if o.as_str() == from => {
            let n = seen.entry((s.observer.clone(), p.clone())).or_default();
            *n += 1;
            (*n > 1 || s.observer == from).then(|| format!("{} delivered {p:?} twice", s.observer))
        }
        _ => None,
    });
    for i in 0..NODES {
        for p in &payloads {
            let want = usize::from(i != ORIGIN);
            assert_eq!(cluster.node(i).logs.deliveries(&from, p), want, "node {i}");
        }
    }
    cluster
}

#[test]
fn feedback_mode_delivers_once_and_known_replies_flow() {
    let mode = BroadcastMode::Feedback {
        fanout: 3,
        retransmit_mult: 8,
        known_limit: 2,
    };
    let cluster = broadcasts_arrive_once("node-modes-feedback", 800, mode);
    // With 5 nodes, pushes to members that already know are certain: their feedback
    // crosses the real sockets and the inbound path to the dissemination actor.
    wait_until(
        WAIT,
        || "some node receives `known` feedback".to_string(),
        || (0..NODES).any(|i| cluster.node(i).stats().known_ids_in > 0),
    );
}

#[test]
fn point_to_point_mode_sends_from_the_origin_only() {
    let cluster = broadcasts_arrive_once("node-modes-p2p", 810, BroadcastMode::PointToPoint);
    for i in 0..NODES {
        let stats = cluster.node(i).stats();
        let want = if i == ORIGIN {
            3 * (NODES as u64 - 1)
        } else {
            0
        };
        assert_eq!(stats.broadcast_copies_out, want, "node {i}");
    }
}

#[test]
fn eager_flood_mode_forwards_from_every_node() {
    let cluster = broadcasts_arrive_once("node-modes-eager", 820, BroadcastMode::EagerFlood);
    for i in 0..NODES {
        let stats = cluster.node(i).stats();
        assert_eq!(
            stats.broadcast_copies_out,
            3 * (NODES as u64 - 1),
            "node {i}"
        );
    }
}

/// While one node broadcasts as fast as `broadcast()` accepts, probe traffic still flows:
/// every node keeps getting acks for its probes and nobody is suspected.
#[test]
fn a_broadcast_flood_does_not_get_anyone_suspected() {
    let cluster = Cluster::start("node-modes-flood", "f", 4, 830);
    let acked = |i: usize| cluster.node(i).stats().probe_rtt.samples;
    let start: Vec<u64> = (0..4).map(acked).collect();
    let deadline = crossbeam_channel::after(WAIT * 4);
    let (mut accepted, mut sequence) = (0u64, 0u64);
    // Until every node has had ten more probes answered (about two seconds).
    while (0..4).any(|i| acked(i) < start[i] + 10) {
        assert!(deadline.is_empty(), "probes stopped being acked");
        sequence += 1;
        match cluster
            .node(1)
            .broadcast(format!("flood {sequence}").into_bytes())
        {
            Ok(()) => accepted += 1,
            Err(epidemic::BroadcastError::QueueFull(_)) => std::thread::yield_now(),
            Err(e) => panic!("broadcast failed: {e}"),
        }
    }
    assert!(accepted > 0);
    for i in 0..4 {
        let stats = cluster.node(i).stats();
        assert_eq!(stats.suspicions, 0, "node {i} suspected someone: {stats:?}");
    }
    cluster.wait_all_alive(&[0, 1, 2, 3], 4);
}
