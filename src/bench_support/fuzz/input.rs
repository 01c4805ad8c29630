//! Fuzz bytes as choices: a cursor that never fails ([`Input`]) and builders of well-formed
//! messages and frames from it, so that most of what a fuzz target feeds gets past the
//! header check and the decoder and reaches the protocol's logic.
//!
//! Every choice reads a byte or a few; an exhausted input reads as zeros, so any byte
//! string is a valid script and a shorter one is a prefix of a longer one.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::aggregate::AggregateName;
use crate::codec::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Known, Left, MemberRecord, Message, Nack, Ping,
    PingReq, PushPull, StateDeltas, StateDigest, StateEntry, StateKey, StateSummary, StateSync,
    StateWant, Suspect, UserMessage,
};
use crate::member::{MemberState, NodeName};

/// A cursor over fuzz bytes that reads zeros once they run out.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { bytes }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte (0 when exhausted).
    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((b, rest)) => {
                self.bytes = rest;
                *b
            }
            None => 0,
        }
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::from(self.u8()) % n
        }
    }

    /// Up to `max` bytes (fewer if the input runs out): a length byte, then the bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = usize::from(self.u8()).min(max);
        self.take(want)
    }

    /// Up to `max` bytes with a two-byte length.
    pub fn bytes16(&mut self, max: usize) -> &'a [u8] {
        let want = usize::from(self.u16()).min(max);
        self.take(want)
    }

    /// The next `n` bytes, or all that is left.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        head
    }

    /// A number where edges are likely: 0, 1, 2, a small one, the top, just below it, or
    /// any.
    pub fn number(&mut self) -> u64 {
        match self.u8() % 8 {
            0 => 0,
            1 => 1,
            2 => 2,
            3 => u64::from(self.u8()),
            4 => u64::MAX,
            5 => u64::MAX - 1,
            6 => 1 << 48,
            _ => self.u64(),
        }
    }

    /// A float where edges are likely: 0, 1, -1, NaN, the infinities, tiny, huge, or any.
    pub fn float(&mut self) -> f64 {
        match self.u8() % 9 {
            0 => 0.0,
            1 => 1.0,
            2 => -1.0,
            3 => f64::NAN,
            4 => f64::INFINITY,
            5 => f64::NEG_INFINITY,
            6 => f64::MIN_POSITIVE,
            7 => f64::MAX,
            _ => f64::from_bits(self.u64()),
        }
    }
}

/// The names and addresses a script draws from: the node itself, its members, strangers.
#[derive(Clone, Debug)]
pub struct Cast {
    /// The node under test.
    pub me: (NodeName, SocketAddr),
    /// Its members at the start.
    pub members: Vec<(NodeName, SocketAddr)>,
    /// Names and addresses no member has.
    pub strangers: Vec<(NodeName, SocketAddr)>,
}

impl Cast {
    /// `me`, `n` members `m0..` and three strangers, on distinct addresses.
    pub fn new(n: usize) -> Cast {
        let at = |i: u8, name: &str| {
            let name = NodeName::new(name).unwrap_or_else(|_| unreachable!());
            (name, SocketAddr::from(([10, 0, 0, i], 7946)))
        };
        Cast {
            me: at(100, "me"),
            members: (0..n).map(|i| at(i as u8 + 1, &format!("m{i}"))).collect(),
            strangers: vec![at(200, "x"), at(201, "y"), at(202, "zz")],
        }
    }

    /// Someone: the node, a member, a stranger, or a name made of input bytes.
    fn someone(&self, input: &mut Input<'_>) -> (NodeName, SocketAddr) {
        let pick = input.u8();
        let everyone = 1 + self.members.len() + self.strangers.len();
        match usize::from(pick) % (everyone + 1) {
            0 => self.me.clone(),
            i if i <= self.members.len() => self.members[i - 1].clone(),
            i if i < everyone => self.strangers[i - 1 - self.members.len()].clone(),
            _ => {
                let text = String::from_utf8_lossy(input.bytes(64)).into_owned();
                let name = NodeName::new(&text).unwrap_or_else(|_| self.strangers[0].0.clone());
                (name, self.addr(input))
            }
        }
    }

    /// A name: the node, a member, a stranger, or one made of input bytes.
    pub fn name(&self, input: &mut Input<'_>) -> NodeName {
        self.someone(input).0
    }

    /// An address: someone's, or an arbitrary IPv4 or IPv6 one.
    pub fn addr(&self, input: &mut Input<'_>) -> SocketAddr {
        match input.u8() % 4 {
            0 | 1 => self.someone_known(input).1,
            2 => SocketAddr::from((input.u32().to_be_bytes(), input.u16())),
            _ => {
                let mut ip = [0u8; 16];
                ip.iter_mut().for_each(|b| *b = input.u8());
                SocketAddr::from((ip, input.u16()))
            }
        }
    }

