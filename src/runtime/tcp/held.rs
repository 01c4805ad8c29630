//! The gate of inbound requests: each whole request takes a token of the rate
//! ([`RequestRates`]) and is handed on; one over the rate waits here for a token instead
//! of being closed at once: fifty nodes starting together and joining through one seed from one address (one
//! host, or many behind one NAT) are served a second or two later, not refused until
//! their next push-pull. Each waits at most its connection's deadline; held requests are
//! bounded per source address and in all, so a stranger's flood still ends in closed
//! connections (counted) once its share is full, and members elsewhere keep their slots.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use mio::{Registry, Token};

use super::rate::RequestRates;
use super::{Conns, NetSink, deadline};
use crate::protocol::ConnId;
use crate::stats::DropReason;

/// One request waiting for a token.
struct Held {
    token: Token,
    from: IpAddr,
    frame: Vec<u8>,
}

/// The requests waiting for a token, oldest first.
pub(super) struct HeldRequests {
    queue: VecDeque<Held>,
    per_source: HashMap<IpAddr, usize>,
    max_per_source: usize,
    max: usize,
    bytes: usize,
}

impl HeldRequests {
    /// Room for `max` requests, at most `max_per_source` from one address.
    pub(super) fn new(max: usize, max_per_source: usize) -> HeldRequests {
        HeldRequests {
            queue: VecDeque::new(),
            per_source: HashMap::new(),
            max_per_source,
            max,
            bytes: 0,
        }
    }

    /// Holds `frame`, the request of connection `token` from `from`; hands it back if
    /// there is no room for it.
    pub(super) fn hold(
        &mut self,
        token: Token,
        from: IpAddr,
        frame: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        let held_from = self.per_source.get(&from).copied().unwrap_or(0);
        if self.queue.len() >= self.max || held_from >= self.max_per_source {
            return Err(frame);
        }
        *self.per_source.entry(from).or_insert(0) += 1;
        self.bytes += frame.len();
        self.queue.push_back(Held { token, from, frame });
        Ok(())
    }

    /// The held requests that get a token from `rates` at `now`, oldest first; the rest
    /// keep waiting.
    pub(super) fn release(
        &mut self,
        rates: &mut RequestRates,
        now: Instant,
    ) -> Vec<(Token, Vec<u8>)> {
        let mut released = Vec::new();
        let mut waiting = VecDeque::with_capacity(self.queue.len());
        for held in self.queue.drain(..) {
            if rates.take(held.from, now) {
                released.push(held);
            } else {
                waiting.push_back(held);
            }
        }
        self.queue = waiting;
        released
            .into_iter()
            .map(|held| {
                self.unhold(held.from, held.frame.len());
                (held.token, held.frame)
            })
            .collect()
    }

    /// Drops connection `token`'s request, if held (its connection is gone).
    pub(super) fn forget(&mut self, token: Token) {
        if let Some(at) = self.queue.iter().position(|h| h.token == token) {
            if let Some(held) = self.queue.remove(at) {
                self.unhold(held.from, held.frame.len());
            }
        }
    }

    /// Drops every held request.
    pub(super) fn clear(&mut self) {
        self.queue.clear();
        self.per_source.clear();
        self.bytes = 0;
    }

    /// Whether any request is held.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes of the held frames (part of the table's byte budget).
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    fn unhold(&mut self, from: IpAddr, len: usize) {
        self.bytes -= len;
        if let Some(n) = self.per_source.get_mut(&from) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&from);
            }
        }
    }
}

impl Conns {
    /// A whole request arrived on inbound connection `token` from `from`: handed on if
    /// the rate allows, else held for a token if there is room, else closed (counted).
    pub(super) fn on_request(
        &mut self,
        registry: &Registry,
        sink: &mut impl NetSink,
        token: Token,
        from: IpAddr,
        frame: Vec<u8>,
        now: Instant,
    ) {
        if self.requests.take(from, now) {
            self.hand_on(registry, sink, token, frame, now);
            return;
        }
        let len = frame.len();
        let fits = self.buffered + len <= self.limits.max_buffered;
        if fits && self.held.hold(token, from, frame).is_ok() {
            // It waits within the deadline it has: `inbound_timeout` from accept.
            self.buffered += len;
            log::debug!("tcp {from}: request over the rate limit, held");
        } else {
            log::debug!("tcp {from}: request over the rate limit, closing");
            self.counters.dropped(DropReason::TcpLimit);
            self.remove(registry, token);
        }
    }

    /// Hands the request of inbound connection `token` to the sink: the application now
    /// has `inbound_timeout` to answer.
    pub(super) fn hand_on(
        &mut self,
        registry: &Registry,
        sink: &mut impl NetSink,
        token: Token,
        frame: Vec<u8>,
        now: Instant,
    ) {
        let Some(conn) = self.map.get_mut(&token) else {
            return;
        };
        conn.deadline = deadline(now, self.limits.inbound_timeout);
        let (id, peer) = (ConnId(token.0 as u64), conn.peer);
        if !sink.request(id, peer, frame) {
            log::debug!("tcp {peer}: unusable request, closing");
            self.remove(registry, token);
        }
    }

    /// Hands on the held requests that get a token now.
    pub(in crate::runtime) fn release_held(
        &mut self,
        registry: &Registry,
        sink: &mut impl NetSink,
        now: Instant,
    ) {
        if self.held.is_empty() {
            return;
        }
        for (token, frame) in self.held.release(&mut self.requests, now) {
            self.buffered -= frame.len();
            self.hand_on(registry, sink, token, frame, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::rate::tests::{A, B, start};
    use super::*;

    #[test]
    fn held_requests_are_bounded_per_source_and_in_all() {
        let mut held = HeldRequests::new(3, 2);
        assert!(held.hold(Token(1), A, vec![1]).is_ok());
        assert!(held.hold(Token(2), A, vec![2, 2]).is_ok());
        assert_eq!(
            held.hold(Token(3), A, vec![3]),
            Err(vec![3]),
            "A's share is full"
        );
        assert!(held.hold(Token(4), B, vec![4]).is_ok());
        assert_eq!(
            held.hold(Token(5), B, vec![5]),
            Err(vec![5]),
            "the table is full"
        );
        assert_eq!(held.bytes(), 4);
        held.forget(Token(2));
        assert_eq!(held.bytes(), 2);
        assert!(held.hold(Token(6), A, vec![6]).is_ok(), "room again");
    }

    #[test]
    fn held_requests_are_released_oldest_first_as_tokens_come() {
        let now = start();
        // One a second, bursts of two: spend the burst, then hold three.
        let mut rates = RequestRates::new(100, 1);
        assert!(rates.take(A, now) && rates.take(A, now));
        let mut held = HeldRequests::new(8, 8);
        for t in 1..=3 {
            assert!(held.hold(Token(t), A, vec![t as u8]).is_ok());
        }
        assert!(held.release(&mut rates, now).is_empty());
        let first = held.release(&mut rates, now + Duration::from_millis(1_001));
        assert_eq!(first, vec![(Token(1), vec![1])]);
        let next = held.release(&mut rates, now + Duration::from_millis(3_002));
        assert_eq!(next, vec![(Token(2), vec![2]), (Token(3), vec![3])]);
        assert!(held.is_empty() && held.bytes() == 0);
    }
}
