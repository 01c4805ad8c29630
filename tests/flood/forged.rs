//! The flood's datagrams: a pool built once (so the sender only sends), a pure function of
//! a seed. Every kind a stranger on the path could forge, with contents that look spoofed:
//! names nobody holds, members' names with incarnations no honest member could have,
//! sequence numbers nobody sent, and bytes that are no datagram at all.
//!
//! Addresses named in the forged claims are on loopback (`127.255.x.y`, port 9, where
//! nothing listens), so whatever the node sends to them stays on this machine.

use std::net::SocketAddr;
use std::sync::Arc;

use epidemic::codec::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Header, Left, Message, Nack, Ping, PingReq,
    Suspect, encode_packet,
};
use epidemic::{NodeName, aggregate::AggregateName};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Incarnations above this are never taken in (`protocol/rules.rs`).
const MAX_INCARNATION: u64 = 1 << 48;

/// The kinds of datagram in the pool, each as often as the others.
const KINDS: [&str; 12] = [
    "garbage",
    "truncated",
    "wrong cluster",
    "ping",
    "ping (member's name)",
    "ping-req",
    "ack",
    "nack",
    "alive (unknown name)",
    "suspect/dead (implausible)",
    "left (unknown name)",
    "aggregate (implausible)",
];

/// What the forger knows about the cluster it floods.
pub(crate) struct Target {
    /// The cluster's id (its packet header).
    pub(crate) cluster: u64,
    /// The flooded node's name.
    pub(crate) node: String,
    /// The honest members' names.
    pub(crate) members: Vec<String>,
}

/// `count` datagrams, the kinds of [`KINDS`] in turn, each at most `mtu` bytes.
pub(crate) fn pool(target: &Target, count: usize, mtu: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut bytes = datagram(target, i % KINDS.len(), &mut rng);
            bytes.truncate(mtu);
            bytes
        })
        .collect()
}

/// The names of the kinds, for reports.
pub(crate) fn kinds() -> &'static [&'static str] {
    &KINDS
}

/// One datagram of kind `KINDS[kind]`.
fn datagram(target: &Target, kind: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let header = Header {
        cluster: target.cluster,
        flags: 0,
    };
    let messages = match KINDS[kind] {
        "garbage" => {
            let mut bytes = vec![0u8; rng.random_range(1..1400)];
            rng.fill_bytes(&mut bytes);
            return bytes;
        }
        "truncated" => {
            let mut bytes = encode(&header, &[alive(rng)]);
            let keep = rng.random_range(1..bytes.len());
            bytes.truncate(keep);
            return bytes;
        }
        "wrong cluster" => {
            let other = Header {
                cluster: target.cluster ^ (rng.random::<u64>() | 1),
                flags: 0,
            };
            return encode(&other, &[ping(target, ghost(rng), rng)]);
        }
        "ping" => vec![ping(target, ghost(rng), rng)],
        "ping (member's name)" => {
            let member = pick(&target.members, rng);
            vec![ping(target, name(&member), rng)]
        }
        "ping-req" => vec![Message::PingReq(PingReq {
            seq: rng.random(),
            target: name(&pick(&target.members, rng)),
            target_addr: nowhere(rng),
            source: ghost(rng),
        })],
        "ack" => vec![Message::Ack(Ack {
            seq: rng.random(),
            source: name(&pick(&target.members, rng)),
        })],
        "nack" => vec![Message::Nack(Nack {
            seq: rng.random(),
            source: ghost(rng),
        })],
        "alive (unknown name)" => (0..rng.random_range(1..8)).map(|_| alive(rng)).collect(),
        "suspect/dead (implausible)" => {
            let mut everyone = target.members.clone();
            everyone.push(target.node.clone());
            (0..rng.random_range(1..8))
                .map(|_| implausible(&pick(&everyone, rng), rng))
                .collect()
        }
        "left (unknown name)" => vec![Message::Left(Left {
            name: ghost(rng),
            incarnation: rng.random_range(0..MAX_INCARNATION),
        })],
        "aggregate (implausible)" => vec![Message::Aggregate(Aggregate {
            epoch: MAX_INCARNATION + rng.random_range(1..1 << 20),
            round: rng.random(),
            entries: vec![AggregateEntry {
                name: AggregateName::new("load").unwrap(),
                value: 1e300,
                ones: 1.0,
                weight: 1.0,
                min: 0.0,
                max: 1e300,
            }],
        })],
        other => unreachable!("no datagram of kind {other}"),
    };
    encode(&header, &messages)
}

/// A suspicion or death of `who` at an incarnation gossip may not raise anyone to: beyond
/// the ceiling, or far above what an honest member holds (all of them are near 0 here).
fn implausible(who: &str, rng: &mut ChaCha8Rng) -> Message {
    let incarnation = if rng.random_bool(0.5) {
        MAX_INCARNATION + rng.random_range(1..u64::MAX - MAX_INCARNATION)
    } else {
        rng.random_range(1 << 20..MAX_INCARNATION)
    };
    if rng.random_bool(0.5) {
        Message::Suspect(Suspect {
            name: name(who),
            incarnation,
            from: ghost(rng),
        })
    } else {
        Message::Dead(Dead {
            name: name(who),
            incarnation,
            from: ghost(rng),
        })
    }
}

fn ping(target: &Target, source: NodeName, rng: &mut ChaCha8Rng) -> Message {
    Message::Ping(Ping {
        seq: rng.random(),
        target: name(&target.node),
        source,
    })
}

fn alive(rng: &mut ChaCha8Rng) -> Message {
    Message::Alive(Alive {
        name: ghost(rng),
        incarnation: rng.random_range(0..1 << 16),
        addr: nowhere(rng),
        metadata: Arc::from(&[][..]),
    })
}

fn encode(header: &Header, messages: &[Message]) -> Vec<u8> {
    encode_packet(header, messages).unwrap()
}

/// A name nobody holds, from a space far larger than any table.
fn ghost(rng: &mut ChaCha8Rng) -> NodeName {
    name(&format!("ghost-{:016x}", rng.random::<u64>()))
}

/// A loopback address nothing listens on.
fn nowhere(rng: &mut ChaCha8Rng) -> SocketAddr {
    let [a, b] = rng.random::<u16>().to_be_bytes();
    SocketAddr::from(([127, 255, a, b.max(1)], 9))
}

fn pick(names: &[String], rng: &mut ChaCha8Rng) -> String {
    names[rng.random_range(0..names.len())].clone()
}

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}
