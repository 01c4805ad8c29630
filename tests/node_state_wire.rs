//! Loopback: key-value state from the network, as raw bytes. A state datagram and a state
//! TCP frame reach the state actor (the frame is answered on its connection); malformed,
//! foreign and unknown-kind input is counted under the right `DropReason` counter and
//! dropped, the connection closed, and the node carries on.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use common::{WAIT, assert_closed_by_node, builder, local_config, name, send_datagram, wait_until};
use epidemic::codec::{
    Alive, Frame, Header, Message, StateDeltas, StateEntry, StateKey, StateSync, StateWant,
    decode_frame, encode_frame, encode_packet,
};
use epidemic::{Node, Stats};

/// `(malformed, wrong cluster)` drop counters.
fn drops(stats: &Stats) -> (u64, u64) {
    (stats.dropped_malformed, stats.dropped_wrong_cluster)
}

/// Waits until `node`'s drop counters reach `expected`, then checks they are exactly it.
fn expect_drops(node: &Node, expected: (u64, u64), what: &str) {
    wait_until(
        WAIT,
        || {
            format!(
                "{what} counted: {:?}, expected {expected:?}",
                drops(&node.stats())
            )
        },
        || drops(&node.stats()) >= expected,
    );
    assert_eq!(drops(&node.stats()), expected, "{what}");
}

/// One write of `owner`: deltas carrying `key = value`.
fn leg_of(owner: &str, key: &str, value: &[u8]) -> StateSync {
    let mut leg = ghost_leg(key, value);
    leg.deltas[0].owner = name(owner);
    leg
}

/// One write of a member named `ghost` (announced, never answering): `key = value`.
fn ghost_leg(key: &str, value: &[u8]) -> StateSync {
    StateSync {
        want: StateWant::Nothing,
        summary: None,
        digest: Vec::new(),
        deltas: vec![StateDeltas {
            owner: name("ghost"),
            generation: 5,
            watermark: 0,
            max_version: 1,
            from: 0,
            to: 1,
            entries: vec![StateEntry {
                key: StateKey::new(key).unwrap(),
                version: 1,
                value: Some(Arc::from(value)),
            }],
        }],
    }
}

/// Sends `frame` (length-prefixed) on a new connection to `to`.
fn send_frame(to: SocketAddr, frame: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(to).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut bytes = u32::try_from(frame.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(frame);
    stream.write_all(&bytes).unwrap();
    stream
}

/// Reads one length-prefixed frame.
fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut frame).unwrap();
    frame
}

