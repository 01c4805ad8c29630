//! Loopback: what a stranger can do to a node's TCP side. Idle connections by the
//! hundred never block a join; a frame of another cluster is refused on its head, before
//! its body; a stranger's flood of tiny full-state requests is held to a rate of its own,
//! and members' exchanges are still answered during it.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use common::{Cluster, WAIT, assert_closed_by_node, wait_until};
use epidemic::codec::{Frame, Header, PushPull, encode_frame};
use socket2::{Domain, Socket, Type};

/// More idle connections than the node has inbound slots (96).
const IDLE_STRANGERS: usize = 200;

/// A push-pull request with no members: 22 bytes that ask for the node's whole state.
fn tiny_request(cluster: u64) -> Vec<u8> {
    let frame = Frame::PushPull(PushPull {
        join: false,
        members: Vec::new(),
    });
    let body = encode_frame(&Header { cluster, flags: 0 }, &frame).unwrap();
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend(body);
    bytes
}

/// A TCP connection to `to` from the loopback address `ip`.
fn connect_from(ip: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((ip, 0)).into())?;
    socket.connect_timeout(&to.into(), WAIT)?;
    Ok(socket.into())
}

#[test]
fn idle_strangers_never_block_a_join() {
    let mut cluster = Cluster::start("node-tcp-idle", "idle", 2, 900);
    let seed = cluster.node(0).local_addr();
    let idle: Vec<TcpStream> = (0..IDLE_STRANGERS)
        .map(|_| TcpStream::connect_timeout(&seed, WAIT).unwrap())
        .collect();
    // Every slot is taken (or was, until newer strangers evicted older ones).
    wait_until(
        WAIT,
        || "strangers evicted".into(),
        || cluster.node(0).stats().dropped_tcp_limit > 0,
    );
    let newcomer = cluster.add("idle-2", 902, 0);
    cluster.wait_all_alive(&[0, 1, newcomer], 3);
    drop(idle);
}

#[test]
fn another_clusters_frame_is_refused_on_its_head() {
    let cluster = Cluster::start("node-tcp-head", "head", 1, 910);
    let node = cluster.node(0);
    let mut stream = TcpStream::connect_timeout(&node.local_addr(), WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    // 16 MiB announced; the head is a stranger cluster's, so nothing more is read.
    let mut bytes = tiny_request(node.config().cluster_id() ^ 1);
    bytes[..4].copy_from_slice(&(16u32 << 20).to_be_bytes());
    stream.write_all(&bytes).unwrap();
    assert_closed_by_node(stream, "a frame of another cluster");
    assert_eq!(node.stats().dropped_wrong_cluster, 1);
    assert_eq!(node.stats().frames_in, 0);
}

#[test]
fn tiny_full_state_requests_are_held_to_a_rate() {
    let cluster = Cluster::start("node-tcp-rate", "rate", 3, 920);
    let node = cluster.node(0);
    let request = tiny_request(node.config().cluster_id());
    // From another loopback address, far more than its bucket (twice 16 a second) in
    // well under a second.
    for _ in 0..400 {
        let Ok(mut stream) = connect_from([127, 0, 0, 2], node.local_addr()) else {
            continue;
        };
        let _ = stream.write_all(&request);
    }
    wait_until(
        WAIT,
        || "requests over the rate refused".into(),
        || node.stats().dropped_tcp_limit > 0,
    );
    // The stranger emptied only its own bucket: members still get their exchanges.
    assert!(node.health().is_running());
    let seed = node.local_addr();
    assert!(matches!(cluster.node(1).join(&[seed]), Ok(1)));
}
