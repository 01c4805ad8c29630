//! The one event queue: everything that happens in a simulation, ordered by
//! `(time, insertion sequence)` so ties resolve the same way on every run.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::faults::Fault;
use super::node::{Comp, Input};
use crate::protocol::RequestId;
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
    /// An inter-actor message arrives at one component of `node`.
    Input {
        node: usize,
        generation: u32,
        input: Input,
    },
    /// A component's deadline.
    Wake {
        node: usize,
        generation: u32,
        comp: Comp,
        deadline: Instant,
    },
    /// A push-pull request reaches `to` over TCP.
    SyncRequest {
        to: usize,
        generation: u32,
        conn: u64,
        frame: Vec<u8>,
    },
    /// The answer (or failure) of a push-pull reaches the node that started it.
    SyncResponse {
        to: usize,
        generation: u32,
        request: RequestId,
        result: Result<Vec<u8>, String>,
    },
    /// An exchange's deadline: fails it if still unanswered.
    SyncTimeout { conn: u64 },
    /// A scripted fault.
    Fault(Fault),
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
