//! The reactor's TCP side: the table of open connections ([`Conns`]) and, for each, a small
//! state machine over a nonblocking stream ([`Conn`]).
//!
//! Every frame on the wire is a u32 big-endian length, then that many bytes. A connection
//! carries exactly one request and one response:
//!
//! ```text
//! Outbound (we asked, NetOutput::Exchange):
//!   Connecting --writable, connected--> Sending request --flushed--> Receiving response
//!     --whole frame--> Response(Ok(bytes)), connection dropped
//!
//! Inbound (a peer asked, accepted on the listener):
//!   Receiving request --whole frame--> Request(bytes) to the sink --> Waiting
//!     --NetOutput::Reply--> Sending reply --flushed--> Close
//! ```
//!
//! Any failure ends the connection: an outbound one reports `Response(Err(..))`, an inbound one
//! just closes. mio is edge-triggered, so [`Conn::ready`] always reads or writes until the
//! socket says `WouldBlock` (or the current step is complete) before it returns.
//!
//! A stranger can hold little here (see `ReactorLimits`): a frame is refused on its length
//! and its head before its body is buffered (`reader.rs`); inbound and outbound
//! connections have separate slots, and a full inbound table evicts its oldest
//! unfinished request; all buffers together stay within one byte budget; every phase has
//! a deadline; and inbound requests are handed on at a bounded rate, those over it held
//! for a token within their deadline, a bounded number (`held.rs`).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

mod conn;
mod held;
mod rate;
mod reader;

use self::conn::{Conn, Kind, Outcome};
use self::held::HeldRequests;
use self::rate::RequestRates;
#[cfg(feature = "unstable-internals")]
pub(crate) use self::reader::FrameReader;
pub(crate) use self::reader::ReadRules;
use super::reactor::{NetSink, ReactorLimits};
use crate::error::ExchangeError;
use crate::protocol::{ConnId, ExchangeId};
use crate::stats::{Counters, DropReason};

/// The TCP read buffer, shared by all connections (reads never go past a frame's end).
const READ_BUF: usize = 65_536;
/// How often held requests are offered tokens again.
const HELD_RETRY: Duration = Duration::from_millis(20);

/// Every open connection of one reactor, by mio token, with the limits they live under.
pub(super) struct Conns {
    /// Open connections; an inbound connection's id is its token's value.
    map: HashMap<Token, Conn>,
    /// The next token; tokens only grow, so a stale id never hits a newer connection.
    next_token: usize,
    /// The one read buffer, lent to each connection as it is driven.
    buf: Vec<u8>,
    /// Bounds (frame size, connection counts, bytes, timeouts, request rate).
    limits: ReactorLimits,
    /// Open inbound connections.
    inbound: usize,
    /// Open outbound connections.
    outbound: usize,
    /// Bytes held in the buffers of every connection.
    buffered: usize,
    /// Inbound requests that may still be handed on now.
    requests: RequestRates,
    /// Inbound requests over the rate, waiting for a token.
    held: HeldRequests,
    /// The node's counters (frames, drops).
    counters: Arc<Counters>,
}

impl Conns {
    /// An empty table whose tokens start at `first_token` (those below belong to the reactor).
    pub(super) fn new(first_token: usize, limits: ReactorLimits, counters: Arc<Counters>) -> Self {
        Conns {
            map: HashMap::new(),
            next_token: first_token,
            buf: vec![0; READ_BUF],
            requests: RequestRates::new(limits.requests_per_sec, limits.requests_per_source),
            held: HeldRequests::new(limits.max_held, limits.max_held_per_source),
            limits,
            inbound: 0,
            outbound: 0,
            buffered: 0,
            counters,
        }
    }

