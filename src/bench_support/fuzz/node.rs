//! The `node` target: the whole inbound path of one node core (the very wiring the runtime
//! and the simulator drive), fed a script decoded from the fuzz bytes.
//!
//! ```text
//! fuzz bytes: flags (config, local state) | op | op | ...
//! op % 8: 0, 1 a datagram of well-formed messages (cluster header right, mostly)
//!         2    a datagram of raw bytes
//!         3    a TCP request: a well-formed push-pull or state frame; 4 raw bytes
//!         5    the answer to an exchange the node opened (a frame, raw bytes or an error)
//!         6, 7 time passes: the node's deadlines fire, stepping through them or in a jump
//! ```
//! The node knows five members, so forged traffic about them reaches real logic; strangers
//! and made-up names and addresses come from [`Cast`]. After every op all that left the
//! node is routed ([`FuzzNode`] checks each datagram and frame it sent) and its invariants
//! are checked.
//!
//! **The encrypted variant** (flags bit 7, with the join): the node holds a key and starts
//! in [`EncryptionMode::Required`]; the harness seals what it builds with the same key, on
//! a wall clock that is the node's. The byte that picks a header (values that all meant
//! "this cluster's" before) now also says how it goes in:
//!
//! ```text
//! header byte % 32: 0 another cluster's (sealed)   1 flags 1, not sealed   2 plaintext
//!                   3 sealed, one byte flipped     4 sealed beyond the skew
//!                   5 the last sealed one taken, again (a replay)
//!                   6 the mode steps, then sealed: Required -> Sealing -> Opening -> Off -> ...
//!                   7.. sealed
//! ```
//! Raw bytes go in as they are. What it sends must open with the key while the mode seals
//! (and be plaintext otherwise); a sealed input must be opened (`sealed_in`) exactly when it
//! is this cluster's, fits and the mode is not `Off`; a flipped, stale or replayed one never.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Cast, Input};
use crate::codec::{Frame, MAX_FRAME_LEN, Message, decode_frame, decode_packet};
use crate::codec::{Header, encode_frame, encode_packet};
use crate::config::{BroadcastMode, Config, StateMode};
use crate::error::ExchangeError;
use crate::member::MemberState;
use crate::protocol::{
    self, AggregationInput, ComponentInput, ConnId, Egress, ExchangeId, MembershipInput, NetOutput,
    NodeSetup, RequestId, StateInput,
};
use crate::seal::{EncryptionMode, Envelope, Key, Keyring, PrefixSource, SealControl};
use crate::seal::{SEALED, SEALED_OVERHEAD, Transport};
use crate::stats::DropReason;
use crate::time::Instant;

/// Most probe numbers and open exchanges remembered for answers.
const REMEMBERED: usize = 16;
/// Most deadline firings per time op (bounds an input's cost, not a property).
const MAX_FIRINGS: usize = 2_000;
/// Firings at one instant after which a deadline that stays due is a busy loop.
const MAX_SAME_INSTANT: usize = 64;
/// The encrypted variant's key, and its node's wall clock at protocol time zero.
const KEY: [u8; 32] = [0x5e; 32];
const WALL_ORIGIN_MS: u64 = 1_767_225_600_000;
/// The modes the encrypted variant steps through, from the first.
const MODES: [EncryptionMode; 4] = [
    EncryptionMode::Required,
    EncryptionMode::Sealing,
    EncryptionMode::Opening,
    EncryptionMode::Off,
];

/// Runs the script `data` against a fresh node; panics if an invariant breaks.
pub fn node(data: &[u8]) {
    let mut input = Input::new(data);
    let mut node = FuzzNode::new(input.u8());
    while !input.is_empty() {
        node.step(&mut input);
    }
}

