//! Membership events delivered to callbacks and to the `events()` channel.

use std::fmt;
use std::net::SocketAddr;

use crate::member::Member;

/// Something that happened to a member, as this node saw it.
///
/// Events about one member arrive in the order this node applied them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A member joined (or came back after a death or a leave, at a higher incarnation).
    Join(Member),
    /// A member left gracefully.
    Leave(Member),
    /// A member was declared failed after its suspicion timed out.
    Fail(Member),
    /// A member missed a probe and is suspected.
    Suspect(Member),
    /// A member's metadata, address or incarnation changed, or it refuted a suspicion.
    Update(Member),
    /// Another process claims a member's name from a different address. The first address
    /// seen is kept; the claim is ignored (and logged) rather than allowed to flap.
    Conflict {
        /// The member as known here.
        member: Member,
        /// The address of the other claimant.
        other_addr: SocketAddr,
    },
}

impl Event {
    /// The member the event is about.
    pub fn member(&self) -> &Member {
        match self {
            Event::Join(m)
            | Event::Leave(m)
            | Event::Fail(m)
            | Event::Suspect(m)
            | Event::Update(m)
            | Event::Conflict { member: m, .. } => m,
        }
    }

    /// Lower-case kind: `join`, `leave`, `fail`, `suspect`, `update` or `conflict`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Join(_) => "join",
            Event::Leave(_) => "leave",
            Event::Fail(_) => "fail",
            Event::Suspect(_) => "suspect",
            Event::Update(_) => "update",
            Event::Conflict { .. } => "conflict",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.member().name)
    }
}
