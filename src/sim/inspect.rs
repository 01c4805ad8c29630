//! What a test or tool can read from a running simulation: nodes, views, counters, the
//! trace, deliveries, and whether every view agrees.

use std::sync::Arc;
use std::time::Duration;

use super::control::Answered;
use super::engine::Simulation;
use super::node::Status;
use super::trace::TraceEvent;
use super::{Footprint, NodeId};
use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::stats::{MemberCounts, Stats};

/// A user broadcast delivered to a node.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// When.
    pub at: Duration,
    /// The receiving node.
    pub node: NodeId,
    /// The node that broadcast it.
    pub origin: NodeName,
    /// The payload.
    pub payload: Arc<[u8]>,
}

/// Datagram totals over the whole network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkTotals {
    /// Datagrams sent.
    pub datagrams: u64,
    /// Bytes of datagrams sent.
    pub bytes: u64,
    /// Datagrams lost (loss or partition).
    pub lost: u64,
    /// Push-pull exchanges started.
    pub exchanges: u64,
    /// Bytes of push-pull frames sent (both directions).
    pub frame_bytes: u64,
    /// The largest datagram sent, in bytes (never over the MTU: the simulator checks).
    pub largest_datagram: usize,
}

impl Simulation {
    /// Number of nodes ever created.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The name of a node.
    pub fn name(&self, node: NodeId) -> &NodeName {
        &self.nodes[node.0].name
    }

    /// The address a node's process runs at (its latest, after a [`super::Fault::RestartAt`]).
    pub fn addr(&self, node: NodeId) -> std::net::SocketAddr {
        self.nodes[node.0].addr
    }

    /// Whether a node's process runs (not crashed, not departed; paused counts as up).
    pub fn is_up(&self, node: NodeId) -> bool {
        self.nodes[node.0].status != Status::Down
    }

    /// What `observer` holds about `member`: state and incarnation.
    pub fn view(&self, observer: NodeId, member: NodeId) -> Option<(MemberState, Incarnation)> {
        let name = &self.nodes[member.0].name;
        self.nodes[observer.0].parts().membership.state_of(name)
    }

    /// Every member `node` knows.
    pub fn members(&self, node: NodeId) -> Vec<Member> {
        self.nodes[node.0].parts().membership.members()
    }

    /// A node's counters, and its members by state (as `Node::stats`).
    pub fn stats(&self, node: NodeId) -> Stats {
        let n = &self.nodes[node.0];
        let mut stats = n.counters().snapshot();
        stats.members = MemberCounts::of(&n.parts().membership.members());
        stats
    }

    /// What `node` holds now, container by container (see [`Footprint`]).
    pub fn footprint(&self, node: NodeId) -> Footprint {
        self.nodes[node.0].parts().footprint()
    }

    /// Exchanges `node`'s process opened that were answered, by kind.
    pub fn answered(&self, node: NodeId) -> Answered {
        self.nodes[node.0].answered
    }

    /// Datagram and exchange totals.
    pub fn network_totals(&self) -> NetworkTotals {
        self.totals
    }

    /// Every membership event recorded so far.
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace.events
    }

    /// Takes the events recorded so far, leaving none: a long run with many events reads
    /// them as it goes instead of holding them all (the trace hash still covers every one).
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        std::mem::take(&mut self.trace.events)
    }

    /// A hash of every event and datagram so far: equal for equal seeds.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// Every user broadcast delivered so far.
    pub fn deliveries(&self) -> &[Delivered] {
        &self.deliveries
    }

    /// Events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Whether every running node holds every other running node as alive, and every
    /// stopped node as failed, departed or forgotten. `Err` names the first disagreement.
    pub fn check_converged(&self) -> Result<(), String> {
        for (a, observer) in self.nodes.iter().enumerate() {
            if observer.status == Status::Down {
                continue;
            }
            for (b, member) in self.nodes.iter().enumerate() {
                if a == b {
                    continue;
                }
                let view = observer.parts().membership.state_of(&member.name);
                let gone = member.status == Status::Down || member.leaving;
                let ok = if gone {
                    !matches!(view, Some((MemberState::Alive | MemberState::Suspect, _)))
                } else {
                    matches!(view, Some((MemberState::Alive, _)))
                };
                if !ok {
                    return Err(format!(
                        "{} holds {} as {view:?} but it is {:?}",
                        observer.name, member.name, member.status
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs in 100 ms steps until [`Simulation::check_converged`] holds, at most `max`;
    /// returns how long it took, or the last disagreement.
    pub fn run_until_converged(&mut self, max: Duration) -> Result<Duration, String> {
        let start = self.now;
        loop {
            if self.check_converged().is_ok() {
                return Ok(self.now.saturating_since(start));
            }
            if self.now.saturating_since(start) >= max {
                return Err(self.check_converged().err().unwrap_or_default());
            }
            self.run_for(Duration::from_millis(100))
                .map_err(|v| v.to_string())?;
        }
    }
}