#[test]
fn state_datagrams_and_frames_are_routed_and_bad_ones_dropped() {
    let config = local_config("node-state-wire");
    let ours = Header {
        cluster: config.cluster_id(),
        flags: 0,
    };
    let (tx, changes) = crossbeam_channel::unbounded();
    let node = builder("wire-0", 1600, &config)
        .on_state_change(move |owner, key, value| {
            let _ = tx.send((
                owner.to_string(),
                key.to_string(),
                value.map(<[u8]>::to_vec),
            ));
        })
        .start()
        .unwrap();
    let to = node.local_addr();

    // State of an owner the member table does not know is not taken.
    let stranger = leg_of("stranger", "k", b"0");
    let packet = encode_packet(&ours, &[Message::State(stranger)]).unwrap();
    send_datagram(to, &packet);
    // `ghost` introduces itself and becomes a member (it never answers a probe, but it is
    // known until reaped); only members introduce others.
    let ghost = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let alive = Message::Alive(Alive {
        name: name("ghost"),
        incarnation: 1,
        addr: ghost.local_addr().unwrap(),
        metadata: Arc::from(&[][..]),
    });
    ghost
        .send_to(&encode_packet(&ours, &[alive]).unwrap(), to)
        .unwrap();
    wait_until(
        WAIT,
        || "ghost admitted".into(),
        || node.member("ghost").is_some(),
    );

    // A state message in a datagram reaches the state actor.
    let packet = encode_packet(&ours, &[Message::State(ghost_leg("via-udp", b"1"))]).unwrap();
    send_datagram(to, &packet);
    let change = changes.recv_timeout(WAIT).unwrap();
    assert_eq!(
        change,
        ("ghost".into(), "via-udp".into(), Some(b"1".to_vec()))
    );
    // The stranger's leg came first: had it been taken, its change would have been too.
    assert_eq!(node.get("stranger", "k"), Ok(None));

    // A state frame over TCP too, and it is answered on the connection: the node's
    // digest, and the deltas a peer with an empty digest lacks.
    let mut leg = ghost_leg("via-tcp", b"2");
    leg.deltas[0].entries[0].version = 2;
    leg.deltas[0].max_version = 2;
    leg.deltas[0].from = 1;
    leg.deltas[0].to = 2;
    leg.want = StateWant::DeltasAndDigest;
    let mut stream = send_frame(to, &encode_frame(&ours, &Frame::State(leg)).unwrap());
    let (header, Frame::State(answer)) = decode_frame(&read_frame(&mut stream)).unwrap() else {
        panic!("a state frame answers a state frame")
    };
    assert_eq!(header.cluster, ours.cluster);
    assert_eq!(answer.want, StateWant::Deltas);
    assert!(
        answer
            .digest
            .iter()
            .any(|d| d.owner.as_str() == "ghost" && d.max_version == 2)
    );
    let keys: Vec<&str> = answer.deltas[0]
        .entries
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(keys, ["via-udp", "via-tcp"]);
    let change = changes.recv_timeout(WAIT).unwrap();
    assert_eq!(
        change,
        ("ghost".into(), "via-tcp".into(), Some(b"2".to_vec()))
    );
    assert_eq!(node.get("ghost", "via-tcp"), Ok(Some(b"2".to_vec())));

    // Bad input: each counted once, in the right counter, connection closed.
    let frame = encode_frame(&ours, &Frame::State(ghost_leg("bad", b"3"))).unwrap();
    let before = drops(&node.stats());
    assert_closed_by_node(
        send_frame(to, &frame[..frame.len() - 3]),
        "a truncated state frame",
    );
    expect_drops(&node, (before.0 + 1, before.1), "a truncated state frame");

    let theirs = Header {
        cluster: local_config("another-cluster").cluster_id(),
        flags: 0,
    };
    let foreign = encode_frame(&theirs, &Frame::State(ghost_leg("foreign", b"4"))).unwrap();
    let before = drops(&node.stats());
    assert_closed_by_node(send_frame(to, &foreign), "another cluster's state frame");
    expect_drops(
        &node,
        (before.0, before.1 + 1),
        "another cluster's state frame",
    );

    let mut unknown_kind = frame.clone();
    unknown_kind[12] = 9; // the kind byte follows the 12-byte header
    let before = drops(&node.stats());
    assert_closed_by_node(send_frame(to, &unknown_kind), "a frame of unknown kind");
    expect_drops(&node, (before.0 + 1, before.1), "a frame of unknown kind");

    let mut bad_want = encode_packet(&ours, &[Message::State(ghost_leg("udp-bad", b"5"))]).unwrap();
    bad_want[13 + 3] = 7; // after header and count: len u16, type u8, then `want`
    let before = drops(&node.stats());
    send_datagram(to, &bad_want);
    expect_drops(
        &node,
        (before.0 + 1, before.1),
        "a state datagram with an unknown want",
    );

    // None of it changed anything; the node still takes writes.
    let held = node.state("ghost").unwrap();
    let keys: Vec<&str> = held.keys().map(String::as_str).collect();
    assert_eq!(keys, ["via-tcp", "via-udp"]);
    node.set("still", "works").unwrap();
    assert_eq!(node.get("wire-0", "still"), Ok(Some(b"works".to_vec())));
    assert!(changes.try_recv().is_err(), "no change from bad input");
}
