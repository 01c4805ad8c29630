//! Unit tests of digests told by difference (`summary.rs`): the fingerprint, the answer
//! table's bound on legs, and what a warm cluster sends at rest, for one new key, and for
//! a burst of changes larger than a summary lists.

#![allow(clippy::unwrap_used)]

use super::summary::{Comparison, Lacks, MAX_RECENT, RECENT_ROUNDS, Told, answer};
use super::tests_harness::{Net, config, name};
use super::*;
use crate::codec::StateSummary;

/// A cluster of `n` where every node wrote a key, converged, then rested past the
/// window in which changes are listed as recent.
fn rested(n: usize, mode: StateMode, seed: u64) -> Net {
    let mut net = Net::new(n, &config(mode), seed);
    for i in 0..n {
        net.nodes[i].set(net.now, "warm", vec![1]).unwrap();
    }
    net.rounds_to_converge(200);
    for _ in 0..=RECENT_ROUNDS {
        net.round();
    }
    net
}

/// Sum over the nodes of a counter.
fn total(net: &Net, counter: impl Fn(&crate::stats::Stats) -> u64) -> u64 {
    net.nodes
        .iter()
        .map(|n| counter(&n.counters.snapshot()))
        .sum()
}

fn bytes(net: &Net) -> u64 {
    total(net, |s| s.state_datagram_bytes + s.state_frame_bytes)
}

/// A summary under `salt` with `fingerprint`.
fn summary(fingerprint: u64, salt: u32) -> StateSummary {
    StateSummary {
        fingerprint,
        salt,
        retry: false,
    }
}

#[test]
fn equal_digests_have_equal_fingerprints_and_empty_replicas_add_nothing() {
    let mut net = rested(6, StateMode::PushPull, 1);
    let now = net.now;
    for salt in [0, 1, 0xdead_beef] {
        let prints: Vec<u64> = net
            .nodes
            .iter_mut()
            .map(|n| n.store.fingerprint(now, salt))
            .collect();
        assert!(prints.iter().all(|p| *p == prints[0] && *p != 0));
    }
    let print = net.nodes[0].store.fingerprint(now, 7);
    assert_ne!(
        print,
        net.nodes[0].store.fingerprint(now, 8),
        "salts differ"
    );
    // A replica holding nothing (an owner that restarted and wrote nothing yet) is as
    // good as none.
    let ghost = Replica::new(77);
    net.nodes[1].store.replicas.insert(name("ghost"), ghost);
    assert_eq!(net.nodes[1].store.fingerprint(now, 7), print);
    // One more version of one owner: a different fingerprint, explained by that entry.
    net.nodes[2].set(now, "warm", vec![2]).unwrap();
    let changed = net.nodes[2].store.fingerprint(now, 7);
    assert_ne!(changed, print);
    let listed = net.nodes[2].store.entries_of([&name("n2")]);
    let n0 = &mut net.nodes[0].store;
    assert_eq!(
        n0.compare(now, summary(changed, 7), &listed),
        Comparison::Explained
    );
    assert_eq!(
        n0.compare(now, summary(changed, 7), &[]),
        Comparison::Unexplained
    );
    assert_eq!(n0.compare(now, summary(print, 7), &[]), Comparison::Same);
    // The listed entries are judged under the leg's salt: under another, no match.
    assert_ne!(
        n0.compare(now, summary(changed, 8), &listed),
        Comparison::Explained
    );
    // Swapping versions between two owners does not cancel out in the sum.
    let pair = n0.entries_of([&name("n0"), &name("n1")]);
    let mut swapped = pair.clone();
    swapped[0].max_version += 1;
    swapped[1].max_version -= 1;
    for salt in [0, 7] {
        let of = super::summary::fingerprint_of;
        assert_ne!(of(&swapped, salt), of(&pair, salt));
    }
}

/// Legs an exchange can take when every comparison goes the worst way it can.
fn longest_exchange(want: StateWant, summary: Option<StateSummary>, depth: usize) -> usize {
    assert!(depth < 10, "an exchange does not end");
    let comparisons: &[Option<Comparison>] = match summary {
        None => &[None],
        Some(_) => &[
            Some(Comparison::Same),
            Some(Comparison::Explained),
            Some(Comparison::Unexplained),
        ],
    };
    let mut longest = depth;
    for &c in comparisons {
        let compared = summary.zip(c);
        let (next, told, _) = answer(want, compared, &[], Vec::new());
        if next == StateWant::Nothing {
            continue;
        }
        let summary = match told {
            Told::Summary { retry, .. } => Some(StateSummary {
                fingerprint: 0,
                salt: 0,
                retry,
            }),
            Told::Nothing | Told::Whole => None,
        };
        longest = longest.max(longest_exchange(next, summary, depth + 1));
    }
    longest
}

