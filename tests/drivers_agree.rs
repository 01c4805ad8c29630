//! The runtime and the simulator run one node core: the same datagrams, sent to a real
//! node on loopback and injected into a simulated one, must be counted, dropped and
//! routed alike. A driver that grew its own inbound path (a copy of the core's checks,
//! decoding or routing) would drift from the other, and this test would see it.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{WAIT, local_config, name, wait_until};
use epidemic::codec::{Alive, Header, Message, Ping, UserMessage, encode_packet};
use epidemic::sim::{NodeId, Simulation};
use epidemic::{Config, Node, Stats};

/// The counters the inbound path decides, and what routing them to components shows.
fn inbound(s: &Stats) -> [u64; 10] {
    [
        s.packets_in,
        s.bytes_in,
        s.dropped_malformed,
        s.dropped_oversized,
        s.dropped_wrong_version,
        s.dropped_wrong_cluster,
        s.broadcasts_delivered,
        s.members.alive,
        s.members.suspect + s.members.dead + s.members.left,
        s.refused_members,
    ]
}

/// One of each kind of datagram a node meets: well formed for each component, and bad in
/// each way the inbound path checks.
fn datagrams(config: &Config, target: &str) -> Vec<Vec<u8>> {
    let ours = Header {
        cluster: config.cluster_id(),
        flags: 0,
    };
    let theirs = Header {
        cluster: ours.cluster ^ 1,
        flags: 0,
    };
    let ghost: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let ping = Message::Ping(Ping {
        seq: 7,
        target: name(target),
        source: name("prober"),
    });
    let alive = Message::Alive(Alive {
        name: name("ghost"),
        incarnation: 3,
        addr: ghost,
        metadata: Arc::from(&b"zone=x"[..]),
    });
    let user = Message::User(UserMessage {
        origin: name("ghost"),
        seq: 1,
        payload: Arc::from(&b"hello"[..]),
    });
    let mut wrong_version = encode_packet(&ours, std::slice::from_ref(&ping)).unwrap();
    wrong_version[2] = 9;
    vec![
        encode_packet(&ours, std::slice::from_ref(&ping)).unwrap(),
        encode_packet(&ours, &[alive, user.clone()]).unwrap(),
        encode_packet(&ours, &[user]).unwrap(), // a duplicate: delivered once
        encode_packet(&theirs, &[ping]).unwrap(),
        wrong_version,
        b"EP garbage".to_vec(),
        vec![0x45; config.mtu + 1],
    ]
}

#[test]
fn the_runtime_and_the_simulator_count_and_route_the_same_datagrams_alike() {
    let config = local_config("drivers-agree");
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();

    let mut sim = Simulation::builder()
        .nodes(1)
        .config(config.clone())
        .seed(1)
        .build();
    for bytes in datagrams(&config, sim.name(NodeId(0)).as_str()) {
        sim.inject_datagram(NodeId(0), from, bytes);
    }
    sim.run_for(Duration::from_millis(1)).unwrap();
    let want = inbound(&sim.stats(NodeId(0)));
    assert_eq!(want[0], 7, "every datagram counted");
    assert_eq!(want[6], 1, "the broadcast delivered once");
    // Only members introduce members: a stranger's word about a ghost is refused.
    assert_eq!((want[7], want[9]), (1, 1), "the ghost refused");

    let node = Node::builder("node-0")
        .bind("127.0.0.1:0")
        .config(config.clone())
        .seed(1)
        .start()
        .unwrap();
    for bytes in datagrams(&config, node.name().as_str()) {
        common::send_datagram(node.local_addr(), &bytes);
    }
    wait_until(
        WAIT,
        || {
            format!(
                "the real node counts as the simulated one: {:?} vs {want:?}",
                inbound(&node.stats())
            )
        },
        || inbound(&node.stats()) == want,
    );
}
