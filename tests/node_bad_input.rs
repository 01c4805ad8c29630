//! Loopback: bad datagrams and bad TCP frames are counted and dropped while the cluster
//! keeps working; two clusters sharing loopback addresses and ports never merge.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use common::{
    Cluster, WAIT, assert_closed_by_node, builder, describe, name, send_datagram, wait_until,
};
use epidemic::codec::{
    Alive, Frame, Header, MemberRecord, Message, PushPull, UserMessage, encode_frame, encode_packet,
};
use epidemic::{JoinError, MemberState, Stats};

/// The four "bad input" counters: malformed, oversized, wrong version, wrong cluster.
fn drops(stats: &Stats) -> [u64; 4] {
    [
        stats.dropped_malformed,
        stats.dropped_oversized,
        stats.dropped_wrong_version,
        stats.dropped_wrong_cluster,
    ]
}

const MALFORMED: usize = 0;
const OVERSIZED: usize = 1;
const WRONG_VERSION: usize = 2;
const WRONG_CLUSTER: usize = 3;
const COUNTER_NAMES: [&str; 4] = [
    "dropped_malformed",
    "dropped_oversized",
    "dropped_wrong_version",
    "dropped_wrong_cluster",
];

/// An `alive` for a node that does not exist: were it ever accepted, it would show up in
/// member tables.
fn intruder(name_: &str) -> Message {
    Message::Alive(Alive {
        name: name(name_),
        incarnation: 7,
        addr: "127.0.0.1:9".parse().unwrap(),
        metadata: Arc::from(&b"intruder"[..]),
    })
}

/// Waits until node `target`'s drop counters equal `before` plus one in `counter`, and
/// checks nothing else was counted (each bad input is classified exactly once).
fn expect_one_drop(cluster: &Cluster, target: usize, before: [u64; 4], counter: usize, what: &str) {
    let mut expected = before;
    expected[counter] += 1;
    let node = cluster.node(target);
    wait_until(
        WAIT,
        || {
            format!(
                "{what} is counted in {} (counters {:?}, expected {expected:?}; {:?})",
                COUNTER_NAMES[counter],
                drops(&node.stats()),
                node.stats()
            )
        },
        || drops(&node.stats())[counter] >= expected[counter],
    );
    assert_eq!(
        drops(&node.stats()),
        expected,
        "{what}: counters [malformed, oversized, wrong_version, wrong_cluster] changed wrongly"
    );
}

/// After abuse: a new node can still join through `via` and be seen alive by everyone, and
/// a broadcast from `via` still reaches every other node.
fn assert_still_works(cluster: &mut Cluster, newcomer: &str, seed: u64, via: usize) {
    let n = cluster.nodes.len() + 1;
    cluster.add(newcomer, seed, via);
    let everyone = cluster.others(&[]);
    cluster.wait_all_alive(&everyone, n);
    let payload = format!("still working after abuse, says {}", cluster.name(via)).into_bytes();
    cluster.node(via).broadcast(payload.clone()).unwrap();
    let from = cluster.name(via);
    let others = cluster.others(&[via]);
    wait_until(
        WAIT,
        || {
            let counts: Vec<usize> = others
                .iter()
                .map(|&i| cluster.node(i).logs.deliveries(&from, &payload))
                .collect();
            format!("the broadcast reaches every other node (deliveries {counts:?})")
        },
        || {
            others
                .iter()
                .all(|&i| cluster.node(i).logs.deliveries(&from, &payload) == 1)
        },
    );
}

/// No node of `cluster` knows any member whose name does not start with `prefix`.
fn assert_only_own_members(cluster: &Cluster, prefix: &str) {
    for test_node in &cluster.nodes {
        for m in test_node.members().iter() {
            assert!(
                m.name().starts_with(prefix),
                "{} holds a foreign member {}:\n{}",
                test_node.name(),
                m.name,
                describe([&test_node.node])
            );
        }
    }
}

