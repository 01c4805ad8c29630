//! Well-formed but hostile state legs: numbers at every edge, owners that are no members,
//! values over the configured limit, and a forgery the owner itself undoes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use super::tests_harness::{Net, addr, config, max_of, name};
use super::trust::{GENERATION_AHEAD, MAX_VERSION};
use super::*;
use crate::codec::{StateDeltas, StateEntry};
use crate::protocol::peers::Peer;

const EDGES: [u64; 4] = [0, 1, u64::MAX - 1, u64::MAX];

fn entry(key: &str, version: u64, len: usize) -> StateEntry {
    StateEntry {
        key: StateKey::new(key).unwrap(),
        version,
        value: Some(Arc::from(vec![b'x'; len])),
    }
}

fn deltas(owner: &str, generation: u64, max: u64, entries: Vec<StateEntry>) -> StateDeltas {
    StateDeltas {
        owner: name(owner),
        generation,
        watermark: 0,
        max_version: max,
        from: 0,
        to: entries.last().map_or(0, |e| e.version).max(max.min(1)),
        entries,
    }
}

fn leg(deltas: Vec<StateDeltas>, digest: Vec<StateDigest>) -> StateSync {
    StateSync {
        want: StateWant::Nothing,
        summary: None,
        digest,
        deltas,
    }
}

/// A stranger's address: no member is there.
fn stranger() -> SocketAddr {
    SocketAddr::from(([10, 9, 9, 9], 9))
}

fn refused(net: &Net, i: usize) -> u64 {
    net.nodes[i].counters.snapshot().refused_state
}

#[test]
fn numbers_at_every_edge_neither_overflow_nor_freeze_a_replica() {
    for &g in &EDGES {
        for &v in &EDGES {
            let mut net = Net::new(2, &config(StateMode::PushPull), 11);
            net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
            net.rounds_to_converge(5);
            let from = stranger();
            let forged = deltas("n0", g, v, vec![entry("k", v.max(1), 1)]);
            let digest = StateDigest {
                owner: name("n0"),
                generation: g,
                max_version: v,
                watermark: v,
            };
            let sync = leg(vec![forged], vec![digest]);
            net.nodes[1].handle(net.now, StateInput::Message { from, sync });
            // The owner's next writes still reach the replica, whatever was taken.
            net.nodes[0].set(net.now, "k", b"b".to_vec()).unwrap();
            net.rounds_to_converge(20);
            assert_eq!(
                net.value(1, 0, "k").as_deref(),
                Some(&b"b"[..]),
                "g {g} v {v}"
            );
            assert!(max_of(&net.nodes[1], "n0") <= MAX_VERSION);
        }
    }
}

#[test]
fn a_generation_from_the_future_is_refused_and_one_within_the_skew_is_undone_by_the_owner() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 12);
    net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
    net.rounds_to_converge(5);
    let skew = GENERATION_AHEAD.as_micros() as u64;
    let far = deltas("n0", 1 + skew + 10_000_000, 1, vec![entry("k", 1, 1)]);
    let from = stranger();
    let sync = leg(vec![far], Vec::new());
    net.nodes[1].handle(net.now, StateInput::Message { from, sync });
    assert_eq!(refused(&net, 1), 1);
    // Within the skew it is taken (it could be a restart) ...
    let near = deltas("n0", skew / 2, 1, vec![entry("k", 1, 1)]);
    let sync = leg(vec![near], Vec::new());
    net.nodes[1].handle(net.now, StateInput::Message { from, sync });
    assert_eq!(net.value(1, 0, "k").as_deref(), Some(&b"x"[..]));
    // ... until the owner itself says it holds an older one: its word wins.
    net.rounds_to_converge(20);
    assert_eq!(net.value(1, 0, "k").as_deref(), Some(&b"a"[..]));
}

#[test]
fn a_forged_max_version_cannot_hide_the_owners_writes() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 13);
    net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
    net.rounds_to_converge(5);
    // A stranger claims versions up to the ceiling, sending none of them.
    let mut forged = deltas("n0", 1, MAX_VERSION, Vec::new());
    forged.from = 1;
    forged.to = MAX_VERSION;
    let from = stranger();
    let sync = leg(vec![forged], Vec::new());
    net.nodes[1].handle(net.now, StateInput::Message { from, sync });
    assert_eq!(max_of(&net.nodes[1], "n0"), 1, "no evidence, no max");
    net.nodes[0].set(net.now, "k", b"b".to_vec()).unwrap();
    net.rounds_to_converge(10);
    assert_eq!(net.value(1, 0, "k").as_deref(), Some(&b"b"[..]));
}

#[test]
fn owners_must_be_members_values_must_fit_and_forgotten_owners_are_freed() {
    let mut c = config(StateMode::PushPull);
    c.max_value_len = 8;
    let mut net = Net::new(2, &c, 14);
    let from = stranger();
    // An owner nobody knows: no replica.
    let ghost = deltas("ghost", 1, 1, vec![entry("k", 1, 1)]);
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from,
            sync: leg(vec![ghost], Vec::new()),
        },
    );
    assert_eq!(net.nodes[1].held(&name("ghost")), None);
    // Thousands of unknown owners cost at most the per-second budget of checks.
    let many: Vec<StateDeltas> = (0..2000)
        .map(|i| deltas(&format!("g{i}"), 1, 1, vec![entry("k", 1, 1)]))
        .collect();
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from,
            sync: leg(many, Vec::new()),
        },
    );
    assert!(net.nodes[1].digest().len() <= 2);
    // A value over the configured limit (the codec would carry 16 KiB): refused whole.
    let before = refused(&net, 1);
    let big = deltas("n0", 1, 1, vec![entry("k", 1, 9)]);
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from,
            sync: leg(vec![big], Vec::new()),
        },
    );
    assert_eq!(refused(&net, 1), before + 1);
    assert_eq!(net.value(1, 0, "k"), None);
    // A member's state is freed once the table forgets the member.
    net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
    net.rounds_to_converge(5);
    assert!(net.nodes[1].held(&name("n0")).is_some());
    net.views[1].forget(&name("n0"));
    for _ in 0..3 {
        net.now = net.now + Duration::from_secs(1);
        net.nodes[1].handle_timeout(net.now);
    }
    assert_eq!(net.nodes[1].held(&name("n0")), None);
    let gone = std::iter::from_fn(|| net.nodes[1].poll_output()).any(|o| {
        matches!(o, Output::Out(crate::protocol::Egress::Deliver(Delivery::StateChange(c)))
            if c.owner == name("n0") && c.value.is_none())
    });
    assert!(gone, "the freed keys are reported deleted");
}