/// One node core with five members, driven by fuzz bytes.
#[derive(Debug)]
pub struct FuzzNode {
    core: protocol::NodeCore,
    config: Config,
    cast: Cast,
    now: Instant,
    /// Probe numbers the node sent lately (answers to them reach the failure detector).
    seqs: Vec<u32>,
    /// Exchanges the node opened and no answer was given to yet.
    exchanges: Vec<ExchangeId>,
    next_id: u64,
    /// The node's incarnation, which never falls.
    incarnation: u64,
    /// The encrypted variant's keys and envelopes.
    sealing: Option<Sealing>,
}

/// How the encrypted variant feeds what it built (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrap {
    Sealed,
    Plain,
    Tampered,
    Stale,
    Replayed,
}

/// An input the encrypted variant fed, and what the edge must make of it.
#[derive(Debug)]
struct Fed {
    wrap: Wrap,
    transport: Transport,
    bytes: Vec<u8>,
    /// This cluster's, within the MTU: a sealed one reaches the keys.
    reaches: bool,
    /// The node's `sealed_in` and `dropped_stale` before.
    before: (u64, u64),
}

/// The encrypted variant: the node's keys and mode, and the harness's own.
#[derive(Debug)]
struct Sealing {
    control: Arc<SealControl>,
    keyring: Keyring,
    /// Seals what the harness feeds the node.
    out: Envelope,
    /// Opens what the node sends.
    back: Envelope,
    /// Index of the mode in [`MODES`].
    mode: usize,
    /// The last sealed datagram and frame the node opened, to replay.
    last: [Option<Vec<u8>>; 2],
    /// Inputs flipped or sealed stale so far (which byte, which side of the skew).
    spoiled: usize,
    skew_ms: u64,
}

impl FuzzNode {
    /// A node whose settings and local state `flags` choose: Lifeguard, broadcast mode,
    /// state mode, a key of its own, a published aggregate, a join under way over sealed
    /// traffic (the encrypted variant).
    pub fn new(flags: u8) -> FuzzNode {
        let config = Config {
            max_members: 8,
            lifeguard: flags & 1 == 0,
            broadcast_mode: match (flags >> 1) % 4 {
                0 => BroadcastMode::gossip(3),
                1 => BroadcastMode::Feedback {
                    fanout: 3,
                    retransmit_mult: 8,
                    known_limit: 2,
                },
                2 => BroadcastMode::PointToPoint,
                _ => BroadcastMode::EagerFlood,
            },
            state_mode: [StateMode::PushPull, StateMode::Push, StateMode::Pull]
                [usize::from(flags >> 3) % 3],
            ..Config::lan()
        };
        let cast = Cast::new(5);
        let sealing = (flags & 0x80 != 0).then(|| {
            let skew_ms = config.max_clock_skew.as_millis() as u64;
            let key = || Key::from_bytes(&KEY).unwrap_or_else(|_| unreachable!());
            let keyring = Some(Keyring::new(key()));
            let seeded = |seed| PrefixSource::Seeded(Box::new(ChaCha8Rng::seed_from_u64(seed)));
            Sealing {
                control: Arc::new(SealControl::new(keyring, MODES[0])),
                keyring: Keyring::new(key()),
                out: Envelope::new(&config.cluster, skew_ms, 1, seeded(1), false),
                back: Envelope::new(&config.cluster, skew_ms, 2, seeded(2), true),
                mode: 0,
                last: [None, None],
                spoiled: 0,
                skew_ms,
            }
        });
        let seal = sealing
            .as_ref()
            .map_or_else(Arc::default, |s| s.control.clone());
        let setup = NodeSetup {
            config: config.clone(),
            name: cast.me.0.clone(),
            addr: cast.me.1,
            metadata: Arc::from(&b"zone=a"[..]),
            seed: u64::from(flags),
            generation: 1,
            now: Instant::ZERO,
            seal,
        };
        let mut core = protocol::NodeCore::new(setup, None);
        core.set_wall_origin(WALL_ORIGIN_MS);
        let membership = &mut core.components_mut().membership;
        membership.seed_members(Instant::ZERO, &cast.members, &Arc::from(&[][..]));
        let mut node = FuzzNode {
            core,
            config,
            cast,
            now: Instant::ZERO,
            seqs: Vec::new(),
            exchanges: Vec::new(),
            next_id: 0,
            incarnation: 0,
            sealing,
        };
        if flags & 0x20 != 0 {
            let (key, value) = ("k".to_owned(), b"v1".to_vec());
            let request = node.request_id();
            node.input(ComponentInput::State(StateInput::Set {
                request,
                key,
                value,
            }));
        }
        if flags & 0x40 != 0 {
            let name = crate::aggregate::AggregateName::new("load");
            let name = name.unwrap_or_else(|| unreachable!());
            let request = node.request_id();
            let publish = AggregationInput::Publish {
                request,
                name,
                value: 1.5,
            };
            node.input(ComponentInput::Aggregation(publish));
        }
        if flags & 0x80 != 0 {
            let request = node.request_id();
            let seeds = vec![node.cast.members[0].1];
            node.input(ComponentInput::Membership(MembershipInput::Join {
                request,
                seeds,
            }));
        }
        node
    }

