//! The adversary's forger: well-formed messages and frames with every field drawn from a
//! seed, biased towards what hurts: extremes (0, 1, MAX−1, MAX), the ceilings the
//! protocol enforces and one past them, values just above what the victim holds, the
//! names of real members (the victim's own among them) and addresses of real nodes.
//!
//! Everything it builds passes the codec and carries the cluster's header, so it reaches
//! the components; what a component refuses is the protocol's business, not the codec's.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::aggregate::AggregateName;
use crate::codec::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Frame, Header, Known, Left, MemberRecord, Message,
    Nack, PacketWriter, Ping, PingReq, PushPull, StateDeltas, StateDigest, StateEntry, StateKey,
    StateSummary, StateSync, StateWant, Suspect, UserMessage, encode_frame,
};
use crate::member::{Incarnation, MAX_METADATA_LEN, MemberState, NodeName};

/// Fabricated names reused across the attack (members that never existed).
const FAKE_NAMES: usize = 16;
/// Keys the forger writes, so forged keys collide with honest ones.
const KEYS: [&str; 6] = ["k0", "k1", "k2", "k3", "config", "x"];

/// What the adversary knows when it forges one packet: every node of the simulation as
/// the victim holds it, and the victim's state digest.
#[derive(Debug)]
pub(crate) struct Scene {
    /// Every simulated node: name, address, incarnation in the victim's view (0 unknown).
    pub(crate) nodes: Vec<(NodeName, SocketAddr, Incarnation)>,
    /// The node the packet is for (an index into `nodes`).
    pub(crate) victim: usize,
    /// The victim's digest: what it holds of every owner.
    pub(crate) digest: Vec<StateDigest>,
}

/// Builds forged traffic from a seeded stream (see the module docs).
#[derive(Debug)]
pub(crate) struct Forger {
    rng: ChaCha8Rng,
    header: Header,
    mtu: usize,
    fakes: Vec<NodeName>,
}

impl Forger {
    /// A forger for the cluster `cluster`, packing datagrams up to `mtu` bytes.
    pub(crate) fn new(rng: ChaCha8Rng, cluster: u64, mtu: usize) -> Forger {
        let fakes = (0..FAKE_NAMES)
            .filter_map(|i| NodeName::new(&format!("ghost-{i}")).ok())
            .collect();
        Forger {
            rng,
            header: Header { cluster, flags: 0 },
            mtu,
            fakes,
        }
    }

    /// The seeded stream, for the adversary's other choices.
    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// One forged datagram: 1 to 8 messages of any type, packed up to the MTU.
    pub(crate) fn datagram(&mut self, scene: &Scene) -> Vec<u8> {
        let mut writer = PacketWriter::new(&self.header, self.mtu);
        let count = self.rng.random_range(1..=8);
        for _ in 0..count {
            let message = self.message(scene);
            writer.push(&message);
        }
        if writer.is_empty() {
            let ping = Message::Ack(Ack {
                seq: self.rng.random(),
                source: self.name(scene),
            });
            writer.push(&ping);
        }
        writer.finish()
    }

    /// One forged TCP frame: a push-pull or a state leg.
    pub(crate) fn frame(&mut self, scene: &Scene) -> Vec<u8> {
        let frame = if self.rng.random_bool(0.5) {
            let count = self.rng.random_range(0..=24);
            let members = (0..count).map(|_| self.record(scene)).collect();
            Frame::PushPull(PushPull {
                join: self.rng.random_bool(0.3),
                members,
            })
        } else {
            Frame::State(self.state(scene, 64))
        };
        encode_frame(&self.header, &frame).unwrap_or_default()
    }

    /// A source address: the victim's own, a real node's, or nobody's.
    pub(crate) fn addr(&mut self, scene: &Scene) -> SocketAddr {
        match self.rng.random_range(0..10u8) {
            0..=1 => scene.nodes[scene.victim].1,
            2..=6 => scene.nodes[self.rng.random_range(0..scene.nodes.len())].1,
            7..=8 => SocketAddr::from((Ipv4Addr::from(self.rng.random::<u32>()), 7946)),
            _ => SocketAddr::from((Ipv6Addr::from(self.rng.random::<u128>()), 0)),
        }
    }