/// Malformed, truncated, oversized, wrong-version, wrong-flags and wrong-cluster datagrams
/// are each counted once, in the right counter, and change nothing.
#[test]
fn bad_datagrams_are_counted_and_dropped() {
    let mut cluster = Cluster::start("node-bad-datagrams", "dgram", 3, 800);
    let target = 1;
    let to = cluster.node(target).local_addr();
    let ours = Header {
        cluster: cluster.config.cluster_id(),
        flags: 0,
    };

    let before = drops(&cluster.node(target).stats());
    send_datagram(to, b"definitely not a gossip datagram");
    expect_one_drop(
        &cluster,
        target,
        before,
        MALFORMED,
        "a datagram with bad magic",
    );

    let before = drops(&cluster.node(target).stats());
    let whole = encode_packet(&ours, &[intruder("intruder-truncated")]).unwrap();
    send_datagram(to, &whole[..whole.len() - 5]);
    expect_one_drop(&cluster, target, before, MALFORMED, "a truncated datagram");

    // A well-formed packet of our cluster carrying a broadcast, but over the 1400-byte MTU.
    let before = drops(&cluster.node(target).stats());
    let big = Message::User(UserMessage {
        origin: name("intruder-oversized"),
        seq: 1,
        payload: Arc::from(vec![0x5a; 1900]),
    });
    let oversized = encode_packet(&ours, &[big]).unwrap();
    assert!(oversized.len() > cluster.config.mtu);
    send_datagram(to, &oversized);
    expect_one_drop(&cluster, target, before, OVERSIZED, "a 2000-byte datagram");

    let before = drops(&cluster.node(target).stats());
    let mut v2 = encode_packet(&ours, &[intruder("intruder-version")]).unwrap();
    v2[2] = 2;
    send_datagram(to, &v2);
    expect_one_drop(
        &cluster,
        target,
        before,
        WRONG_VERSION,
        "a version-2 datagram",
    );

    let before = drops(&cluster.node(target).stats());
    // A flag this build does not know (flag 1, sealed, is an encrypted packet: `UnknownKey`).
    let flagged = Header {
        flags: 0x80,
        ..ours
    };
    send_datagram(
        to,
        &encode_packet(&flagged, &[intruder("intruder-flags")]).unwrap(),
    );
    expect_one_drop(
        &cluster,
        target,
        before,
        WRONG_VERSION,
        "a datagram with envelope flags",
    );

    let before = drops(&cluster.node(target).stats());
    let theirs = Header {
        cluster: common::local_config("some-other-cluster").cluster_id(),
        flags: 0,
    };
    assert_ne!(theirs.cluster, ours.cluster);
    send_datagram(
        to,
        &encode_packet(&theirs, &[intruder("intruder-cluster")]).unwrap(),
    );
    expect_one_drop(
        &cluster,
        target,
        before,
        WRONG_CLUSTER,
        "another cluster's datagram",
    );

    assert_still_works(&mut cluster, "dgram-late", 850, target);
    assert_only_own_members(&cluster, "dgram-");
    for test_node in &cluster.nodes {
        assert_eq!(
            test_node
                .logs
                .deliveries("intruder-oversized", &[0x5a; 1900]),
            0,
            "{} delivered the oversized datagram's broadcast",
            test_node.name()
        );
    }
}