    /// Runs one op of the script.
    pub fn step(&mut self, input: &mut Input<'_>) {
        match input.u8() % 8 {
            0 | 1 => {
                let from = self.source(input);
                let messages: Vec<Message> = (0..1 + input.below(4))
                    .map(|_| self.cast.message(input, &self.seqs))
                    .collect();
                let (header, wrap) = self.header(input);
                if let Ok(bytes) = encode_packet(&header, &messages) {
                    let fed = self.wrap(Transport::Datagram, bytes, &header, wrap);
                    self.datagram(from, &fed.bytes);
                    self.fed(fed);
                }
            }
            2 => {
                let from = self.source(input);
                let bytes = input.bytes16(2_000);
                self.datagram(from, bytes);
            }
            3 => {
                let frame = self.frame(input);
                let (header, wrap) = self.header(input);
                if let Ok(bytes) = encode_frame(&header, &frame) {
                    let fed = self.wrap(Transport::Frame, bytes, &header, wrap);
                    self.request(&fed.bytes);
                    self.fed(fed);
                }
            }
            4 => {
                let bytes = input.bytes16(4_096);
                self.request(bytes);
            }
            5 => self.response(input),
            _ => {
                let by = match input.u8() % 8 {
                    0 => Duration::from_millis(input.u16().into()),
                    1 => Duration::from_secs(31),
                    2 => Duration::from_secs(61),
                    i => Duration::from_millis([1, 100, 200, 500, 1_000][usize::from(i - 3)]),
                };
                self.advance(by, input.u8() % 4 == 0);
            }
        }
        self.check();
    }

    /// Where a datagram comes from: mostly a member, else the node itself, a stranger, or
    /// any address.
    fn source(&self, input: &mut Input<'_>) -> SocketAddr {
        match input.u8() % 4 {
            0 | 1 => self.cast.members[input.below(self.cast.members.len())].1,
            _ => self.cast.addr(input),
        }
    }

    /// The cluster's header, or (rarely) another cluster's or the sealed flag; and in the
    /// encrypted variant how it goes in (see the module docs).
    fn header(&mut self, input: &mut Input<'_>) -> (Header, Wrap) {
        let cluster = self.config.cluster_id();
        let choice = input.u8() % 32;
        let header = match choice {
            0 => Header {
                cluster: input.u64(),
                flags: 0,
            },
            1 => Header { cluster, flags: 1 },
            _ => Header { cluster, flags: 0 },
        };
        let wrap = match choice {
            1 | 2 => Wrap::Plain,
            3 => Wrap::Tampered,
            4 => Wrap::Stale,
            5 => Wrap::Replayed,
            _ => Wrap::Sealed,
        };
        if let Some(s) = self.sealing.as_mut().filter(|_| choice == 6) {
            s.mode = (s.mode + 1) % MODES.len();
            let set = s.control.set_mode(MODES[s.mode]);
            assert_eq!(set, Ok(()), "a node with a keyring refused a mode");
        }
        (header, wrap)
    }

