//! Loopback: what reaches a node that requires sealed input. A genuine sealed datagram or
//! frame is taken and answered sealed; every corruption of it (each byte flipped, each
//! truncation), another key, another cluster's label, a stale or future time, the other
//! transport's seal, a replay and plaintext are refused, each counted once under its
//! reason, and change nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Cluster, WAIT, assert_closed_by_node, describe_member, name, wait_until};
use epidemic::codec::{
    Alive, Frame, HEADER_LEN, Header, Message, Ping, PushPull, decode_frame, decode_packet,
    encode_frame, encode_packet,
};
use epidemic::seal::{Envelope, KEY_ID_LEN, PrefixSource, Transport};
use epidemic::{Key, Keyring, Stats};

/// Where a sealed packet's clear part (header, key id, nonce) ends.
const CLEAR_LEN: usize = HEADER_LEN + KEY_ID_LEN + 12;
/// The shortest sealed packet: the clear part, the time and the tag.
const SHORTEST: usize = CLEAR_LEN + 8 + 16;
const SKEW_MS: u64 = 60_000;

fn key(n: u8) -> Key {
    Key::from_bytes(&[n; 32]).unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Seals packets as a member holding `keyring` would, labelled `cluster`.
struct Sealer {
    envelope: Envelope,
    keyring: Keyring,
    header: Header,
}

impl Sealer {
    fn new(cluster: &str, key: Key) -> Sealer {
        let mut config = epidemic::Config::local();
        config.cluster = cluster.to_string();
        Sealer {
            envelope: Envelope::new(cluster, SKEW_MS, 16, PrefixSource::Os, true),
            keyring: Keyring::new(key),
            header: Header {
                cluster: config.cluster_id(),
                flags: 0,
            },
        }
    }

    fn datagram_at(&mut self, messages: &[Message], sent_ms: u64) -> Vec<u8> {
        let plain = encode_packet(&self.header, messages).unwrap();
        let keyring = &self.keyring;
        self.envelope
            .seal(keyring, Transport::Datagram, &plain, sent_ms)
            .unwrap()
    }

    fn datagram(&mut self, messages: &[Message]) -> Vec<u8> {
        self.datagram_at(messages, now_ms())
    }

    fn frame(&mut self, frame: &Frame, transport: Transport) -> Vec<u8> {
        let plain = encode_frame(&self.header, frame).unwrap();
        let keyring = &self.keyring;
        self.envelope
            .seal(keyring, transport, &plain, now_ms())
            .unwrap()
    }

    fn open(&mut self, transport: Transport, bytes: &[u8]) -> Vec<u8> {
        let keyring = &self.keyring;
        let opened = self
            .envelope
            .open(Some(keyring), transport, bytes, now_ms());
        opened.unwrap().into_owned()
    }
}

/// Every refusal counter of a node, by name.
fn refusals(stats: &Stats) -> BTreeMap<&'static str, u64> {
    BTreeMap::from([
        ("malformed", stats.dropped_malformed),
        ("oversized", stats.dropped_oversized),
        ("wrong_version", stats.dropped_wrong_version),
        ("wrong_cluster", stats.dropped_wrong_cluster),
        ("plaintext", stats.dropped_plaintext),
        ("unknown_key", stats.dropped_unknown_key),
        ("forged", stats.dropped_forged),
        ("stale", stats.dropped_stale),
        ("replayed", stats.dropped_replayed),
        ("too_many_senders", stats.dropped_too_many_senders),
    ])
}

/// The reason a sealed datagram with byte `at` inverted is refused for.
fn flipped_reason(at: usize) -> &'static str {
    match at {
        // Magic, version, flags: no longer one of ours sealed, so taken for plaintext.
        0..4 => "plaintext",
        4..HEADER_LEN => "wrong_cluster",
        HEADER_LEN..16 => "unknown_key",
        // Nonce, time, body, tag: authentication fails.
        _ => "forged",
    }
}

/// The reason a sealed datagram cut to `len` bytes is refused for.
fn truncated_reason(len: usize) -> &'static str {
    match len {
        0..4 => "plaintext",
        4..SHORTEST => "malformed",
        _ => "forged",
    }
}

/// Node `target`'s refusal counters reach `expected`, and then equal it.
fn wait_refusals(cluster: &Cluster, target: usize, expected: &BTreeMap<&'static str, u64>) {
    let node = cluster.node(target);
    wait_until(
        WAIT,
        || format!("refusals {:?} reach {expected:?}", refusals(&node.stats())),
        || {
            let now = refusals(&node.stats());
            now.iter().all(|(reason, n)| n >= &expected[reason])
        },
    );
    assert_eq!(&refusals(&node.stats()), expected);
}

/// One member table line per member, for "nothing changed" checks.
fn table(cluster: &Cluster, target: usize) -> Vec<String> {
    cluster
        .node(target)
        .members()
        .iter()
        .map(describe_member)
        .collect()
}

