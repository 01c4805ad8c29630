//! [`NodeHandle`]: what any thread, a callback included, may do with a running node.
//!
//! A handle refers to the node weakly: it never keeps a node running, and once the node
//! has stopped (or before it started) every call fails as on a stopped node. Reads of
//! members and estimates take a shared snapshot the actors publish; commands queue an
//! input for one actor and, when they need an answer, wait for it (microseconds, unless
//! the node is overloaded or stopping).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::ACTOR_REPLY_TIMEOUT;
use crate::error::{BroadcastError, JoinError, MetadataError};
use crate::event::Event;
use crate::health::Health;
use crate::member::{MAX_METADATA_LEN, Member, MemberState, NodeName};
use crate::protocol::{ComponentInput, DisseminationInput, MembershipInput, Reply};
use crate::runtime::{Refused, Runtime, Unanswered};
use crate::stats::Stats;

/// A cheap, cloneable handle to a node, for other threads and for callbacks (see
/// [`NodeBuilder::handle`](crate::NodeBuilder::handle)). A [`Node`](crate::Node) derefs
/// to its handle, so every method here is also a method of the node.
#[derive(Clone, Debug, Default)]
pub struct NodeHandle {
    /// Set once, when the node starts.
    runtime: Arc<OnceLock<Weak<Runtime>>>,
}

impl NodeHandle {
    /// Points the handle (and its clones) at the node that just started.
    pub(super) fn attach(&self, runtime: &Arc<Runtime>) {
        let _ = self.runtime.set(Arc::downgrade(runtime));
    }

    /// The node, while it has not been dropped.
    pub(super) fn runtime(&self) -> Option<Arc<Runtime>> {
        self.runtime.get()?.upgrade()
    }

    /// This node's name (`None` once the node is gone, or before it started).
    pub fn name(&self) -> Option<NodeName> {
        Some(self.runtime()?.name.clone())
    }

