//! No reflection: one datagram of each message type from an address that is no member
//! (a stranger, or a spoofed source) never makes a node send that address more bytes than
//! it received. Run with `-- --nocapture` for the table README quotes.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::{Cluster, WAIT, name, wait_until};
use epidemic::codec::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Header, Known, Left, Message, Nack, Ping, PingReq,
    StateDigest, StateSummary, StateSync, StateWant, Suspect, UserMessage, encode_packet,
};

/// How long replies to one probe are collected: far beyond a loopback round trip, and
/// several gossip ticks of `Config::local()`.
const LISTEN: Duration = Duration::from_millis(400);

/// One packet of each message type a stranger could send, named.
fn probes(target: &str, member: &str, member_addr: SocketAddr) -> Vec<(&'static str, Message)> {
    let aggregate = AggregateEntry {
        name: epidemic::aggregate::AggregateName::new("load").unwrap(),
        value: 1.0,
        ones: 0.5,
        weight: 0.0,
        min: 1.0,
        max: 1.0,
    };
    vec![
        (
            "ping",
            Message::Ping(Ping {
                seq: 1,
                target: name(target),
                source: name("x"),
            }),
        ),
        (
            "ping (a member's name)",
            Message::Ping(Ping {
                seq: 2,
                target: name(target),
                source: name(member),
            }),
        ),
        (
            "ping-req",
            Message::PingReq(PingReq {
                seq: 3,
                target: name(member),
                target_addr: member_addr,
                source: name("x"),
            }),
        ),
        (
            "ack",
            Message::Ack(Ack {
                seq: 4,
                source: name("x"),
            }),
        ),
        (
            "nack",
            Message::Nack(Nack {
                seq: 5,
                source: name("x"),
            }),
        ),
        (
            "alive (new member)",
            Message::Alive(Alive {
                name: name("x"),
                incarnation: 1,
                addr: "127.0.0.1:9".parse().unwrap(),
                metadata: Arc::from(&[][..]),
            }),
        ),
        (
            "suspect (the node)",
            Message::Suspect(Suspect {
                name: name(target),
                incarnation: 0,
                from: name("x"),
            }),
        ),
        (
            "dead (the node)",
            Message::Dead(Dead {
                name: name(target),
                incarnation: 0,
                from: name("x"),
            }),
        ),
        (
            "left (a member)",
            Message::Left(Left {
                name: name(member),
                incarnation: 0,
            }),
        ),
        (
            "user broadcast",
            Message::User(UserMessage {
                origin: name("x"),
                seq: 1,
                payload: Arc::from(&b"hi"[..]),
            }),
        ),
        (
            "known",
            Message::Known(Known {
                ids: vec![(name(target), 1)],
            }),
        ),
        (
            "aggregate",
            Message::Aggregate(Aggregate {
                epoch: 0,
                round: 1,
                entries: vec![aggregate],
            }),
        ),
        (
            "state digest (wants deltas)",
            Message::State(StateSync {
                want: StateWant::DeltasAndDigest,
                summary: None,
                digest: vec![StateDigest {
                    owner: name(member),
                    generation: 1,
                    max_version: 0,
                    watermark: 0,
                }],
                deltas: Vec::new(),
            }),
        ),
        (
            "state summary (never checks: asks a whole digest)",
            Message::State(StateSync {
                want: StateWant::DeltasAndDigest,
                summary: Some(StateSummary {
                    fingerprint: 0x5eed,
                    salt: 0,
                    retry: true,
                }),
                digest: Vec::new(),
                deltas: Vec::new(),
            }),
        ),
    ]
}

#[test]
fn no_message_from_a_stranger_draws_more_bytes_than_it_carried() {
    let cluster = Cluster::start("node-amplification", "amp", 3, 1800);
    let (node, member) = (cluster.node(0), cluster.node(1));
    // Pending gossip and state to piggyback, were the node willing to.
    member.set_metadata("zone=b").unwrap();
    node.set("k", vec![b'v'; 200]).unwrap();
    wait_until(
        WAIT,
        || "metadata spread".into(),
        || {
            node.member(member.name().as_str())
                .is_some_and(|m| &*m.metadata == b"zone=b")
        },
    );
    let header = Header {
        cluster: cluster.config.cluster_id(),
        flags: 0,
    };
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut table = Vec::new();
    for (kind, message) in probes(
        node.name().as_str(),
        member.name().as_str(),
        member.local_addr(),
    ) {
        let bytes = encode_packet(&header, &[message]).unwrap();
        stranger.send_to(&bytes, node.local_addr()).unwrap();
        let mut out = 0;
        let deadline = crossbeam_channel::after(LISTEN);
        let mut buf = [0u8; 65_536];
        while deadline.is_empty() {
            if let Ok((n, _)) = stranger.recv_from(&mut buf) {
                out += n;
            }
        }
        table.push((kind, bytes.len(), out));
    }
    println!("| message from a stranger | bytes in | bytes out | factor |");
    println!("|---|---:|---:|---:|");
    for (kind, inb, out) in &table {
        println!(
            "| {kind} | {inb} | {out} | {:.2} |",
            *out as f64 / *inb as f64
        );
    }
    for (kind, inb, out) in table {
        assert!(out <= inb, "{kind}: {out} bytes out for {inb} in");
    }
}