#[test]
fn every_bad_sealed_datagram_is_refused_and_counted_by_reason() {
    let cluster = Cluster::start_with("node-sealed-dgram", "sealed", 3, 4300, |_, b| {
        b.keyring(Keyring::new(key(3)))
    });
    let (target, to) = (1, cluster.node(1).local_addr());
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let cluster_name = cluster.config.cluster.clone();
    let mut sealer = Sealer::new(&cluster_name, key(3));

    // A sealed ping from a stranger is answered with a sealed ack.
    let ping = Message::Ping(Ping {
        seq: 77,
        target: cluster.node(target).name().clone(),
        source: name("sealed-stranger"),
    });
    socket.send_to(&sealer.datagram(&[ping]), to).unwrap();
    let mut buf = [0u8; 2048];
    let (len, from) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(from, to);
    let ack = decode_packet(&sealer.open(Transport::Datagram, &buf[..len])).unwrap();
    assert!(
        matches!(&ack.messages[..], [Message::Ack(a)] if a.seq == 77),
        "{ack:?}"
    );

    // An `alive` the node would take in: the sender introducing itself.
    let intruder = Message::Alive(Alive {
        name: name("sealed-intruder"),
        incarnation: 1,
        addr: socket.local_addr().unwrap(),
        metadata: Arc::from(&b""[..]),
    });
    let genuine = sealer.datagram(std::slice::from_ref(&intruder));
    let before_table = table(&cluster, target);
    let mut expected = refusals(&cluster.node(target).stats());
    let mut send = |bytes: &[u8], reason: &'static str| {
        socket.send_to(bytes, to).unwrap();
        *expected.get_mut(reason).unwrap() += 1;
    };
    for at in 0..genuine.len() {
        let mut flipped = genuine.clone();
        flipped[at] ^= 0xff;
        send(&flipped, flipped_reason(at));
    }
    for len in 1..genuine.len() {
        send(&genuine[..len], truncated_reason(len));
    }
    let mut stranger = Sealer::new(&cluster_name, key(4));
    send(
        &stranger.datagram(std::slice::from_ref(&intruder)),
        "unknown_key",
    );
    let mut other_cluster = Sealer::new("another-cluster", key(3));
    let labelled = other_cluster.datagram(std::slice::from_ref(&intruder));
    send(&labelled, "wrong_cluster");
    // The same, its clear cluster id rewritten to ours: the sealed label still differs.
    let mut relabelled = labelled;
    relabelled[4..HEADER_LEN].copy_from_slice(&genuine[4..HEADER_LEN]);
    send(&relabelled, "forged");
    let old = sealer.datagram_at(std::slice::from_ref(&intruder), now_ms() - 2 * SKEW_MS);
    send(&old, "stale");
    let future = sealer.datagram_at(std::slice::from_ref(&intruder), now_ms() + 2 * SKEW_MS);
    send(&future, "stale");
    let as_frame = sealer.frame(
        &Frame::PushPull(PushPull {
            join: false,
            members: Vec::new(),
        }),
        Transport::Frame,
    );
    send(&as_frame, "forged");
    send(
        &encode_packet(&sealer.header, std::slice::from_ref(&intruder)).unwrap(),
        "plaintext",
    );
    wait_refusals(&cluster, target, &expected);
    assert_eq!(
        table(&cluster, target),
        before_table,
        "a refused packet changed state"
    );

    // The genuine packet is taken; sent again, it is a replay.
    socket.send_to(&genuine, to).unwrap();
    wait_until(
        WAIT,
        || "the genuine sealed alive is taken in".into(),
        || cluster.node(target).member("sealed-intruder").is_some(),
    );
    socket.send_to(&genuine, to).unwrap();
    *expected.get_mut("replayed").unwrap() += 1;
    wait_refusals(&cluster, target, &expected);
}

/// Writes `frame` with the reactor's length prefix and returns the stream.
fn send_frame(to: SocketAddr, frame: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(to).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut prefixed = u32::try_from(frame.len()).unwrap().to_be_bytes().to_vec();
    prefixed.extend_from_slice(frame);
    stream.write_all(&prefixed).unwrap();
    stream
}

#[test]
fn sealed_frames_are_answered_sealed_and_bad_ones_refused() {
    let cluster = Cluster::start_with("node-sealed-tcp", "sealtcp", 2, 4400, |_, b| {
        b.keyring(Keyring::new(key(5)))
    });
    let (target, to) = (0, cluster.node(0).local_addr());
    let mut sealer = Sealer::new(&cluster.config.cluster, key(5));
    let push_pull = Frame::PushPull(PushPull {
        join: false,
        members: Vec::new(),
    });

    // A genuine sealed push-pull is answered with the node's members, sealed.
    let mut stream = send_frame(to, &sealer.frame(&push_pull, Transport::Frame));
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut reply).unwrap();
    let (_, answer) = decode_frame(&sealer.open(Transport::Frame, &reply)).unwrap();
    let Frame::PushPull(answer) = answer else {
        panic!("not a push-pull: {answer:?}")
    };
    assert_eq!(answer.members.len(), 2);

    let mut expected = refusals(&cluster.node(target).stats());
    let mut tampered = sealer.frame(&push_pull, Transport::Frame);
    *tampered.last_mut().unwrap() ^= 1;
    let refused = [
        (
            encode_frame(&sealer.header, &push_pull).unwrap(),
            "plaintext",
        ),
        (tampered, "forged"),
        // Sealed for a datagram: the transport is authenticated too.
        (sealer.frame(&push_pull, Transport::Datagram), "forged"),
    ];
    for (frame, reason) in refused {
        let stream = send_frame(to, &frame);
        *expected.get_mut(reason).unwrap() += 1;
        wait_refusals(&cluster, target, &expected);
        assert_closed_by_node(stream, reason);
    }
}