    fn message(&mut self, scene: &Scene) -> Message {
        let seq = self.rng.random();
        match self.rng.random_range(0..12u8) {
            0 => Message::Ping(Ping {
                seq,
                target: self.name(scene),
                source: self.name(scene),
            }),
            1 => Message::PingReq(PingReq {
                seq,
                target: self.name(scene),
                target_addr: self.addr(scene),
                source: self.name(scene),
            }),
            2 => Message::Ack(Ack {
                seq,
                source: self.name(scene),
            }),
            3 => Message::Nack(Nack {
                seq,
                source: self.name(scene),
            }),
            4 => {
                let (name, incarnation) = self.member(scene);
                Message::Alive(Alive {
                    name,
                    incarnation,
                    addr: self.addr(scene),
                    metadata: self.bytes(MAX_METADATA_LEN.min(64)),
                })
            }
            5 => {
                let (name, incarnation) = self.member(scene);
                let from = self.name(scene);
                Message::Suspect(Suspect {
                    name,
                    incarnation,
                    from,
                })
            }
            6 => {
                let (name, incarnation) = self.member(scene);
                let from = self.name(scene);
                Message::Dead(Dead {
                    name,
                    incarnation,
                    from,
                })
            }
            7 => {
                let (name, incarnation) = self.member(scene);
                Message::Left(Left { name, incarnation })
            }
            8 => {
                let near = self.rng.random_range(0..1 << 20);
                Message::User(UserMessage {
                    origin: self.name(scene),
                    seq: self.number(near),
                    payload: self.bytes(200),
                })
            }
            9 => Message::Aggregate(self.aggregate()),
            10 => Message::State(self.state(scene, 3)),
            _ => {
                let count = self.rng.random_range(0..=8);
                let ids = (0..count)
                    .map(|_| (self.name(scene), self.number(0)))
                    .collect();
                Message::Known(Known { ids })
            }
        }
    }

    /// A member to make a claim about, and an incarnation near the victim's view of it.
    fn member(&mut self, scene: &Scene) -> (NodeName, Incarnation) {
        let name = self.name(scene);
        let held = scene
            .nodes
            .iter()
            .find(|(n, ..)| *n == name)
            .map_or(0, |(.., i)| *i);
        (name, self.number(held))
    }

    /// A name: a real node's (often the victim's), a fabricated one, or a fresh one.
    fn name(&mut self, scene: &Scene) -> NodeName {
        match self.rng.random_range(0..10u8) {
            0..=1 => scene.nodes[scene.victim].0.clone(),
            2..=6 => scene.nodes[self.rng.random_range(0..scene.nodes.len())]
                .0
                .clone(),
            7..=8 => self.fakes[self.rng.random_range(0..self.fakes.len())].clone(),
            _ => {
                let fresh = format!("stranger-{:x}", self.rng.random::<u64>());
                NodeName::new(&fresh).unwrap_or_else(|_| self.fakes[0].clone())
            }
        }
    }

    /// A number: an extreme, a ceiling the protocol enforces (or one past it), something
    /// just above `near`, or anything.
    fn number(&mut self, near: u64) -> u64 {
        match self.rng.random_range(0..12u8) {
            0 => 0,
            1 => 1,
            2 => u64::MAX - 1,
            3 => u64::MAX,
            4 => 1 << 48,
            5 => (1 << 48) + 1,
            6 => near.saturating_add(1 << 10),
            7 => near.saturating_add(1 << 10).saturating_add(1),
            8..=10 => near.saturating_add(self.rng.random_range(0..4)),
            _ => self.rng.random(),
        }
    }

