//! Unit tests: one exchange in each mode, relays, bad writes, reads, idle nodes, budgets,
//! gaps and generations, over the harness's hand-wired components.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
use crate::protocol::{Egress, RequestId};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;

use super::tests_harness::{Net, addr, config, max_of, name};
use super::*;
use crate::codec::{StateDeltas, StateEntry};

#[test]
fn a_set_on_a_reaches_b_in_each_mode() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let mut net = Net::new(2, &config(mode), 1);
        net.nodes[0]
            .set(net.now, "color", b"blue".to_vec())
            .unwrap();
        let rounds = net.rounds_to_converge(5);
        // In pull mode the idle b only wakes when a's digest reaches it, and pulls in the
        // next round; in the other modes a's first exchange carries the value.
        let expected = if mode == StateMode::Pull { 2 } else { 1 };
        assert_eq!(rounds, expected, "{mode:?}");
        assert_eq!(net.value(1, 0, "color").as_deref(), Some(&b"blue"[..]));
        let change = StateChange {
            owner: name("n0"),
            key: StateKey::new("color").unwrap(),
            value: Some(Arc::from(&b"blue"[..])),
        };
        assert_eq!(net.changes[1], vec![change], "{mode:?}");
        assert!(net.changes[0].is_empty(), "own writes are not reported");
        // A delete travels the same way.
        net.nodes[0].delete(net.now, "color").unwrap();
        net.rounds_to_converge(5);
        assert_eq!(net.value(1, 0, "color"), None);
        assert_eq!(net.changes[1].last().unwrap().value, None);
        assert_eq!(net.tcp_exchanges, 0, "small exchanges stay in datagrams");
    }
}

#[test]
fn three_nodes_relay_through_the_middle() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let mut net = Net::new(3, &config(mode), 2);
        // Only a-b and b-c know each other.
        net.isolate();
        for (i, j) in [(0, 1), (1, 0), (1, 2), (2, 1)] {
            net.link(i, j);
        }
        net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
        net.nodes[2].set(net.now, "k", b"c".to_vec()).unwrap();
        let rounds = net.rounds_to_converge(20);
        assert!(rounds >= 2, "{mode:?}: needs a relay");
        assert_eq!(net.value(2, 0, "k").as_deref(), Some(&b"a"[..]));
        assert_eq!(net.value(0, 2, "k").as_deref(), Some(&b"c"[..]));
    }
}

#[test]
fn bad_writes_get_typed_errors_and_change_nothing() {
    let mut c = config(StateMode::PushPull);
    c.max_keys = 2;
    let mut net = Net::new(1, &c, 3);
    let n = &mut net.nodes[0];
    let now = Instant::ZERO;
    let long = "k".repeat(129);
    assert_eq!(
        n.set(now, &long, vec![1]),
        Err(StateError::KeyTooLong { len: 129, max: 128 })
    );
    assert_eq!(n.set(now, "", vec![1]), Err(StateError::EmptyKey));
    assert_eq!(n.delete(now, ""), Err(StateError::EmptyKey));
    assert_eq!(
        n.set(now, "k", vec![0; 1025]),
        Err(StateError::ValueTooLarge {
            len: 1025,
            max: 1024
        })
    );
    assert_eq!(n.digest()[0].max_version, 0, "no version was used");
    assert_eq!(n.set(now, &"k".repeat(128), vec![0; 1024]), Ok(1));
    assert_eq!(n.set(now, "b", vec![]), Ok(2));
    assert_eq!(n.set(now, "c", vec![]), Err(StateError::TooManyKeys(2)));
    assert_eq!(n.set(now, "b", vec![1]), Ok(3), "overwriting is fine");
    assert_eq!(n.delete(now, "absent"), Ok(None));
    assert_eq!(n.delete(now, "b"), Ok(Some(4)));
    assert_eq!(n.set(now, "c", vec![]), Ok(5), "room again");
    assert_eq!(n.owner_state(&name("n0")).len(), 2);
    // The first write woke the state: "in use" is gossiped, once.
    let gossip = n.poll_output();
    assert!(
        matches!(
            &gossip,
            Some(Output::To(crate::protocol::ComponentInput::Dissemination(
                DisseminationInput::Enqueue(Message::State(s))
            ))) if s.want == StateWant::Nothing && s.summary.is_some()
        ),
        "{gossip:?}"
    );
    assert!(n.poll_output().is_none());
    // Through the input, answered as a reply.
    let input = StateInput::Set {
        request: RequestId(9),
        key: String::new(),
        value: vec![],
    };
    n.handle(now, input);
    assert!(matches!(
        n.poll_output(),
        Some(Output::Out(Egress::Reply(
            RequestId(9),
            Reply::StateWritten(Err(StateError::EmptyKey))
        )))
    ));
    assert!(n.poll_output().is_none());
    assert_eq!(n.digest()[0].max_version, 5);
}

