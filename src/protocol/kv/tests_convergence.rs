//! Unit tests over many rounds: tombstone collection against a stale replica, and
//! convergence of 20 components in each mode (rounds printed, compared with Karp et al.).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rand::{RngExt, SeedableRng};

use super::tests_harness::{Net, config, name};
use super::*;

#[test]
fn a_collected_tombstone_never_comes_back_from_a_stale_replica() {
    let mut c = config(StateMode::PushPull);
    c.tombstone_grace = Duration::from_secs(10);
    // n0 owns the key, n1 follows, n2 will be partitioned, n3 joins late.
    let mut net = Net::new(4, &c, 7);
    net.cut[3] = true;
    net.nodes[0].set(net.now, "keep", b"1".to_vec()).unwrap();
    net.nodes[0].set(net.now, "gone", b"2".to_vec()).unwrap();
    while !(0..3).all(|i| net.value(i, 0, "gone").is_some()) {
        net.round();
    }
    net.cut[2] = true;
    net.nodes[0].delete(net.now, "gone").unwrap();
    for _ in 0..5 {
        net.round();
    }
    assert_eq!(
        net.nodes[1].held(&name("n0")),
        Some((2, 1)),
        "n1 holds the tombstone"
    );
    // Past the grace period both collect it: watermark 3.
    for _ in 0..12 {
        net.round();
    }
    for i in 0..2 {
        assert_eq!(net.nodes[i].held(&name("n0")), Some((1, 0)));
        let d = &net.nodes[i].digest()[0];
        assert_eq!((d.max_version, d.watermark), (3, 3));
    }
    // The stale replica still has the value and version 2.
    assert_eq!(net.value(2, 0, "gone").as_deref(), Some(&b"2"[..]));
    // n3 first hears only from the stale n2: it copies the stale value ...
    net.cut[3] = false;
    let (c2, c3) = (net.cut[0], net.cut[1]);
    net.cut[0] = true;
    net.cut[1] = true;
    net.cut[2] = false;
    while net.value(3, 0, "gone").is_none() {
        net.round();
    }
    let _ = (c2, c3);
    // ... then everything heals.
    net.cut = vec![false; 4];
    for _ in 0..30 {
        net.round();
        for i in 0..2 {
            assert_eq!(
                net.value(i, 0, "gone"),
                None,
                "round {}: resurrected",
                net.now.as_micros()
            );
        }
    }
    for i in 0..4 {
        assert_eq!(net.value(i, 0, "gone"), None, "n{i} still has it");
        assert_eq!(net.value(i, 0, "keep").as_deref(), Some(&b"1"[..]));
        assert!(!net.nodes[i].resyncing(&name("n0")));
        let d = net.nodes[i].digest();
        let d0 = d.iter().find(|d| d.owner == name("n0")).unwrap();
        assert_eq!((d0.max_version, d0.watermark), (3, 3), "n{i}");
    }
    // The stale nodes saw the key deleted, once, and "keep" never flickered.
    for i in 2..4 {
        let gone: Vec<_> = net.changes[i]
            .iter()
            .filter(|c| c.key.as_str() == "gone")
            .map(|c| c.value.is_some())
            .collect();
        assert_eq!(gone, vec![true, false], "n{i}");
        let keep = net.changes[i]
            .iter()
            .filter(|c| c.key.as_str() == "keep")
            .count();
        assert_eq!(keep, 1, "n{i}");
    }
}

/// Rounds until every node of `net` holds `key` of node 0.
fn rounds_to_spread(net: &mut Net, key: &str, mode: StateMode) -> u32 {
    let n = net.nodes.len();
    let mut rounds = 0;
    while !(1..n).all(|i| net.value(i, 0, key).is_some()) {
        net.round();
        rounds += 1;
        assert!(rounds < 100, "{mode:?} does not spread");
    }
    rounds
}

/// Averages over `seeds` seeds, in rounds: one update made at node 0 reaching all 20
/// nodes in a cluster already using the state (every node active: the steady state the
/// theory describes), the same first update in a cold cluster (its "in use" gossip wakes
/// every node: here a rumor that reaches all at once), and random writes made everywhere
/// at once.
fn measure(mode: StateMode, seeds: u64) -> [f64; 3] {
    let n = 20;
    let (mut warm, mut cold, mut all) = (0u32, 0u32, 0u32);
    for seed in 0..seeds {
        let mut net = Net::new(n, &config(mode), 100 + seed);
        net.nodes[0].set(net.now, "x", vec![1]).unwrap();
        cold += rounds_to_spread(&mut net, "x", mode);
        net.rounds_to_converge(100);
        net.nodes[0].set(net.now, "y", vec![1]).unwrap();
        warm += rounds_to_spread(&mut net, "y", mode);

        let mut net = Net::new(n, &config(mode), 200 + seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in 0..n {
            for _ in 0..rng.random_range(1..6) {
                let key = format!("k{}", rng.random_range(0..8));
                net.nodes[i].set(net.now, &key, vec![7; 20]).unwrap();
            }
        }
        all += net.rounds_to_converge(100);
        // Converged digests mean equal state.
        for i in 0..n {
            let owner = name(&format!("n{i}"));
            let truth = net.nodes[i].owner_state(&owner);
            assert!(net.nodes.iter().all(|x| x.owner_state(&owner) == truth));
        }
    }
    let s = seeds as f64;
    [warm, cold, all].map(|r| f64::from(r) / s)
}

#[test]
fn twenty_nodes_converge_in_each_mode() {
    let n = 20f64;
    let theory_push = n.log2() + n.ln();
    let theory_pull = n.log2() + n.ln().log2();
    let theory_push_pull = n.log(3.0) + n.ln().ln();
    let mut results = Vec::new();
    for (mode, theory) in [
        (StateMode::Push, theory_push),
        (StateMode::Pull, theory_pull),
        (StateMode::PushPull, theory_push_pull),
    ] {
        let [one, cold, all] = measure(mode, 10);
        println!(
            "N=20 fanout 1 {mode:?}: one update {one:.1} rounds (theory {theory:.1}; \
             {cold:.1} as a cold cluster's first), writes everywhere {all:.1} rounds"
        );
        // Woken by the "in use" gossip, every node reconciles from the first key on: a
        // cold start costs its first interval or two (pull took 17 rounds cold, against
        // 7 warm, before the gossip).
        assert!(
            cold <= one + 2.5,
            "{mode:?}: cold {cold:.1} against warm {one:.1}"
        );
        results.push((one, all));
    }
    let [push, pull, push_pull] = [results[0], results[1], results[2]];
    assert!(push_pull.0 <= push.0 && push_pull.0 <= pull.0);
    assert!(push_pull.1 <= push.1 && push_pull.1 <= pull.1);
}