    /// The address other members reach this node at (the real port when bound to port 0;
    /// `None` once the node is gone, or before it started).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.runtime()?.local_addr)
    }

    /// Every member this node knows, itself included, in name order: a shared snapshot
    /// (no copy), empty once the node is gone.
    pub fn members(&self) -> Arc<[Member]> {
        self.runtime()
            .map_or_else(|| Arc::from(Vec::new()), |r| r.snapshot().members)
    }

    /// Members currently alive (this node included), in name order.
    pub fn alive_members(&self) -> Vec<Member> {
        self.members()
            .iter()
            .filter(|m| m.state == MemberState::Alive)
            .cloned()
            .collect()
    }

    /// The member named `name`, if known (a binary search of the snapshot).
    pub fn member(&self, name: &str) -> Option<Member> {
        let members = self.members();
        let i = members.binary_search_by(|m| m.name().cmp(name)).ok()?;
        members.get(i).cloned()
    }

    /// A channel of membership events. It holds the most recent
    /// `Config::dispatcher_queue` events; older unread ones are discarded. Every call
    /// returns a handle to the same channel (`None` once the node is gone).
    pub fn events(&self) -> Option<Receiver<Event>> {
        Some(self.runtime()?.events.clone())
    }

    /// Whether the node runs, was stopped, or stopped on its own and why (see
    /// [`Health`]). `Stopped` once the node is gone, or before it started.
    pub fn health(&self) -> Health {
        self.runtime().map_or(Health::Stopped, |r| r.health())
    }

    /// Makes one of the node's threads fail as a real fault would, to test supervision:
    /// `thread` is a [`Failure::thread`](crate::Failure) role; `io` makes the reactor
    /// fail as on that socket error instead of panicking. False if the node is gone or
    /// `thread` names no thread that can be made to fail. Not part of the API.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn inject_failure(&self, thread: &str, io: Option<std::io::ErrorKind>) -> bool {
        self.runtime().is_some_and(|r| r.inject_failure(thread, io))
    }

    /// Counters since the node started, and members by state (all zero once the node is
    /// gone).
    pub fn stats(&self) -> Stats {
        self.runtime().map_or_else(Stats::default, |r| r.stats())
    }

    /// Joins a cluster through `seeds`: a full-state exchange over TCP with each, in
    /// parallel. Returns once one seed answered (the number of seeds that answered so
    /// far, at least 1), or an error saying why each seed failed.
    pub fn join<A: ToSocketAddrs>(&self, seeds: &[A]) -> Result<usize, JoinError> {
        let mut addrs = Vec::new();
        let mut failures = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            match seed.to_socket_addrs() {
                Ok(resolved) => addrs.extend(resolved),
                Err(e) => failures.push((i, e.kind())),
            }
        }
        if addrs.is_empty() {
            return Err(if failures.is_empty() {
                JoinError::NoSeeds
            } else {
                JoinError::Unresolved(failures)
            });
        }
        let runtime = self.runtime().ok_or(JoinError::Stopped)?;
        let wait = runtime.config.tcp_timeout + Duration::from_secs(1);
        let join = |request| {
            ComponentInput::Membership(MembershipInput::Join {
                request,
                seeds: addrs,
            })
        };
        match runtime.ask(join, wait) {
            Ok(Reply::Joined(result)) => result,
            Ok(_) | Err(Unanswered::Refused(Refused::Stopped(_))) => Err(JoinError::Stopped),
            Err(Unanswered::Refused(Refused::Full(_))) => Err(JoinError::Overloaded),
            Err(Unanswered::Late) if runtime.is_stopped() => Err(JoinError::Stopped),
            Err(Unanswered::Late) => Err(JoinError::Timeout),
        }
    }

    /// Spreads `payload` to every other member (each delivers it once to `on_message`),
    /// piggybacked on gossip. Best effort; refused with the payload back when larger
    /// than `Config::max_broadcast_bytes` or when the outbound queue is full. The payload
    /// is moved, never copied.
    pub fn broadcast(&self, payload: impl Into<Vec<u8>>) -> Result<(), BroadcastError> {
        let payload = payload.into();
        let Some(runtime) = self.runtime() else {
            return Err(BroadcastError::Stopped(payload));
        };
        let max = runtime.config.max_broadcast_bytes;
        if payload.len() > max {
            return Err(BroadcastError::TooLarge { payload, max });
        }
        let broadcast = |request| {
            ComponentInput::Dissemination(DisseminationInput::Broadcast { request, payload })
        };
        match runtime.ask(broadcast, ACTOR_REPLY_TIMEOUT) {
            Ok(Reply::Broadcast(result)) => result,
            Err(Unanswered::Refused(refused)) => Err(refused_broadcast(refused)),
            Ok(_) | Err(Unanswered::Late) => Err(BroadcastError::Unconfirmed),
        }
    }

    /// Replaces this node's metadata (at most [`MAX_METADATA_LEN`] bytes) and spreads it
    /// as an `alive` at a new incarnation.
    pub fn set_metadata(&self, metadata: impl Into<Vec<u8>>) -> Result<(), MetadataError> {
        let metadata = metadata.into();
        if metadata.len() > MAX_METADATA_LEN {
            return Err(MetadataError::TooLarge(metadata.len()));
        }
        let runtime = self.runtime().ok_or(MetadataError::Stopped)?;
        let set = MembershipInput::SetMetadata(Arc::from(metadata));
        match runtime.send(ComponentInput::Membership(set)) {
            Ok(()) => Ok(()),
            Err(Refused::Full(_)) => Err(MetadataError::Overloaded),
            Err(Refused::Stopped(_)) => Err(MetadataError::Stopped),
        }
    }
}

/// The broadcast error for a refused command, with its payload handed back.
fn refused_broadcast(refused: Refused) -> BroadcastError {
    let (input, stopped) = match refused {
        Refused::Stopped(input) => (input, true),
        Refused::Full(input) => (input, false),
    };
    let payload = match input {
        ComponentInput::Dissemination(DisseminationInput::Broadcast { payload, .. }) => payload,
        _ => Vec::new(),
    };
    if stopped {
        BroadcastError::Stopped(payload)
    } else {
        BroadcastError::QueueFull(payload)
    }
}