#[test]
fn reads_are_answered_with_the_value_or_the_whole_map() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 8);
    net.nodes[0].set(net.now, "a", b"1".to_vec()).unwrap();
    net.nodes[0].set(net.now, "b", b"2".to_vec()).unwrap();
    net.rounds_to_converge(5);
    let b = &mut net.nodes[1];
    let (owner, now) = (name("n0"), net.now);
    let key = "b".to_string();
    b.handle(
        now,
        StateInput::Get {
            request: RequestId(1),
            owner: owner.clone(),
            key,
        },
    );
    match b.poll_output() {
        Some(Output::Out(Egress::Reply(RequestId(1), Reply::StateValue(Some(v))))) => {
            assert_eq!(&v[..], b"2")
        }
        other => panic!("expected the value, got {other:?}"),
    }
    let key = "absent".to_string();
    b.handle(
        now,
        StateInput::Get {
            request: RequestId(2),
            owner: owner.clone(),
            key,
        },
    );
    assert!(matches!(
        b.poll_output(),
        Some(Output::Out(Egress::Reply(
            RequestId(2),
            Reply::StateValue(None)
        )))
    ));
    b.handle(
        now,
        StateInput::Read {
            request: RequestId(3),
            owner,
        },
    );
    match b.poll_output() {
        Some(Output::Out(Egress::Reply(RequestId(3), Reply::StateMap(map)))) => {
            let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["a", "b"]);
        }
        other => panic!("expected the map, got {other:?}"),
    }
}

#[test]
fn idle_nodes_have_no_deadline_and_send_nothing_until_state_appears() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let mut net = Net::new(4, &config(mode), 9);
        for _ in 0..10 {
            net.round();
        }
        assert_eq!(net.sent, 0, "{mode:?}: an idle cluster sends nothing");
        assert!(net.nodes.iter().all(|n| n.poll_timeout().is_none()));
        // Deleting an absent key writes nothing: still idle.
        assert_eq!(net.nodes[3].delete(net.now, "k"), Ok(None));
        assert!(net.nodes[3].poll_timeout().is_none());
        // One write wakes its node; the others wake as its exchanges reach them, and
        // every node learns the value (in pull mode too, where only woken nodes pull).
        net.nodes[0].set(net.now, "k", b"v".to_vec()).unwrap();
        // The first round falls at a random point of the next interval.
        let first = net.nodes[0].poll_timeout().unwrap();
        assert!(first > net.now && first <= net.now + Duration::from_secs(1));
        net.rounds_to_converge(30);
        assert!(net.sent > 0);
        for i in 1..4 {
            assert_eq!(net.value(i, 0, "k").as_deref(), Some(&b"v"[..]), "{mode:?}");
        }
        // Nodes that heard state stay active: a later write spreads without new wake-ups.
        assert!(
            net.nodes.iter().all(|n| n.poll_timeout().is_some()),
            "{mode:?}"
        );
    }
}

#[test]
fn deltas_fit_the_budget_and_max_version_never_skips() {
    let mut c = config(StateMode::Pull);
    c.mtu = 600;
    c.max_sync_frame = 2000;
    let mut net = Net::new(2, &c, 4);
    // 40 keys of ~120 bytes: far more than a datagram or a frame holds.
    for k in 0..40 {
        let key = format!("key-{k:02}");
        net.nodes[0].set(net.now, &key, vec![k; 100]).unwrap();
    }
    // Overwrites leave holes in the version sequence.
    for k in (0..40).step_by(3) {
        let key = format!("key-{k:02}");
        net.nodes[0].set(net.now, &key, vec![k + 1; 100]).unwrap();
    }
    let mut last = 0;
    let mut rounds = 0;
    while !net.converged() {
        net.round();
        rounds += 1;
        assert!(rounds < 50, "no convergence");
        let max = max_of(&net.nodes[1], "n0");
        assert!(max >= last, "max version never goes back");
        last = max;
        // Honest max: b holds exactly a's state as of `max`.
        let a = &net.nodes[0].store.replicas[&name("n0")];
        for (key, e) in a.after(0) {
            let b = net.nodes[1].get(&name("n0"), key.as_str());
            if e.version <= max {
                assert_eq!(b, e.value, "{key} at {max}");
            }
        }
    }
    assert!(rounds > 2, "needs several frames");
    assert!(net.largest.1 <= 2000 && net.tcp_exchanges > 0);
    // The cut itself: lowest versions first, `to` the last one sent.
    let store = &net.nodes[0].store;
    let (deltas, whole) = store.deltas_for(&[], false, 500, 0);
    assert!(!whole);
    let d = &deltas[0];
    assert!(d.encoded_len() <= 500 && d.from == 0 && !d.entries.is_empty());
    assert_eq!(d.to, d.entries.last().unwrap().version);
    let versions: Vec<u64> = d.entries.iter().map(|e| e.version).collect();
    let lowest: Vec<u64> = store.replicas[&name("n0")]
        .after(0)
        .map(|(_, e)| e.version)
        .take(versions.len())
        .collect();
    assert_eq!(versions, lowest);
}

