//! What the application's calls use: commands queued to an actor, requests answered by
//! one, and the snapshots the actors publish (members, estimates) read without a round
//! trip.
//!
//! ```text
//! Node::broadcast ── ask(Broadcast{request}) ──> dissemination inbox
//!                 <── Reply::Broadcast ───────── Router::route(Output::reply(request, ..))
//! ```
//! A command the inbox refuses comes back to the caller whole (so a payload is never
//! copied in case of refusal); a request whose answer does not come in time is reported
//! as unanswered, because the actor may still carry it out.

use std::sync::Arc;
use std::time::Duration;

use super::{Estimates, Runtime};
use crate::member::Member;
use crate::protocol::{ComponentInput, Reply, RequestId};
use crate::stats::{MemberCounts, Stats};

/// The members this node knows, in name order, and how many are in each state: published
/// by the membership actor whenever the table changes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    /// Every member, this node included, in name order.
    pub(crate) members: Arc<[Member]>,
    /// Counts by state.
    pub(crate) counts: MemberCounts,
}

impl Snapshot {
    /// The snapshot of `members` (in name order).
    pub(crate) fn new(members: Vec<Member>) -> Snapshot {
        let counts = MemberCounts::of(&members);
        Snapshot {
            members: Arc::from(members),
            counts,
        }
    }
}

/// Why a command was not queued; it is handed back.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The node is stopping or stopped.
    Stopped(ComponentInput),
    /// The actor's inbox is full.
    Full(ComponentInput),
}

/// Why a request has no answer.
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// It was not queued (handed back).
    Refused(Refused),
    /// It was queued, but no answer came in time: the actor may still carry it out.
    Late,
}

impl Runtime {
    /// Queues a command for the actor hosting its component.
    pub(crate) fn send(&self, input: ComponentInput) -> Result<(), Refused> {
        if self.is_stopped() {
            return Err(Refused::Stopped(input));
        }
        self.router.inboxes.try_offer(input).map_err(|input| {
            if self.is_stopped() {
                Refused::Stopped(input)
            } else {
                Refused::Full(input)
            }
        })
    }

    /// Queues the request `make(id)` and waits up to `wait` for its answer.
    pub(crate) fn ask(
        &self,
        make: impl FnOnce(RequestId) -> ComponentInput,
        wait: Duration,
    ) -> Result<Reply, Unanswered> {
        let replies = &self.router.replies;
        let (request, answer) = replies.register();
        if let Err(refused) = self.send(make(request)) {
            replies.cancel(request);
            return Err(Unanswered::Refused(refused));
        }
        match answer.recv_timeout(wait) {
            Ok(reply) => Ok(reply),
            Err(_) => {
                // Timed out, or the node stopped and every caller was let go.
                replies.cancel(request);
                Err(Unanswered::Late)
            }
        }
    }

    /// The aggregation actor's latest estimates, in name order.
    pub(crate) fn estimates(&self) -> Estimates {
        self.estimates.read().clone()
    }

    /// The latest member snapshot.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot.read().clone()
    }

    /// Counters and gauges now, member counts included.
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.members = self.snapshot.read().counts;
        stats
    }
}