    /// The node, a member or a stranger (never a made-up one).
    fn someone_known(&self, input: &mut Input<'_>) -> (NodeName, SocketAddr) {
        let all = 1 + self.members.len() + self.strangers.len();
        match input.below(all) {
            0 => self.me.clone(),
            i if i <= self.members.len() => self.members[i - 1].clone(),
            i => self.strangers[i - 1 - self.members.len()].clone(),
        }
    }

    /// A message of any type; `seqs` are probe numbers the node used lately (an answer
    /// to one of them reaches the failure detector's logic).
    pub fn message(&self, input: &mut Input<'_>, seqs: &[u32]) -> Message {
        let seq = |input: &mut Input<'_>| match input.u8() % 3 {
            0 if !seqs.is_empty() => seqs[input.below(seqs.len())],
            1 => input.u32(),
            _ => u32::from(input.u8()),
        };
        match input.u8() % 12 {
            0 => Message::Ping(Ping {
                seq: seq(input),
                target: self.name(input),
                source: self.name(input),
            }),
            1 => Message::PingReq(PingReq {
                seq: seq(input),
                target: self.name(input),
                target_addr: self.addr(input),
                source: self.name(input),
            }),
            2 => Message::Ack(Ack {
                seq: seq(input),
                source: self.name(input),
            }),
            3 => Message::Nack(Nack {
                seq: seq(input),
                source: self.name(input),
            }),
            4 => Message::Alive(Alive {
                name: self.name(input),
                incarnation: input.number(),
                addr: self.addr(input),
                metadata: Arc::from(input.bytes(255)),
            }),
            5 => Message::Suspect(Suspect {
                name: self.name(input),
                incarnation: input.number(),
                from: self.name(input),
            }),
            6 => Message::Dead(Dead {
                name: self.name(input),
                incarnation: input.number(),
                from: self.name(input),
            }),
            7 => Message::Left(Left {
                name: self.name(input),
                incarnation: input.number(),
            }),
            8 => Message::User(UserMessage {
                origin: self.name(input),
                seq: input.number(),
                payload: Arc::from(input.bytes(255)),
            }),
            9 => Message::Aggregate(self.aggregate(input)),
            10 => Message::State(self.state(input)),
            _ => Message::Known(Known {
                ids: (0..input.below(4))
                    .map(|_| (self.name(input), input.number()))
                    .collect(),
            }),
        }
    }

    /// Push-sum mass for one to three of a few aggregates.
    fn aggregate(&self, input: &mut Input<'_>) -> Aggregate {
        const NAMES: [&str; 3] = ["load", "temp", "q"];
        Aggregate {
            epoch: input.number(),
            round: input.u8().into(),
            entries: (0..1 + input.below(3))
                .map(|_| AggregateEntry {
                    name: AggregateName::new(NAMES[input.below(NAMES.len())])
                        .unwrap_or_else(|| unreachable!()),
                    value: input.float(),
                    ones: input.float(),
                    weight: input.float(),
                    min: input.float(),
                    max: input.float(),
                })
                .collect(),
        }
    }

    /// A key-value leg about a few owners and keys.
    pub fn state(&self, input: &mut Input<'_>) -> StateSync {
        const KEYS: [&str; 3] = ["k", "key-2", "x"];
        let want = match input.u8() % 4 {
            0 => StateWant::Nothing,
            1 => StateWant::Deltas,
            2 => StateWant::DeltasAndDigest,
            _ => StateWant::Digest,
        };
        let digest = (0..input.below(3))
            .map(|_| StateDigest {
                owner: self.name(input),
                generation: input.number(),
                max_version: input.number(),
                watermark: input.number(),
            })
            .collect();
        let deltas = (0..input.below(3))
            .map(|_| StateDeltas {
                owner: self.name(input),
                generation: input.number(),
                watermark: input.number(),
                max_version: input.number(),
                from: input.number(),
                to: input.number(),
                entries: (0..input.below(4))
                    .map(|_| StateEntry {
                        key: StateKey::new(KEYS[input.below(KEYS.len())])
                            .unwrap_or_else(|| unreachable!()),
                        version: input.number(),
                        value: (input.u8() % 4 != 0).then(|| Arc::from(input.bytes(64))),
                    })
                    .collect(),
            })
            .collect();
        let summary = (input.u8() % 2 == 0).then(|| StateSummary {
            fingerprint: input.number(),
            salt: input.u8().into(),
            retry: input.u8() % 2 == 0,
        });
        StateSync {
            want,
            summary,
            digest,
            deltas,
        }
    }

    /// A full membership state of a few records.
    pub fn push_pull(&self, input: &mut Input<'_>) -> PushPull {
        PushPull {
            join: input.u8() % 2 == 0,
            members: (0..input.below(7))
                .map(|_| {
                    let (name, addr) = self.someone(input);
                    MemberRecord {
                        name,
                        addr: if input.u8() % 4 == 0 {
                            self.addr(input)
                        } else {
                            addr
                        },
                        incarnation: input.number(),
                        state: MemberState::from_code(input.u8() % 4).unwrap_or(MemberState::Alive),
                        metadata: Arc::from(input.bytes(32)),
                    }
                })
                .collect(),
        }
    }
}