#[test]
fn every_exchange_ends_within_seven_legs() {
    let first = Some(StateSummary {
        fingerprint: 0,
        salt: 0,
        retry: false,
    });
    for want in [
        StateWant::Deltas,
        StateWant::DeltasAndDigest,
        StateWant::Digest,
    ] {
        // Legs that ask something after the first; one more carries deltas only.
        let asking = longest_exchange(want, first, 0);
        let legs = 1 + asking + 1;
        assert!(legs <= 7, "{want:?}: {legs} legs");
        assert!(longest_exchange(want, None, 0) <= 2, "classic {want:?}");
    }
    let (want, told, lacks) = answer(StateWant::Deltas, None, &[], Vec::new());
    assert_eq!((want, told), (StateWant::Nothing, Told::Nothing));
    assert!(matches!(lacks, Lacks::Whole(_)));
}

#[test]
fn a_cluster_at_rest_ends_every_exchange_after_one_small_leg() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let mut net = rested(40, mode, 2);
        let (sent, whole, before) = (
            net.sent,
            total(&net, |s| s.state_whole_digests),
            bytes(&net),
        );
        for _ in 0..5 {
            net.round();
        }
        assert_eq!(
            net.sent - sent,
            5 * 40,
            "{mode:?}: one leg per node per round"
        );
        assert_eq!(total(&net, |s| s.state_whole_digests), whole, "{mode:?}");
        // Framing 3, flags 1, fingerprint 8, salt 4, two empty counts 8.
        let per_leg = (bytes(&net) - before) / (5 * 40);
        assert_eq!(per_leg, 24, "{mode:?}: bytes per leg at rest");
    }
}

#[test]
fn one_new_key_spreads_in_each_mode_without_whole_digests() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let n = 40;
        let mut net = rested(n, mode, 3);
        let (whole, before) = (total(&net, |s| s.state_whole_digests), bytes(&net));
        net.nodes[0]
            .set(net.now, "news", b"fresh".to_vec())
            .unwrap();
        let mut rounds = 0;
        while !(1..n).all(|i| net.value(i, 0, "news").is_some()) {
            net.round();
            rounds += 1;
            assert!(rounds < 60, "{mode:?} does not spread");
        }
        assert_eq!(total(&net, |s| s.state_whole_digests), whole, "{mode:?}");
        let per_node = (bytes(&net) - before) / n as u64;
        // A whole digest of 40 owners is ~1.3 KB, sent every round before summaries.
        assert!(
            per_node < 1_300,
            "{mode:?}: {per_node} bytes per node for one key"
        );
    }
}

#[test]
fn a_burst_beyond_the_recent_list_falls_back_to_whole_digests_and_converges() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let n = 2 * MAX_RECENT + 8;
        let mut net = rested(n, mode, 4);
        let whole = total(&net, |s| s.state_whole_digests);
        for i in 0..n {
            net.nodes[i].set(net.now, "burst", vec![3]).unwrap();
        }
        net.rounds_to_converge(200);
        for i in 0..n {
            assert_eq!(net.value(i, n - 1, "burst"), Some(vec![3]), "{mode:?}");
        }
        assert!(total(&net, |s| s.state_whole_digests) > whole, "{mode:?}");
    }
}

#[test]
fn only_a_member_wakes_an_idle_node_and_generation_zero_deltas_are_refused() {
    let mut net = Net::new(3, &config(StateMode::PushPull), 5);
    let in_use = super::summary::in_use;
    let stranger = SocketAddr::from(([10, 9, 9, 9], 9));
    let from = stranger;
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from,
            sync: in_use(),
        },
    );
    assert!(
        !net.nodes[1].is_active(),
        "a stranger's datagram woke the node"
    );
    let from = super::tests_harness::addr(0);
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from,
            sync: in_use(),
        },
    );
    assert!(net.nodes[1].is_active(), "a member's gossip did not");
    // Generation 0 says "none held" in a summary; deltas under it are refused.
    let deltas = crate::codec::StateDeltas {
        owner: name("n0"),
        generation: 0,
        watermark: 0,
        max_version: 1,
        from: 0,
        to: 1,
        entries: vec![crate::codec::StateEntry {
            key: StateKey::new("k").unwrap(),
            version: 1,
            value: None,
        }],
    };
    let sync = StateSync {
        want: StateWant::Nothing,
        summary: None,
        digest: Vec::new(),
        deltas: vec![deltas],
    };
    let before = net.nodes[2].counters.snapshot().refused_state;
    net.nodes[2].handle(net.now, StateInput::Message { from, sync });
    assert_eq!(net.nodes[2].counters.snapshot().refused_state, before + 1);
    assert_eq!(net.nodes[2].held(&name("n0")), None);
}
