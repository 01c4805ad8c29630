//! The one event queue: everything that happens in a simulation, ordered by
//! `(time, insertion sequence)` so ties resolve the same way on every run.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::faults::Fault;
use crate::error::ExchangeError;
use crate::protocol::{ComponentInput, ConnId, ExchangeId};
use crate::time::Instant;

/// Something scheduled to happen.
#[derive(Debug)]
pub(crate) enum Event {
    /// A datagram arrives at `to`.
    Datagram {
        to: usize,
        generation: u32,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A command reaches one component of `node` (a join, a leave).
    Input {
        node: usize,
        generation: u32,
        input: ComponentInput,
    },
    /// The node core's next deadline.
    Wake {
        node: usize,
        generation: u32,
        deadline: Instant,
    },
    /// An exchange's request reaches `to` over TCP.
    SyncRequest {
        to: usize,
        generation: u32,
        conn: ConnId,
        frame: Vec<u8>,
    },
    /// The answer (or failure) of an exchange reaches the node that started it.
    SyncResponse {
        to: usize,
        generation: u32,
        exchange: ExchangeId,
        result: Result<Vec<u8>, ExchangeError>,
    },
    /// An exchange's deadline: fails it if still unanswered.
    SyncTimeout { conn: ConnId },
    /// A scripted fault.
    Fault(Fault),
    /// An adversary's next forged packet.
    Attack,
    /// A leaving node that never confirmed its `left` stops anyway.
    LeaveDeadline { node: usize, generation: u32 },
}

struct Entry {
    at: Instant,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-queue of events by `(time, sequence)`.
#[derive(Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `event` at `at`.
    pub(crate) fn push(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            event,
        }));
    }

    /// The earliest event, if it is due by `until`.
    pub(crate) fn pop_until(&mut self, until: Instant) -> Option<(Instant, Event)> {
        if self.heap.peek()?.0.at > until {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }

    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