#[test]
fn a_claim_to_hold_more_of_an_owner_than_it_wrote_is_refuted_by_the_owner() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 15);
    net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
    net.rounds_to_converge(5);
    let generation = net.nodes[0].digest()[0].generation;
    // A stranger plants the owner's next version at the replica: a forged "k2".
    let mut forged = deltas("n0", generation, 2, vec![entry("k2", 2, 1)]);
    forged.from = 1;
    let sync = leg(vec![forged], Vec::new());
    let from = stranger();
    net.nodes[1].handle(net.now, StateInput::Message { from, sync });
    assert_eq!(max_of(&net.nodes[1], "n0"), 2);
    assert_eq!(net.value(1, 0, "k2").as_deref(), Some(&b"x"[..]));
    // The owner sees the replica's digest claim version 2, which it never wrote: it moves
    // to a newer generation, and the replica drops the forgery and copies it afresh.
    net.rounds_to_converge(20);
    let now = net.nodes[0].digest()[0].clone();
    assert!(
        now.generation > generation,
        "refuted with a newer generation"
    );
    assert_eq!(net.value(1, 0, "k2"), None);
    assert_eq!(net.value(1, 0, "k").as_deref(), Some(&b"a"[..]));
    // Its next write reaches the replica.
    net.nodes[0].set(net.now, "k3", b"c".to_vec()).unwrap();
    net.rounds_to_converge(20);
    assert_eq!(net.value(1, 0, "k3").as_deref(), Some(&b"c"[..]));
}

/// Plants a forged generation of n0 at n1, then a forged watermark above its max: the
/// replica resyncs, its digest says `watermark > max_version`.
fn plant_resyncing_forgery(net: &mut Net) -> u64 {
    let generation = net.nodes[0].digest()[0].generation + 1_000;
    let from = stranger();
    let forged = deltas("n0", generation, 1, vec![entry("k", 1, 1)]);
    let resync = StateDigest {
        owner: name("n0"),
        generation,
        max_version: 0,
        watermark: 3,
    };
    for sync in [leg(vec![forged], Vec::new()), leg(Vec::new(), vec![resync])] {
        net.nodes[1].handle(net.now, StateInput::Message { from, sync });
    }
    let held = net.nodes[1].digest();
    let planted = held.iter().find(|d| d.owner == name("n0")).unwrap();
    assert!(planted.generation == generation && planted.watermark > planted.max_version);
    generation
}

#[test]
fn a_forgery_held_by_a_resyncing_replica_is_still_refuted() {
    // Values too large for a datagram: every leg goes over TCP, where no leg speaks for
    // its owner, so only the owner's refutation can undo the forgery (found by the
    // simulator's adversary: the owner refused the resyncing digest that shows it).
    let mut net = Net::new(2, &config(StateMode::PushPull), 16);
    for key in ["a", "b", "c"] {
        net.nodes[0].set(net.now, key, vec![b'v'; 900]).unwrap();
    }
    net.rounds_to_converge(5);
    assert!(net.tcp_exchanges > 0);
    let forged = plant_resyncing_forgery(&mut net);
    net.rounds_to_converge(20);
    assert!(
        net.nodes[0].digest()[0].generation > forged,
        "the owner refuted"
    );
    assert_eq!(net.value(1, 0, "a"), Some(vec![b'v'; 900]));
    assert_eq!(net.value(1, 0, "k"), None);
}

#[test]
fn an_owner_speaks_for_itself_even_where_a_forged_member_claims_its_address() {
    let mut net = Net::new(2, &config(StateMode::PushPull), 17);
    net.nodes[0].set(net.now, "k", b"a".to_vec()).unwrap();
    net.rounds_to_converge(5);
    let owners = net.nodes[0].digest();
    plant_resyncing_forgery(&mut net);
    // A fabricated member at n0's address, listed before n0.
    let ghost = Peer {
        name: name("ghost"),
        addr: addr(0),
    };
    let own = Peer {
        name: name("n0"),
        addr: addr(0),
    };
    net.views[1].forget(&name("n0"));
    net.views[1].push(ghost);
    net.views[1].push(own);
    // n0's own digest, from its own address: it holds an older generation, so the
    // replica is replaced at once (no refutation needed).
    let sync = leg(Vec::new(), owners);
    net.nodes[1].handle(
        net.now,
        StateInput::Message {
            from: addr(0),
            sync,
        },
    );
    assert_eq!(net.value(1, 0, "k"), None, "the forgery is dropped");
    let held = net.nodes[1].digest();
    let replica = held.iter().find(|d| d.owner == name("n0")).unwrap();
    assert_eq!(replica.generation, net.nodes[0].digest()[0].generation);
}