    fn float(&mut self) -> f64 {
        let pick = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e15,
            1e16,
        ];
        let i = self.rng.random_range(0..pick.len() + 2);
        pick.get(i)
            .copied()
            .unwrap_or_else(|| self.rng.random_range(-1e6..1e6))
    }

    fn bytes(&mut self, max: usize) -> Arc<[u8]> {
        let len = match self.rng.random_range(0..4u8) {
            0 => 0,
            1 => max,
            _ => self.rng.random_range(0..=max),
        };
        let bytes: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
        Arc::from(bytes)
    }

    fn aggregate(&mut self) -> Aggregate {
        let count = self.rng.random_range(0..=4);
        let names = ["count", "load", "temp", "x"];
        let entries = (0..count)
            .filter_map(|_| {
                let name = AggregateName::new(names[self.rng.random_range(0..names.len())])?;
                Some(AggregateEntry {
                    name,
                    value: self.float(),
                    ones: self.float(),
                    weight: self.float(),
                    min: self.float(),
                    max: self.float(),
                })
            })
            .collect();
        let near = self.rng.random_range(0..64);
        Aggregate {
            epoch: self.number(near),
            round: match self.rng.random_range(0..4u8) {
                0 => 0,
                1 => u32::MAX,
                _ => self.rng.random_range(0..128),
            },
            entries,
        }
    }

    /// A state leg of up to `owners` digest entries and deltas, about real owners (with
    /// numbers near the victim's) and fabricated ones.
    fn state(&mut self, scene: &Scene, owners: usize) -> StateSync {
        let wants = [
            StateWant::Nothing,
            StateWant::Deltas,
            StateWant::DeltasAndDigest,
            StateWant::Digest,
        ];
        let want = wants[self.rng.random_range(0..wants.len())];
        let n = self.rng.random_range(0..=owners);
        let digest = (0..n).map(|_| self.digest_entry(scene)).collect();
        let n = self.rng.random_range(0..=owners);
        let deltas = (0..n).map(|_| self.deltas(scene)).collect();
        // Half the legs summarized, with a fingerprint that (almost) never checks.
        let summary = self.rng.random_bool(0.5).then(|| StateSummary {
            fingerprint: self.rng.random(),
            salt: self.rng.random(),
            retry: self.rng.random_bool(0.5),
        });
        StateSync {
            want,
            summary,
            digest,
            deltas,
        }
    }

    /// An owner, and the victim's `(generation, max_version)` of it (zeros if unknown).
    fn owner(&mut self, scene: &Scene) -> (NodeName, u64, u64) {
        let owner = self.name(scene);
        let held = scene.digest.iter().find(|d| d.owner == owner);
        let (generation, max) = held.map_or((0, 0), |d| (d.generation, d.max_version));
        (owner, generation, max)
    }

    fn digest_entry(&mut self, scene: &Scene) -> StateDigest {
        let (owner, generation, max) = self.owner(scene);
        StateDigest {
            owner,
            generation: self.number(generation),
            max_version: self.number(max),
            watermark: self.number(0),
        }
    }

    fn deltas(&mut self, scene: &Scene) -> StateDeltas {
        let (owner, generation, max) = self.owner(scene);
        let from = self.number(max.saturating_sub(2));
        let count = self.rng.random_range(0..=3);
        let mut version = from;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            version = version.saturating_add(self.rng.random_range(1..3));
            let key = StateKey::new(KEYS[self.rng.random_range(0..KEYS.len())]);
            let value = self.rng.random_bool(0.8).then(|| self.bytes(48));
            if let Some(key) = key {
                entries.push(StateEntry {
                    key,
                    version,
                    value,
                });
            }
        }
        StateDeltas {
            owner,
            generation: if self.rng.random_bool(0.6) {
                generation
            } else {
                self.number(generation)
            },
            watermark: self.number(0),
            max_version: self.number(version),
            from,
            to: if self.rng.random_bool(0.7) {
                version
            } else {
                self.number(version)
            },
            entries,
        }
    }

    /// A push-pull record about a real or fabricated member, in any state.
    fn record(&mut self, scene: &Scene) -> MemberRecord {
        let (name, incarnation) = self.member(scene);
        let states = [
            MemberState::Alive,
            MemberState::Suspect,
            MemberState::Dead,
            MemberState::Left,
        ];
        MemberRecord {
            name,
            addr: self.addr(scene),
            incarnation,
            state: states[self.rng.random_range(0..states.len())],
            metadata: self.bytes(32),
        }
    }
}
