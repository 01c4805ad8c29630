//! Unit tests: components wired by hand through a tiny router that encodes and decodes
//! every leg with the real codec, with explicit `now`.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::time::Duration;

use rand::SeedableRng;

use super::*;
use crate::codec::{PacketWriter, StateDeltas, StateEntry, decode_packet, decode_state_frame};
use crate::protocol::peers::Peer;

pub(super) const CLUSTER: u64 = 7;

pub(super) fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

pub(super) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 1000 + u16::try_from(i).unwrap()))
}

pub(super) fn config(mode: StateMode) -> StateConfig {
    StateConfig {
        mode,
        ..StateConfig::default()
    }
}

/// Components wired by hand: every output is encoded, checked against its budget,
/// decoded and handed to its destination, until nothing moves.
pub(super) struct Net {
    pub(super) nodes: Vec<KvState>,
    /// Each node's live peers.
    views: Vec<PeerView>,
    /// A cut node sends and receives nothing (its exchanges fail).
    pub(super) cut: Vec<bool>,
    pub(super) now: Instant,
    /// Every change event seen, per node.
    pub(super) changes: Vec<Vec<StateChange>>,
    /// Largest datagram and frame seen.
    pub(super) largest: (usize, usize),
    pub(super) tcp_exchanges: usize,
}

impl Net {
    /// `n` components named n0.., all peers of each other, generation 1.
    pub(super) fn new(n: usize, config: &StateConfig, seed: u64) -> Net {
        let mut views = Vec::new();
        let nodes = (0..n)
            .map(|i| {
                let rng = ChaCha8Rng::seed_from_u64(seed * 1000 + i as u64);
                let local = name(&format!("n{i}"));
                let view = PeerView::new();
                views.push(view.clone());
                KvState::new(config.clone(), local, 1, CLUSTER, view, Instant::ZERO, rng)
            })
            .collect();
        let mut net = Net {
            nodes,
            views,
            cut: vec![false; n],
            now: Instant::ZERO,
            changes: vec![Vec::new(); n],
            largest: (0, 0),
            tcp_exchanges: 0,
        };
        for i in 0..n {
            for j in (0..n).filter(|j| *j != i) {
                net.link(i, j);
            }
        }
        net
    }

    /// Makes `j` a live peer of `i`.
    pub(super) fn link(&mut self, i: usize, j: usize) {
        self.views[i].push(Peer {
            name: name(&format!("n{j}")),
            addr: addr(j),
            suspect: false,
        });
    }

    /// Every node loses all its live peers (their state is kept).
    pub(super) fn isolate(&mut self) {
        for view in &self.views {
            view.replace(Vec::new());
        }
    }

    /// Advances one interval: every node's round, then every message until quiet.
    pub(super) fn round(&mut self) {
        self.now = self.now + Duration::from_secs(1);
        let mut queue = VecDeque::new();
        for i in 0..self.nodes.len() {
            self.nodes[i].handle_timeout(self.now);
            self.drain(i, &mut queue);
        }
        while let Some((from, output)) = queue.pop_front() {
            self.deliver(from, output, &mut queue);
        }
    }

    fn drain(&mut self, i: usize, queue: &mut VecDeque<(usize, Output)>) {
        while let Some(o) = self.nodes[i].poll_output() {
            queue.push_back((i, o));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            if let StateEvent::Change(c) = e {
                self.changes[i].push(c);
            }
        }
    }

