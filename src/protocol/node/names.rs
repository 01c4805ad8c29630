//! Shares one allocation per distinct node name across every node of a simulation.
//!
//! Decoding creates fresh strings. A real node keeps one copy of each name (in its member
//! table), so it needs none of this; a simulator that holds 10,000 nodes' tables in one
//! process hands their cores one [`SharedNames`], and every name is held once.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::codec::{Frame, Message, StateSync};
use crate::member::NodeName;

/// One interner shared by every node core of a process (single-threaded drivers only take
/// its lock, so it is never contended).
pub(crate) type SharedNames = Arc<Mutex<Interner>>;

/// Shares one allocation per distinct name (and for empty metadata): 10,000 tables of
/// 10,000 members must not hold 10⁸ copies.
#[derive(Debug)]
pub(crate) struct Interner {
    names: HashSet<NodeName>,
    empty: Arc<[u8]>,
}

impl Interner {
    /// An empty interner.
    pub(crate) fn new() -> Interner {
        Interner {
            names: HashSet::new(),
            empty: Arc::from(&[][..]),
        }
    }

    /// The shared copy of `name`.
    pub(crate) fn name(&mut self, name: &NodeName) -> NodeName {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        self.names.insert(name.clone());
        name.clone()
    }

    /// The shared copy of empty metadata, or `metadata` itself.
    pub(crate) fn metadata(&self, metadata: &Arc<[u8]>) -> Arc<[u8]> {
        if metadata.is_empty() {
            self.empty.clone()
        } else {
            metadata.clone()
        }
    }

    /// Interns every name in a message.
    pub(crate) fn message(&mut self, message: &mut Message) {
        match message {
            Message::Ping(m) => {
                m.target = self.name(&m.target);
                m.source = self.name(&m.source);
            }
            Message::PingReq(m) => {
                m.target = self.name(&m.target);
                m.source = self.name(&m.source);
            }
            Message::Ack(m) => m.source = self.name(&m.source),
            Message::Nack(m) => m.source = self.name(&m.source),
            Message::Alive(m) => {
                m.name = self.name(&m.name);
                m.metadata = self.metadata(&m.metadata);
            }
            Message::Suspect(m) => {
                m.name = self.name(&m.name);
                m.from = self.name(&m.from);
            }
            Message::Dead(m) => {
                m.name = self.name(&m.name);
                m.from = self.name(&m.from);
            }
            Message::Left(m) => m.name = self.name(&m.name),
            Message::User(m) => m.origin = self.name(&m.origin),
            Message::Known(m) => {
                for (origin, _) in &mut m.ids {
                    *origin = self.name(origin);
                }
            }
            Message::State(sync) => self.state(sync),
            Message::Aggregate(_) => {}
        }
    }

    /// Interns every owner name of a state exchange leg.
    pub(crate) fn state(&mut self, sync: &mut StateSync) {
        for d in &mut sync.digest {
            d.owner = self.name(&d.owner);
        }
        for d in &mut sync.deltas {
            d.owner = self.name(&d.owner);
        }
    }

    /// Interns every name in a frame.
    pub(crate) fn frame(&mut self, frame: &mut Frame) {
        match frame {
            Frame::PushPull(state) => {
                for record in &mut state.members {
                    record.name = self.name(&record.name);
                    record.metadata = self.metadata(&record.metadata);
                }
            }
            Frame::State(sync) => self.state(sync),
        }
    }
}
