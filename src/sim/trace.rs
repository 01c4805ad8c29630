//! What the simulator observed: every membership event, as `(time, observer, member,
//! kind)`, and a hash of the whole run for determinism checks.

use std::time::Duration;

use super::NodeId;
use crate::event::Event;
use crate::hash::Fnv1a;
use crate::member::{Incarnation, NodeName};

/// Kinds of membership event, as the observer reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `Event::Join`.
    Join,
    /// `Event::Leave`.
    Leave,
    /// `Event::Fail`.
    Fail,
    /// `Event::Suspect`.
    Suspect,
    /// `Event::Update`.
    Update,
    /// `Event::Conflict`.
    Conflict,
}

impl EventKind {
    /// The kind of an [`Event`].
    pub(crate) fn of(event: &Event) -> EventKind {
        match event {
            Event::Join(_) => EventKind::Join,
            Event::Leave(_) => EventKind::Leave,
            Event::Fail(_) => EventKind::Fail,
            Event::Suspect(_) => EventKind::Suspect,
            Event::Update(_) => EventKind::Update,
            Event::Conflict { .. } => EventKind::Conflict,
        }
    }

    /// Lower-case name, as in the chat example's headless output.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Fail => "fail",
            EventKind::Suspect => "suspect",
            EventKind::Update => "update",
            EventKind::Conflict => "conflict",
        }
    }
}

/// One membership event seen by one simulated node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Simulated time since the start.
    pub at: Duration,
    /// The node that reported it.
    pub observer: NodeId,
    /// The member it is about.
    pub member: NodeName,
    /// Its incarnation as reported.
    pub incarnation: Incarnation,
    /// What happened.
    pub kind: EventKind,
}

/// The recorded events and a running FNV-1a hash over them and every datagram.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) events: Vec<TraceEvent>,
    record: bool,
    hash: Fnv1a,
}

impl Trace {
    /// A trace that keeps events in memory when `record` is set (the hash is always kept).
    pub(crate) fn new(record: bool) -> Trace {
        Trace {
            events: Vec::new(),
            record,
            hash: Fnv1a::new(),
        }
    }

    /// Adds an event.
    pub(crate) fn event(&mut self, event: TraceEvent) {
        self.mix(&event.at.as_micros().to_be_bytes());
        self.mix(&(event.observer.0 as u64).to_be_bytes());
        self.mix(event.member.as_str().as_bytes());
        self.mix(&event.incarnation.to_be_bytes());
        self.mix(event.kind.as_str().as_bytes());
        if self.record {
            self.events.push(event);
        }
    }

    /// Mixes a datagram (or any bytes) into the hash.
    pub(crate) fn mix(&mut self, bytes: &[u8]) {
        self.hash.write(bytes);
    }

    /// The hash so far.
    pub(crate) fn hash(&self) -> u64 {
        self.hash.finish()
    }
}