    /// Starts an outbound exchange; an `Err` is the answer to give at once.
    pub(super) fn open(
        &mut self,
        registry: &Registry,
        exchange: ExchangeId,
        to: SocketAddr,
        frame: &[u8],
        timeout: Duration,
        now: Instant,
    ) -> Result<(), ExchangeError> {
        if self.outbound >= self.limits.max_outbound {
            return Err(ExchangeError::Overloaded);
        }
        if frame.len() > self.limits.max_frame {
            return Err(ExchangeError::Oversized(frame.len()));
        }
        if self.buffered + frame.len() > self.limits.max_buffered {
            return Err(ExchangeError::Overloaded);
        }
        let stream = TcpStream::connect(to).map_err(|e| ExchangeError::Connect(e.kind()))?;
        let token = self.next_token();
        let until = deadline(now, timeout);
        let mut conn = Conn::outbound(stream, to, exchange, frame, now, until);
        // Both interests from the start: edge-triggered events for a state we are not in are
        // harmless, and it saves a reregister at every turn of the exchange.
        registry
            .register(
                &mut conn.stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| ExchangeError::Io(e.kind()))?;
        self.insert(token, conn);
        Ok(())
    }

    /// Accepts connections until none is pending (edge-triggered). With every inbound slot
    /// taken, a newcomer evicts the oldest connection that has not delivered its request,
    /// or is closed at once if every one has (both counted).
    pub(super) fn accept(&mut self, listener: &TcpListener, registry: &Registry, now: Instant) {
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    log::warn!("tcp accept failed: {e}");
                    return;
                }
            };
            if self.inbound >= self.limits.max_inbound && !self.evict_unfinished(registry) {
                self.counters.dropped(DropReason::TcpLimit);
                log::debug!("tcp {peer}: refused, every inbound slot is answering");
                continue; // dropping `stream` closes it
            }
            let token = self.next_token();
            let until = deadline(now, self.limits.head_timeout);
            let mut conn = Conn::inbound(stream, peer, ConnId(token.0 as u64), now, until);
            match registry.register(
                &mut conn.stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => self.insert(token, conn),
                Err(e) => log::warn!("tcp {peer}: register failed: {e}"),
            }
        }
    }

    /// Starts writing the reply of a waiting inbound connection; anything else is ignored.
    pub(super) fn reply(
        &mut self,
        registry: &Registry,
        sink: &mut impl NetSink,
        conn: ConnId,
        frame: &[u8],
        now: Instant,
    ) {
        let max_frame = self.limits.max_frame;
        let until = deadline(now, self.limits.inbound_timeout);
        let free = self.limits.max_buffered.saturating_sub(self.buffered);
        let Some(c) = self.inbound(conn) else {
            log::debug!("reply to unknown connection {conn:?} ignored");
            return;
        };
        if !c.is_waiting() {
            log::debug!("reply to connection {conn:?} that is not waiting ignored");
            return;
        }
        if frame.len() > max_frame {
            log::warn!(
                "reply of {} bytes over the frame limit; closing connection {conn:?}",
                frame.len()
            );
            self.close(registry, conn);
            return;
        }
        let before = c.held();
        if frame.len() + 4 > free + before {
            log::debug!(
                "reply of {} bytes over the byte budget; closing",
                frame.len()
            );
            self.counters.dropped(DropReason::TcpLimit);
            self.close(registry, conn);
            return;
        }
        c.start_reply(frame, until);
        let after = c.held();
        self.buffered = self.buffered - before + after;
        self.ready(registry, sink, Token(conn.0 as usize), now);
    }

    /// Closes an inbound connection without answering; unknown ids are ignored.
    pub(super) fn close(&mut self, registry: &Registry, conn: ConnId) {
        if self.inbound(conn).is_some() {
            self.remove(registry, Token(conn.0 as usize));
        }
    }

    /// Drives one connection after an event (or a new reply) and acts on the outcome.
    pub(super) fn ready(
        &mut self,
        registry: &Registry,
        sink: &mut impl NetSink,
        token: Token,
        now: Instant,
    ) {
        let Some(conn) = self.map.get_mut(&token) else {
            return;
        };
        let before = conn.held();
        let gate = |head: &[u8]| sink.admits_frame(head);
        let rules = ReadRules {
            max_frame: self.limits.max_frame,
            budget: self
                .limits
                .max_buffered
                .saturating_sub(self.buffered - before),
            gate: &gate,
        };
        let outcome = conn.ready(&mut self.buf, &rules, &self.counters);
        self.buffered = self.buffered - before + conn.held();
        match outcome {
            Outcome::Pending => {
                if conn.is_inbound_receiving() && conn.head_admitted() {
                    // It speaks our protocol: the whole request may take `inbound_timeout`.
                    conn.deadline = deadline(conn.opened, self.limits.inbound_timeout);
                }
            }
            Outcome::Request(frame) => {
                let from = conn.peer.ip();
                self.on_request(registry, sink, token, from, frame, now);
            }
            Outcome::Response(result) => {
                if let Some(Conn {
                    kind: Kind::Outbound { exchange },
                    ..
                }) = self.remove(registry, token)
                {
                    sink.response(exchange, result);
                }
            }
            Outcome::Close => {
                self.remove(registry, token);
            }
        }
    }

    /// Closes connections whose deadline has passed; an outbound one answers `Timeout`.
    pub(super) fn sweep(&mut self, registry: &Registry, sink: &mut impl NetSink, now: Instant) {
        let expired: Vec<Token> = self
            .map
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            match self.remove(registry, token) {
                Some(Conn {
                    kind: Kind::Outbound { exchange },
                    ..
                }) => {
                    sink.response(exchange, Err(ExchangeError::Timeout));
                }
                Some(conn) => log::debug!("tcp {}: inbound connection timed out", conn.peer),
                None => {}
            }
        }
    }

    /// How long the reactor may sleep: until the nearest deadline, or forever without any.
    pub(super) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let retry = (!self.held.is_empty()).then_some(HELD_RETRY);
        let nearest = self
            .map
            .values()
            .map(|c| c.deadline)
            .min()
            .map(|d| d.saturating_duration_since(now));
        nearest.into_iter().chain(retry).min()
    }

    /// Drops every connection; each pending exchange answers `Shutdown`.
    pub(super) fn shutdown(&mut self, sink: &mut impl NetSink) {
        for (_, conn) in self.map.drain() {
            if let Kind::Outbound { exchange } = conn.kind {
                sink.response(exchange, Err(ExchangeError::Shutdown));
            }
        }
        self.held.clear();
        (self.inbound, self.outbound, self.buffered) = (0, 0, 0);
    }

    /// The inbound connection with id `conn`, if open (an outbound token is not a `conn`).
    fn inbound(&mut self, conn: ConnId) -> Option<&mut Conn> {
        let token = Token(usize::try_from(conn.0).ok()?);
        self.map
            .get_mut(&token)
            .filter(|c| c.kind == Kind::Inbound { conn })
    }

    /// A fresh connection token.
    fn next_token(&mut self) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        token
    }

    /// Closes the oldest inbound connection that has not delivered its request (counted);
    /// false if there is none.
    fn evict_unfinished(&mut self, registry: &Registry) -> bool {
        let oldest = self
            .map
            .iter()
            .filter(|(_, c)| c.is_inbound_receiving())
            .min_by_key(|(token, c)| (c.opened, token.0))
            .map(|(token, _)| *token);
        let Some(token) = oldest else {
            return false;
        };
        if let Some(conn) = self.remove(registry, token) {
            log::debug!("tcp {}: evicted, its request unfinished", conn.peer);
        }
        self.counters.dropped(DropReason::TcpLimit);
        true
    }

    /// Keeps a new connection, counting its slot and its bytes.
    fn insert(&mut self, token: Token, conn: Conn) {
        match conn.kind {
            Kind::Inbound { .. } => self.inbound += 1,
            Kind::Outbound { .. } => self.outbound += 1,
        }
        self.buffered += conn.held();
        self.map.insert(token, conn);
    }

    /// Deregisters and drops a connection (dropping the stream closes it), giving back its
    /// slot and its bytes.
    fn remove(&mut self, registry: &Registry, token: Token) -> Option<Conn> {
        let mut conn = self.map.remove(&token)?;
        match conn.kind {
            Kind::Inbound { .. } => self.inbound -= 1,
            Kind::Outbound { .. } => self.outbound -= 1,
        }
        self.buffered -= conn.held();
        let held_before = self.held.bytes();
        self.held.forget(token);
        self.buffered -= held_before - self.held.bytes();
        if let Err(e) = registry.deregister(&mut conn.stream) {
            log::debug!("tcp {}: deregister failed: {e}", conn.peer);
        }
        Some(conn)
    }
}

/// `now + d`, saturating far in the future instead of panicking on overflow.
fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