/// Opens a TCP connection to `to`, as a peer would for a state exchange.
fn connect(to: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(to).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// `frame` with the reactor's `u32` big-endian length prefix.
fn prefixed(frame: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(frame.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(frame);
    out
}

/// A length prefix over 16 MiB, a garbage frame, a frame whose content is cut short and
/// another cluster's frame are each counted and the connection dropped; the node still
/// serves joins and gossip.
#[test]
fn bad_tcp_frames_are_counted_and_dropped() {
    let mut cluster = Cluster::start("node-bad-tcp", "tcp", 3, 900);
    let target = 0;
    let to = cluster.node(target).local_addr();
    let ours = Header {
        cluster: cluster.config.cluster_id(),
        flags: 0,
    };

    let before = drops(&cluster.node(target).stats());
    let mut stream = connect(to);
    // The wire limit: the codec's frame limit and what sealing adds.
    let too_long = u32::try_from(16 * 1024 * 1024 + epidemic::seal::SEALED_OVERHEAD + 1).unwrap();
    stream.write_all(&too_long.to_be_bytes()).unwrap();
    expect_one_drop(
        &cluster,
        target,
        before,
        OVERSIZED,
        "a 16 MiB + 41 length prefix",
    );
    assert_closed_by_node(stream, "an oversized length prefix");

    let before = drops(&cluster.node(target).stats());
    let mut stream = connect(to);
    stream.write_all(&prefixed(&[0xee; 40])).unwrap();
    expect_one_drop(&cluster, target, before, MALFORMED, "a garbage frame");
    assert_closed_by_node(stream, "a garbage frame");

    // A valid push-pull of our cluster, cut short inside its last record; the prefix
    // announces exactly the bytes sent.
    let before = drops(&cluster.node(target).stats());
    let state = PushPull {
        join: true,
        members: vec![MemberRecord {
            name: name("intruder-tcp-truncated"),
            addr: "127.0.0.1:9".parse().unwrap(),
            incarnation: 3,
            state: MemberState::Alive,
            metadata: Arc::from(&b"meta"[..]),
        }],
    };
    let frame = encode_frame(&ours, &Frame::PushPull(state.clone())).unwrap();
    let mut stream = connect(to);
    stream
        .write_all(&prefixed(&frame[..frame.len() - 6]))
        .unwrap();
    expect_one_drop(
        &cluster,
        target,
        before,
        MALFORMED,
        "a frame with truncated content",
    );
    assert_closed_by_node(stream, "a truncated push-pull");

    let before = drops(&cluster.node(target).stats());
    let theirs = Header {
        cluster: common::local_config("some-other-cluster").cluster_id(),
        flags: 0,
    };
    let mut foreign = state;
    foreign.members[0].name = name("intruder-tcp-cluster");
    let frame = encode_frame(&theirs, &Frame::PushPull(foreign)).unwrap();
    let mut stream = connect(to);
    stream.write_all(&prefixed(&frame)).unwrap();
    expect_one_drop(
        &cluster,
        target,
        before,
        WRONG_CLUSTER,
        "another cluster's frame",
    );
    assert_closed_by_node(stream, "another cluster's frame");

    assert_still_works(&mut cluster, "tcp-late", 950, target);
    assert_only_own_members(&cluster, "tcp-");
}

/// A peer that announces a frame, sends part of it and hangs up: the half frame is counted
/// as malformed input, and the node keeps serving.
#[test]
fn a_frame_cut_off_by_a_hangup_is_counted() {
    let mut cluster = Cluster::start("node-bad-tcp-hangup", "hang", 2, 1000);
    let target = 0;
    let to = cluster.node(target).local_addr();
    let ours = Header {
        cluster: cluster.config.cluster_id(),
        flags: 0,
    };
    let state = PushPull {
        join: false,
        members: vec![MemberRecord {
            name: name("intruder-hangup"),
            addr: "127.0.0.1:9".parse().unwrap(),
            incarnation: 3,
            state: MemberState::Alive,
            metadata: Arc::from(&b"meta"[..]),
        }],
    };
    let frame = encode_frame(&ours, &Frame::PushPull(state)).unwrap();
    let whole = prefixed(&frame);
    let frames_before = cluster.node(target).stats().frames_in;
    let before = drops(&cluster.node(target).stats());
    {
        let mut stream = connect(to);
        // The prefix announces the whole frame; only its first half follows.
        stream.write_all(&whole[..4 + frame.len() / 2]).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_closed_by_node(stream, "half a frame and a hangup");
    }
    expect_one_drop(
        &cluster,
        target,
        before,
        MALFORMED,
        "half a frame, then a hangup",
    );
    assert_eq!(cluster.node(target).stats().frames_in, frames_before);
    assert_still_works(&mut cluster, "hang-late", 1050, target);
    assert_only_own_members(&cluster, "hang-");
}

/// Two clusters with different names on the same loopback address, one node of the second
/// even taking over the port of a stopped node of the first: cross joins fail, the other
/// cluster's datagrams and frames are counted as wrong-cluster drops, and no node ever holds
/// a member of the other cluster.
#[test]
fn two_clusters_sharing_addresses_never_merge() {
    let alpha = Cluster::start("node-bad-alpha", "alpha", 3, 1100);
    let mut beta = Cluster::start("node-bad-beta", "beta", 2, 1200);

    // alpha-2 crashes; beta-2 starts on its very port while alpha still probes it.
    let shared = alpha.node(2).local_addr();
    alpha.node(2).stop();
    let b = builder("beta-2", 1202, &beta.config).bind(shared.to_string());
    let taken = beta.start_node("beta-2", b);
    assert_eq!(beta.node(taken).local_addr(), shared);
    let joined = beta.node(taken).join(&[beta.node(0).local_addr()]);
    assert!(
        matches!(joined, Ok(n) if n >= 1),
        "beta-2 could not join beta: {joined:?}"
    );

    // Cross joins, both ways, fail: the seed drops the foreign frame and hangs up.
    let alpha_seed = alpha.node(0).local_addr();
    let beta_seed = beta.node(0).local_addr();
    match alpha.node(1).join(&[beta_seed]) {
        Err(JoinError::AllFailed(failures)) => {
            assert!(
                failures.iter().any(|(a, _)| *a == beta_seed),
                "{failures:?}"
            );
        }
        other => panic!("alpha-1 joining through beta's seed did not fail: {other:?}"),
    }
    match beta.node(1).join(&[alpha_seed]) {
        Err(JoinError::AllFailed(failures)) => {
            assert!(
                failures.iter().any(|(a, _)| *a == alpha_seed),
                "{failures:?}"
            );
        }
        other => panic!("beta-1 joining through alpha's seed did not fail: {other:?}"),
    }
    wait_until(
        WAIT,
        || {
            format!(
                "both seeds count the other cluster's join frame (alpha-0 {:?}, beta-0 {:?})",
                alpha.node(0).stats(),
                beta.node(0).stats()
            )
        },
        || {
            alpha.node(0).stats().dropped_wrong_cluster >= 1
                && beta.node(0).stats().dropped_wrong_cluster >= 1
        },
    );
    // alpha keeps gossiping to its lost member's address, now beta-2's.
    wait_until(
        WAIT,
        || {
            format!(
                "beta-2 counts alpha's gossip as wrong-cluster: {:?}",
                beta.node(taken).stats()
            )
        },
        || beta.node(taken).stats().dropped_wrong_cluster >= 1,
    );
    // alpha declares its crashed member dead (beta-2 never answers for it) and carries on.
    alpha.wait_state(&[0, 1], "alpha-2", MemberState::Dead);
    alpha.wait_all_alive(&[0, 1], 2);
    beta.wait_all_alive(&[0, 1, taken], 3);

    assert_only_own_members(&alpha, "alpha-");
    assert_only_own_members(&beta, "beta-");
    for test_node in alpha.nodes.iter().chain(beta.nodes.iter()) {
        let own = if test_node.name().as_str().starts_with("alpha") {
            "alpha"
        } else {
            "beta"
        };
        let events = test_node.logs.events.lock();
        let foreign: Vec<String> = events
            .iter()
            .filter(|e| !e.member().name().starts_with(own))
            .map(|e| e.to_string())
            .collect();
        assert!(
            foreign.is_empty(),
            "{} reported events about the other cluster: {foreign:?}",
            test_node.name()
        );
    }
}