    fn deliver(&mut self, from: usize, output: Output, queue: &mut VecDeque<(usize, Output)>) {
        let now = self.now;
        let mtu = self.nodes[from].config.mtu;
        let max_frame = self.nodes[from].config.max_sync_frame;
        match output {
            Output::Dissemination(DisseminationInput::Send { to, messages }) => {
                let mut w = PacketWriter::new(
                    &Header {
                        cluster: 7,
                        flags: 0,
                    },
                    mtu,
                );
                for m in &messages {
                    assert!(w.push(m), "a state message must fit one datagram");
                }
                let bytes = w.finish();
                self.largest.0 = self.largest.0.max(bytes.len());
                let to = self.index(to);
                if self.cut[from] || self.cut[to] {
                    return;
                }
                for m in decode_packet(&bytes).unwrap().messages {
                    let Message::State(sync) = m else {
                        panic!("only state messages expected")
                    };
                    let input = StateInput::Message {
                        from: addr(from),
                        sync,
                    };
                    self.nodes[to].handle(now, input);
                }
                self.drain(to, queue);
            }
            Output::Net(NetOutput::Exchange {
                request, to, frame, ..
            }) => {
                self.tcp_exchanges += 1;
                assert!(frame.len() <= max_frame);
                self.largest.1 = self.largest.1.max(frame.len());
                let to = self.index(to);
                let result = if self.cut[from] || self.cut[to] {
                    Err("partitioned".to_string())
                } else {
                    let (_, sync) = decode_state_frame(&frame).unwrap();
                    self.nodes[to].handle(now, StateInput::SyncRequest { conn: 1, sync });
                    let mut answer = None;
                    while let Some(o) = self.nodes[to].poll_output() {
                        match o {
                            Output::Net(NetOutput::Reply { conn: 1, frame }) => {
                                assert!(frame.len() <= max_frame);
                                answer = Some(decode_state_frame(&frame).unwrap().1);
                            }
                            other => queue.push_back((to, other)),
                        }
                    }
                    self.drain(to, queue);
                    answer.ok_or_else(|| "no answer".to_string())
                };
                let input = StateInput::SyncResponse { request, result };
                self.nodes[from].handle(now, input);
                self.drain(from, queue);
            }
            other => panic!("unexpected output {other:?}"),
        }
    }

    fn index(&self, to: SocketAddr) -> usize {
        usize::from(to.port() - 1000)
    }

    /// Whether every node's digest equals every other's (owners that never wrote are
    /// not held by others: there is nothing to hold).
    pub(super) fn converged(&self) -> bool {
        let digest = |n: &KvState| -> Vec<StateDigest> {
            n.digest()
                .into_iter()
                .filter(|d| d.max_version > 0)
                .collect()
        };
        let first = digest(&self.nodes[0]);
        self.nodes.iter().all(|n| digest(n) == first)
    }

    /// Rounds until converged (at most `limit`).
    pub(super) fn rounds_to_converge(&mut self, limit: u32) -> u32 {
        for r in 1..=limit {
            self.round();
            if self.converged() {
                return r;
            }
        }
        panic!("no convergence within {limit} rounds");
    }

    pub(super) fn value(&self, at: usize, owner: usize, key: &str) -> Option<Vec<u8>> {
        let owner = name(&format!("n{owner}"));
        self.nodes[at].get(&owner, key).map(|v| v.to_vec())
    }
}

fn max_of(node: &KvState, owner: &str) -> u64 {
    let owner = name(owner);
    node.digest()
        .iter()
        .find(|d| d.owner == owner)
        .map_or(0, |d| d.max_version)
}

#[test]
fn a_set_on_a_reaches_b_in_each_mode() {
    for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
        let mut net = Net::new(2, &config(mode), 1);
        net.nodes[0]
            .set(net.now, "color", b"blue".to_vec())
            .unwrap();
        let rounds = net.rounds_to_converge(5);
        assert_eq!(rounds, 1, "{mode:?}: both exchange every round");
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
    assert_eq!(n.set(now, "", vec![1]), Err(StateError::InvalidKey));
    assert_eq!(n.delete(now, ""), Err(StateError::InvalidKey));
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
    // Through the input, answered as an event.
    let input = StateInput::Set {
        request: 9,
        key: String::new(),
        value: vec![],
    };
    n.handle(now, input);
    let answer = StateEvent::Written(9, Err(StateError::InvalidKey));
    assert_eq!(n.poll_event(), Some(answer));
    assert_eq!(n.digest()[0].max_version, 5);
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
    let (deltas, whole) = store.deltas_for(&[], 500, 0);
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
    // Generation 4 is older: ignored.
    let sync = leg(deltas(4, 0, vec![entry("c", 7)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!((b.get(&name("n0"), "c"), max_of(b, "n0")), (None, 2));
    // Versions out of order: ignored whole.
    let sync = leg(deltas(5, 2, vec![entry("d", 4), entry("e", 3)]));
    b.handle(Instant::ZERO, StateInput::Message { from, sync });
    assert_eq!(max_of(b, "n0"), 2);
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
    net.nodes[0] = KvState::new(c, name("n0"), 2, CLUSTER, view, net.now, rng);
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