#[test]
fn a_gap_or_an_older_generation_is_ignored() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 5);
    let entry = |k: &str, v: u64| StateEntry {
        key: StateKey::new(k).unwrap(),
        version: v,
        value: Some(Arc::from(&b"x"[..])),
    };
    let deltas = |generation, from, entries: Vec<StateEntry>| StateDeltas {
        owner: name("n0"),
        generation,
        watermark: 0,
        max_version: 10,
        from,
        to: entries.last().map_or(from, |e| e.version),
        entries,
    };
    let leg = |d| StateSync {
        want: StateWant::Nothing,
        summary: None,
        digest: Vec::new(),
        deltas: vec![d],
    };
    let b = &mut net.nodes[1];
    let from = addr(0);
    // From 3 while b holds nothing: a gap.
    let sync = leg(deltas(5, 3, vec![entry("a", 4)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!(b.get(&name("n0"), "a"), None);
    let sync = leg(deltas(5, 0, vec![entry("a", 1), entry("b", 2)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!(max_of(b, "n0"), 2);
    // Generation 4 is older: ignored from anyone but the owner...
    let stranger = SocketAddr::from(([10, 9, 9, 9], 9));
    let sync = leg(deltas(4, 0, vec![entry("c", 7)]));
    b.handle(
        Instant::ZERO,
        StateInput::Message {
            from: stranger,
            sync,
        },
    );
    assert_eq!((b.get(&name("n0"), "c"), max_of(b, "n0")), (None, 2));
    // Versions out of order: ignored whole.
    let sync = leg(deltas(5, 2, vec![entry("d", 4), entry("e", 3)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!(max_of(b, "n0"), 2);
    // ... but the owner's own word wins: it holds generation 4, so gen 5 was not its.
    let sync = leg(deltas(4, 0, vec![entry("c", 7)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!((b.get(&name("n0"), "a"), max_of(b, "n0")), (None, 7));
    assert!(b.get(&name("n0"), "c").is_some());
}

#[test]
fn a_restarted_owner_is_not_shadowed_by_its_old_generation() {
    let mut net = Net::new(3, &config(StateMode::PushPull), 6);
    for v in 0..5u8 {
        net.nodes[0].set(net.now, "leader", vec![v]).unwrap();
    }
    net.nodes[0].set(net.now, "old-only", vec![1]).unwrap();
    net.rounds_to_converge(10);
    assert_eq!(max_of(&net.nodes[2], "n0"), 6);
    // n0 restarts: generation 2, versions from 1 again.
    let rng = ChaCha8Rng::seed_from_u64(99);
    let c = config(StateMode::PushPull);
    net.views[0] = PeerView::new();
    let view = net.views[0].clone();
    let counters = Arc::new(Counters::default());
    net.nodes[0] = KvState::new(c, name("n0"), 2, view, net.now, rng, counters);
    net.link(0, 1);
    net.link(0, 2);
    net.nodes[0]
        .set(net.now, "leader", b"new".to_vec())
        .unwrap();
    net.rounds_to_converge(10);
    for i in 1..3 {
        assert_eq!(net.value(i, 0, "leader").as_deref(), Some(&b"new"[..]));
        assert_eq!(
            net.value(i, 0, "old-only"),
            None,
            "the old generation is gone"
        );
        let d = net.nodes[i].digest();
        assert_eq!((d[0].generation, d[0].max_version), (2, 1));
    }
    assert!(net.changes[1].iter().any(|c| c.value.is_none()));
}

/// Nodes that start reconciling at the same instant do not share a round schedule.
#[test]
fn nodes_woken_together_reconcile_at_spread_phases() {
    let mut net = Net::new(8, &config(StateMode::PushPull), 4);
    for i in 0..8 {
        net.nodes[i].set(net.now, "k", b"v".to_vec()).unwrap();
    }
    let firsts: std::collections::BTreeSet<Instant> =
        net.nodes.iter().filter_map(|n| n.poll_timeout()).collect();
    assert_eq!(firsts.len(), 8, "eight distinct first rounds: {firsts:?}");
}
