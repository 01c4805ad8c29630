//! Loopback: encryption turned on in a running plaintext cluster of ten nodes, and a key
//! rotated across a running encrypted cluster, each one node at a time through the node's
//! handle, with broadcasts and key-value writes throughout: no node suspects another,
//! nothing is refused, every broadcast and write arrives once; afterwards a node without
//! the key cannot join.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Cluster, WAIT, builder, wait_until};
use epidemic::{EncryptionMode, JoinError, Key, Keyring, Node};

/// One step of a rolling change, applied to one node.
type Step<'a> = &'a dyn Fn(&Node);

fn key(n: u8) -> Key {
    Key::from_bytes(&[n; 32]).unwrap()
}

/// Node `i` broadcasts `{tag}-{i}` and writes it under key `tag`; the test later checks
/// both arrived everywhere.
fn broadcast_and_write(cluster: &Cluster, i: usize, tag: &str) {
    let payload = format!("{tag}-{i}");
    cluster.node(i).broadcast(payload.clone()).unwrap();
    cluster.node(i).set(tag, payload).unwrap();
}

/// Waits until every node got every other node's broadcast `{tag}-{i}` exactly once and
/// holds every other node's write of key `tag`.
fn wait_delivered(cluster: &Cluster, tag: &str) {
    let n = cluster.nodes.len();
    let missing = || {
        let mut missing = Vec::new();
        for receiver in 0..n {
            for origin in (0..n).filter(|&o| o != receiver) {
                let (from, payload) = (cluster.name(origin), format!("{tag}-{origin}"));
                let node = cluster.node(receiver);
                let delivered = node.logs.deliveries(&from, payload.as_bytes());
                let written = node.get(&from, tag).unwrap() == Some(payload.clone().into_bytes());
                if delivered != 1 || !written {
                    missing.push(format!(
                        "{} has {payload} delivered {delivered}x, written {written}",
                        cluster.name(receiver)
                    ));
                }
            }
        }
        missing
    };
    wait_until(
        WAIT,
        || format!("every `{tag}` broadcast and write arrives: {:?}", missing()),
        || missing().is_empty(),
    );
}

/// No node suspected or failed anyone, and nothing sealed was refused.
fn assert_no_false_failure(cluster: &Cluster) {
    for (i, node) in cluster.nodes.iter().enumerate() {
        let stats = node.stats();
        assert_eq!(stats.suspicions, 0, "{} suspected someone", cluster.name(i));
        let bad_events = node
            .logs
            .events
            .lock()
            .iter()
            .filter(|e| matches!(e.kind(), "suspect" | "fail"))
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert!(bad_events.is_empty(), "{}: {bad_events:?}", cluster.name(i));
        let refused = [
            stats.dropped_plaintext,
            stats.dropped_unknown_key,
            stats.dropped_forged,
            stats.dropped_stale,
            stats.dropped_replayed,
        ];
        assert_eq!(refused, [0; 5], "{} refused input", cluster.name(i));
    }
}

/// One round of a rolling change: `step` on each node in turn, each followed by that
/// node's broadcast and write tagged `tag`; then waits until all of them arrived.
fn rolling_round(cluster: &Cluster, tag: &str, step: Step) {
    for i in 0..cluster.nodes.len() {
        step(cluster.node(i));
        broadcast_and_write(cluster, i, tag);
    }
    wait_delivered(cluster, tag);
}

/// A fresh node built by `customize` cannot join the cluster through node 0.
fn assert_cannot_join(cluster: &Cluster, name: &str, customize: impl FnOnce(Node) -> Node) {
    let node = builder(name, 0xbad, &cluster.config).start().unwrap();
    let node = customize(node);
    let joined = node.join(&[cluster.node(0).local_addr()]);
    assert!(
        matches!(joined, Err(JoinError::AllFailed(_) | JoinError::Timeout)),
        "{name} joined: {joined:?}"
    );
    node.stop();
}

#[test]
fn encryption_is_turned_on_across_ten_running_nodes_with_no_false_failure() {
    let cluster = Cluster::start("node-enc-rollout", "rollout", 10, 4100);
    let secret = key(7);
    rolling_round(&cluster, "opening", &|node| {
        node.handle().install_key(secret.clone()).unwrap();
        let mode = node.handle().set_encryption_mode(EncryptionMode::Opening);
        mode.unwrap();
    });
    // Everyone opens, nobody seals yet.
    for node in &cluster.nodes {
        assert_eq!((node.stats().sealed_in, node.stats().sealed_out), (0, 0));
    }
    rolling_round(&cluster, "sealing", &|node| {
        let mode = node.handle().set_encryption_mode(EncryptionMode::Sealing);
        mode.unwrap();
    });
    let sealed_before_required: Vec<u64> =
        cluster.nodes.iter().map(|n| n.stats().sealed_in).collect();
    assert!(
        sealed_before_required.iter().all(|&s| s > 0),
        "{sealed_before_required:?}"
    );
    rolling_round(&cluster, "required", &|node| {
        let mode = node.handle().set_encryption_mode(EncryptionMode::Required);
        mode.unwrap();
    });
    assert_no_false_failure(&cluster);
    for node in &cluster.nodes {
        assert_eq!(node.handle().encryption_mode(), EncryptionMode::Required);
    }

    // Encryption is on for real: a plaintext node is refused, and counted where it knocked.
    let plaintext_before = cluster.node(0).stats().dropped_plaintext;
    assert_cannot_join(&cluster, "rollout-plain", |node| node);
    assert!(cluster.node(0).stats().dropped_plaintext > plaintext_before);
}

#[test]
fn a_key_is_rotated_across_a_running_cluster_losing_nothing() {
    let (old, new) = (key(1), key(2));
    let cluster = Cluster::start_with("node-enc-rotate", "rotate", 8, 4200, |_, b| {
        b.keyring(Keyring::new(old.clone()))
    });
    let rounds: [(&str, Step); 3] = [
        ("install", &|node| {
            node.handle().install_key(new.clone()).unwrap()
        }),
        ("use", &|node| node.handle().use_key(new.id()).unwrap()),
        ("remove", &|node| {
            node.handle().remove_key(old.id()).unwrap()
        }),
    ];
    for (tag, step) in rounds {
        rolling_round(&cluster, tag, step);
    }
    assert_no_false_failure(&cluster);
    for node in &cluster.nodes {
        assert_eq!(node.handle().keys(), vec![new.id()]);
        assert!(node.stats().sealed_in > 0);
    }

    // A node still holding only the old key is refused, by its key.
    let unknown_before = cluster.node(0).stats().dropped_unknown_key;
    assert_cannot_join(&cluster, "rotate-old-key", |node| {
        let handle = node.handle();
        handle.install_key(old.clone()).unwrap();
        handle
            .set_encryption_mode(EncryptionMode::Required)
            .unwrap();
        node
    });
    assert!(cluster.node(0).stats().dropped_unknown_key > unknown_before);
}
