//! [`Footprint`]: what one node holds, counted from its components' containers, so a test
//! (or a tool) can check that nothing a peer sends makes a node grow without bound.

use super::Components;

/// What one node holds, container by container (entries, not bytes). Each is bounded by
/// its node's configuration, whatever peers send; the bound is given with each field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Members in the table, this node and departed ones included (≤ `max_members`).
    pub members: usize,
    /// Suspicion timers running (≤ members).
    pub suspicions: usize,
    /// Suspicions whose reporters are tracked for Lifeguard (≤ members).
    pub suspicion_reports: usize,
    /// Ping-req relays this node runs for others (≤ 1,024).
    pub relays: usize,
    /// Membership updates waiting to be piggybacked (≤ the queue's fixed capacity).
    pub member_updates: usize,
    /// User broadcasts waiting to be spread (≤ `broadcast_queue`).
    pub broadcasts: usize,
    /// Broadcast ids remembered as delivered (≤ the seen set's fixed capacity).
    pub seen_broadcasts: usize,
    /// Aggregates tracked: published (≤ 16), in the current epoch
    /// (≤ 64), settled in the last epochs (≤ 192).
    pub aggregates: usize,
    /// Owners whose key-value state is held, this node included (≤ `max_members` + 1).
    pub state_owners: usize,
    /// Key-value entries held over all owners, tombstones included
    /// (≤ owners × 2 × `state_max_keys`).
    pub state_entries: usize,
    /// Exchanges and joins in flight: membership push-pull and key-value (each bounded
    /// by a fixed number of slots, each slot by a deadline).
    pub exchanges: usize,
}

impl Components {
    /// What this node holds now (see [`Footprint`]).
    pub(crate) fn footprint(&self) -> Footprint {
        let mut f = Footprint::default();
        self.membership.add_footprint(&mut f);
        f.suspicions = self.suspicion.len();
        let (updates, broadcasts) = self.dissemination.queue_lens();
        f.member_updates = updates;
        f.broadcasts = broadcasts;
        f.seen_broadcasts = self.dissemination.seen_len();
        f.aggregates = self.aggregation.tracked();
        self.state.add_footprint(&mut f);
        f
    }
}