    /// This node's wall clock now, as the core computes it.
    fn wall_ms(&self) -> u64 {
        WALL_ORIGIN_MS + self.now.saturating_since(Instant::ZERO).as_millis() as u64
    }

    /// `plain` as the encrypted variant feeds it (`wrap`), or as it is.
    fn wrap(&mut self, transport: Transport, plain: Vec<u8>, header: &Header, wrap: Wrap) -> Fed {
        let (wall, mtu) = (self.wall_ms(), self.config.mtu);
        let c = self.core.counters();
        let before = (c.sealed_in.load(Relaxed), c.dropped_stale.load(Relaxed));
        let ours = header.cluster == self.config.cluster_id();
        let Some(s) = self.sealing.as_mut() else {
            let (wrap, reaches) = (Wrap::Plain, false);
            return Fed {
                wrap,
                transport,
                bytes: plain,
                reaches,
                before,
            };
        };
        let replay = s.last[transport as usize]
            .clone()
            .filter(|_| wrap == Wrap::Replayed);
        let wrap = match (wrap, &replay) {
            (Wrap::Replayed, None) => Wrap::Sealed,
            _ => wrap,
        };
        let sent = match wrap {
            Wrap::Stale if s.spoiled % 2 == 0 => wall.saturating_sub(s.skew_ms + 1),
            Wrap::Stale => wall + s.skew_ms + 1,
            _ => wall,
        };
        let mut bytes = match (wrap, replay) {
            (Wrap::Plain, _) => plain,
            (_, Some(again)) => again,
            _ => s
                .out
                .seal(&s.keyring, transport, &plain, sent)
                .unwrap_or_else(|e| panic!("{e:?}")),
        };
        if matches!(wrap, Wrap::Tampered | Wrap::Stale) {
            s.spoiled += 1;
        }
        if wrap == Wrap::Tampered {
            let at = (s.spoiled * 37 + 3) % bytes.len();
            bytes[at] ^= 1 << (s.spoiled % 8);
        }
        let fits = transport == Transport::Frame || bytes.len() <= mtu;
        let reaches = ours && fits;
        Fed {
            wrap,
            transport,
            bytes,
            reaches,
            before,
        }
    }

    /// What the edge made of `fed`: a sealed input that reaches the keys is opened unless
    /// the mode is `Off`; a flipped, stale or replayed one never is.
    fn fed(&mut self, fed: Fed) {
        let Some(s) = self.sealing.as_mut() else {
            return;
        };
        let c = self.core.counters();
        let opened = c.sealed_in.load(Relaxed) - fed.before.0;
        let stale = c.dropped_stale.load(Relaxed) - fed.before.1;
        let reaches = fed.reaches && MODES[s.mode] != EncryptionMode::Off;
        match fed.wrap {
            Wrap::Sealed => {
                assert_eq!(opened, u64::from(reaches), "a sealed input opened or not");
                if reaches {
                    s.last[fed.transport as usize] = Some(fed.bytes);
                }
            }
            Wrap::Stale => {
                assert_eq!(opened, 0, "a stale input opened");
                assert_eq!(
                    stale,
                    u64::from(reaches),
                    "a stale input not refused as such"
                );
            }
            wrap => assert_eq!(opened, 0, "a {wrap:?} input opened"),
        }
    }

    /// A push-pull or state frame.
    fn frame(&self, input: &mut Input<'_>) -> Frame {
        if input.u8() % 2 == 0 {
            Frame::PushPull(self.cast.push_pull(input))
        } else {
            Frame::State(self.cast.state(input))
        }
    }

