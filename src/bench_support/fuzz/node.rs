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
use std::time::Duration;

use super::{Cast, Input};
use crate::codec::{Frame, Message};
use crate::codec::{encode_frame, encode_packet};
use crate::config::{BroadcastMode, Config, StateMode};
use crate::error::ExchangeError;
use crate::protocol::{
    self, AggregationInput, ComponentInput, ConnId, ExchangeId, MembershipInput, NodeSetup,
    RequestId, StateInput,
};
use crate::seal::Transport;
use crate::stats::DropReason;
use crate::time::Instant;

mod outputs;
mod sealed;

use self::sealed::{Sealing, WALL_ORIGIN_MS};

/// Most probe numbers and open exchanges remembered for answers.
const REMEMBERED: usize = 16;
/// Most deadline firings per time op (bounds an input's cost, not a property).
const MAX_FIRINGS: usize = 2_000;
/// Firings at one instant after which a deadline that stays due is a busy loop.
const MAX_SAME_INSTANT: usize = 64;
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
        let sealing = (flags & 0x80 != 0).then(|| Sealing::new(&config));
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
        let (sent, _) = self.route(Some(from));
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

/// Keeps the last [`REMEMBERED`] values.
fn remember<T>(list: &mut Vec<T>, value: T) {
    if list.len() >= REMEMBERED {
        list.remove(0);
    }
    list.push(value);
}
