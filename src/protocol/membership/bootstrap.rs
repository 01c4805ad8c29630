//! Hooks for drivers other than the runtime: pre-populating a member table without
//! gossip (large simulated clusters start fully joined; a 10,000-node join storm is a
//! scenario of its own, not a setup step), and read-only inspection for invariants.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Membership;
use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::protocol::peers::PeerView;
use crate::protocol::table::Record;
use crate::time::Instant;

impl Membership {
    /// Records every `(name, addr)` as alive at incarnation 0, as if they had joined long
    /// ago: no event, no gossip, no output (they enter the shared peer view). Not added to the current probe cycle: the next cycle is
    /// built from the whole table.
    pub(crate) fn seed_members(
        &mut self,
        now: Instant,
        members: &[(NodeName, SocketAddr)],
        metadata: &Arc<[u8]>,
    ) {
        let local = self.table.local().clone();
        let new: Vec<(NodeName, Record)> = members
            .iter()
            .filter(|(name, _)| *name != local)
            .map(|(name, addr)| {
                let record = Record {
                    addr: *addr,
                    incarnation: 0,
                    state: MemberState::Alive,
                    metadata: metadata.clone(),
                    changed_at: now,
                    suspicion_token: 0,
                };
                (name.clone(), record)
            })
            .collect();
        self.table.bulk_insert(new);
        self.snapshot_dirty = true;
    }

    /// The live members, shared with the components that send to random peers.
    pub(crate) fn peer_view(&self) -> PeerView {
        self.table.peer_view()
    }
}

impl Membership {
    /// What this node holds about `name`: state and incarnation.
    pub(crate) fn state_of(&self, name: &NodeName) -> Option<(MemberState, Incarnation)> {
        self.table.get(name).map(|r| (r.state, r.incarnation))
    }

    /// This node's own incarnation.
    pub(crate) fn local_incarnation(&self) -> Incarnation {
        self.table.local_record().incarnation
    }

    /// Every member this node knows, itself included, in name order.
    pub(crate) fn members(&self) -> Vec<Member> {
        self.table.snapshot()
    }
}