    /// A datagram arrives; from an address no member has, the node must answer with no
    /// more bytes than it received.
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        let stranger = !self.is_member_addr(from);
        self.core.datagram(self.now, from, bytes);
        let (wire, plain) = self.route(Some(from));
        // A known gap (fuzz/README.md): while the mode seals, a plaintext datagram still
        // taken draws sealed replies, each `SEALED_OVERHEAD` larger; the rule holds before
        // sealing.
        let sealing = self.sealing.as_ref().is_some_and(|s| MODES[s.mode].seals());
        let sent = if sealing && bytes.get(3).is_some_and(|f| f & SEALED == 0) {
            plain
        } else {
            wire
        };
        if stranger && !self.is_member_addr(from) {
            assert!(
                sent <= bytes.len(),
                "{sent} bytes to a stranger at {from} that sent {}",
                bytes.len()
            );
        }
    }

    /// A request arrives on a new inbound connection.
    fn request(&mut self, frame: &[u8]) {
        let conn = ConnId(self.next_id);
        self.next_id += 1;
        self.core.request(self.now, conn, frame);
        self.route(None);
    }

    /// An exchange the node opened ends (or a made-up one, which must do nothing).
    fn response(&mut self, input: &mut Input<'_>) {
        let exchange = if self.exchanges.is_empty() || input.u8() % 8 == 0 {
            match input.u8() % 2 {
                0 => ExchangeId::Membership(input.number()),
                _ => ExchangeId::State(input.number()),
            }
        } else {
            self.exchanges.remove(input.below(self.exchanges.len()))
        };
        let result = match input.u8() % 8 {
            0 => Err(ExchangeError::Timeout),
            1 => Err(ExchangeError::Closed),
            2 => Err(ExchangeError::Oversized(input.u32() as usize)),
            3 => Err(ExchangeError::Unusable(DropReason::Malformed)),
            4 => Ok(input.bytes16(4_096).to_vec()),
            _ => {
                let frame = self.frame(input);
                let (header, wrap) = self.header(input);
                match encode_frame(&header, &frame) {
                    Ok(bytes) => {
                        let fed = self.wrap(Transport::Frame, bytes, &header, wrap);
                        self.core
                            .response(self.now, exchange, Ok(fed.bytes.clone()));
                        self.route(None);
                        return self.fed(fed);
                    }
                    Err(_) => Err(ExchangeError::Closed),
                }
            }
        };
        self.core.response(self.now, exchange, result);
        self.route(None);
    }

    /// Time passes by `by`: every deadline due fires, in order, or (`jump`) all at once at
    /// the end, as a driver that was held up would fire them.
    fn advance(&mut self, by: Duration, jump: bool) {
        let end = self.now + by;
        if jump {
            self.now = end;
        }
        let mut same = 0;
        for _ in 0..MAX_FIRINGS {
            let Some(at) = self.core.poll_timeout().filter(|at| *at <= end) else {
                break;
            };
            let at = at.max(self.now);
            same = if at == self.now { same + 1 } else { 0 };
            assert!(same < MAX_SAME_INSTANT, "a deadline stays due at {at:?}");
            self.now = at;
            self.core.handle_timeout(at);
            self.route(None);
        }
        self.now = end;
    }

    /// Takes everything that left the node: each datagram must open (while the mode
    /// seals), decode as this cluster's and fit the MTU, each frame must open, decode and
    /// fit the frame limit. Returns the datagram bytes sent to `to`, as sent and before
    /// sealing.
    fn route(&mut self, to: Option<SocketAddr>) -> (usize, usize) {
        let cluster = self.config.cluster_id();
        let mut sent = (0, 0);
        while let Some(egress) = self.core.poll_output() {
            let Egress::Net(net) = egress else {
                continue;
            };
            match net {
                NetOutput::SendTo {
                    to: dest, bytes, ..
                } => {
                    assert!(bytes.len() <= self.config.mtu, "a datagram over the MTU");
                    let wire = bytes.len();
                    let bytes = self.unseal(Transport::Datagram, bytes);
                    let packet = decode_packet(&bytes).unwrap_or_else(|e| panic!("sent {e}"));
                    assert_eq!(packet.header.cluster, cluster, "sent another cluster's");
                    for message in &packet.messages {
                        if let Message::Ping(p) = message {
                            remember(&mut self.seqs, p.seq);
                        } else if let Message::PingReq(p) = message {
                            remember(&mut self.seqs, p.seq);
                        }
                    }
                    if Some(dest) == to {
                        sent = (sent.0 + wire, sent.1 + bytes.len());
                    }
                }
                NetOutput::Exchange {
                    exchange, frame, ..
                } => {
                    check_frame(&self.unseal(Transport::Frame, frame), cluster);
                    remember(&mut self.exchanges, exchange);
                }
                NetOutput::Reply { frame, .. } => {
                    check_frame(&self.unseal(Transport::Frame, frame), cluster);
                }
                NetOutput::Close { .. } => {}
            }
        }
        sent
    }

    /// What the node sent on `transport`: while its mode seals, sealed and opened with the
    /// key (a nonce used twice would be refused as a replay); plaintext otherwise.
    fn unseal(&mut self, transport: Transport, bytes: Vec<u8>) -> Vec<u8> {
        let wall = self.wall_ms();
        let Some(s) = self.sealing.as_mut().filter(|s| MODES[s.mode].seals()) else {
            let plain = bytes.get(3).is_some_and(|flags| flags & SEALED == 0);
            assert!(plain, "sent sealed while not sealing");
            return bytes;
        };
        let limit = match transport {
            Transport::Datagram => self.config.mtu,
            Transport::Frame => MAX_FRAME_LEN + SEALED_OVERHEAD,
        };
        assert!(bytes.len() <= limit, "sealed over the limit");
        match s.back.open(Some(&s.keyring), transport, &bytes, wall) {
            Ok(plain) => plain.into_owned(),
            Err(e) => panic!("sent what does not open with the key: {e:?}"),
        }
    }

    /// The invariants that hold after any input.
    fn check(&mut self) {
        let c = self.core.components();
        let members = c.membership.members();
        assert!(
            members.len() <= self.config.max_members,
            "table over its bound"
        );
        assert!(
            c.suspicion.len() <= self.config.max_members,
            "too many timers"
        );
        let incarnation = c.membership.local_incarnation();
        assert!(incarnation >= self.incarnation, "own incarnation fell");
        self.incarnation = incarnation;
        let me = c.membership.state_of(&self.cast.me.0).map(|(s, _)| s);
        assert_eq!(
            me,
            Some(MemberState::Alive),
            "the node no longer sees itself alive"
        );
        let (queued, user) = c.dissemination.queue_lens();
        let (max_queued, max_user) = c.dissemination.queue_bounds();
        assert!(
            queued <= max_queued && user <= max_user,
            "gossip queues over bound"
        );
    }

    /// Whether some member (the node included) is recorded at `addr`.
    fn is_member_addr(&self, addr: SocketAddr) -> bool {
        let c = self.core.components();
        c.membership.members().iter().any(|m| m.addr == addr)
    }

    /// A fresh request id for a command.
    fn request_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    /// Feeds a command and routes what it produces.
    fn input(&mut self, input: ComponentInput) {
        self.core.handle(self.now, input);
        self.route(None);
    }
}

/// A frame the node sent must decode as this cluster's, within the frame limit.
fn check_frame(frame: &[u8], cluster: u64) {
    assert!(frame.len() <= MAX_FRAME_LEN, "a frame over the limit");
    let (header, _) = decode_frame(frame).unwrap_or_else(|e| panic!("sent a bad frame: {e}"));
    assert_eq!(header.cluster, cluster, "sent another cluster's frame");
}

/// Keeps the last [`REMEMBERED`] values.
fn remember<T>(list: &mut Vec<T>, value: T) {
    if list.len() >= REMEMBERED {
        list.remove(0);
    }
    list.push(value);
}
