//! Hooks for drivers other than the runtime: pre-populating a member table without
//! gossip (large simulated clusters start fully joined; a 10,000-node join storm is a
//! scenario of its own, not a setup step), and read-only inspection for invariants.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Membership;
use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::protocol::table::Record;
use crate::protocol::{DisseminationInput, Output};
use crate::time::Instant;

impl Membership {
    /// Records `name` as alive, as if it had joined long ago: no event, no gossip. Its
    /// dissemination peer entry is still produced (drain outputs as usual).
    pub(crate) fn seed_member(
        &mut self,
        now: Instant,
        name: NodeName,
        addr: SocketAddr,
        incarnation: Incarnation,
        metadata: Arc<[u8]>,
    ) {
        if name == *self.table.local() || self.table.get(&name).is_some() {
            return;
        }
        let record = Record {
            addr,
            incarnation,
            state: MemberState::Alive,
            metadata,
            changed_at: now,
            suspicion_token: 0,
        };
        // Not inserted into the probe order: the first probe cycle is built from the whole
        // table, which avoids O(N) insertions per member when seeding N members.
        self.table.upsert(name.clone(), record);
        self.snapshot_dirty = true;
        let up = DisseminationInput::PeerUp { name, addr };
        self.outputs.push_back(Output::Dissemination(up));
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
