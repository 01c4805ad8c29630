//! The member table: one record per known member (this node included), and the shared
//! [`PeerView`] of live members it keeps in step (O(1) random choice for every component).
//!
//! Records live in a `BTreeMap` so every iteration is in name order: a simulated run must
//! not depend on hash seeds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::protocol::peers::{Peer, PeerView, Pick};
use crate::time::Instant;

/// What we hold about one member.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) addr: SocketAddr,
    pub(crate) incarnation: Incarnation,
    pub(crate) state: MemberState,
    pub(crate) metadata: Arc<[u8]>,
    pub(crate) changed_at: Instant,
    /// Token of the suspicion timer started for the current suspicion, if suspect.
    pub(crate) suspicion_token: u64,
    /// Position in the shared live list, or [`NOT_LIVE`]; maintained by the table only
    /// (it lives here rather than in a side map to save ~40 bytes per member).
    pub(crate) live_slot: u32,
}

/// `Record::live_slot` of a member not in the live list.
pub(crate) const NOT_LIVE: u32 = u32::MAX;

/// All known members, and the live ones other than this node in a shared list.
#[derive(Debug)]
pub(crate) struct MemberTable {
    local: NodeName,
    records: BTreeMap<NodeName, Record>,
    live: PeerView,
    /// Dead and departed members (never this node) by the time they became so: reaping
    /// looks at the oldest few instead of scanning every record each protocol period
    /// (that scan was a third of a simulated 1,500-node cluster's run time).
    departed: BTreeSet<(Instant, NodeName)>,
    /// How many live members (never this node) are recorded at each address: whether a
    /// datagram comes from a member (`Membership::on_packet`) without a scan.
    live_addrs: HashMap<SocketAddr, u32>,
}

impl MemberTable {
    /// A table holding only this node.
    pub(crate) fn new(local: NodeName, record: Record) -> MemberTable {
        let mut records = BTreeMap::new();
        records.insert(local.clone(), record);
        MemberTable {
            local,
            records,
            live: PeerView::new(),
            departed: BTreeSet::new(),
            live_addrs: HashMap::new(),
        }
    }

    /// The live list, shared with the components that read it.
    pub(crate) fn peer_view(&self) -> PeerView {
        self.live.clone()
    }

    /// This node's name.
    pub(crate) fn local(&self) -> &NodeName {
        &self.local
    }

    /// Whether a live member other than this node is recorded at `addr`.
    pub(crate) fn is_live_addr(&self, addr: SocketAddr) -> bool {
        self.live_addrs.contains_key(&addr)
    }

    /// The record of `name`.
    pub(crate) fn get(&self, name: &NodeName) -> Option<&Record> {
        self.records.get(name)
    }

    /// This node's own record.
    pub(crate) fn local_record(&self) -> &Record {
        // The local record is inserted at construction and never removed.
        match self.records.get(&self.local) {
            Some(record) => record,
            None => unreachable!("the local record is never removed"),
        }
    }

    /// Mutable access to this node's own record.
    pub(crate) fn local_record_mut(&mut self) -> &mut Record {
        match self.records.get_mut(&self.local) {
            Some(record) => record,
            None => unreachable!("the local record is never removed"),
        }
    }

    /// Inserts or replaces a record and keeps the live index in step.
    pub(crate) fn upsert(&mut self, name: NodeName, mut record: Record) {
        let live = record.state.is_live() && name != self.local;
        record.live_slot = self.records.get(&name).map_or(NOT_LIVE, |r| r.live_slot);
        let peer = Peer {
            name: name.clone(),
            addr: record.addr,
            suspect: record.state == MemberState::Suspect,
        };
        let departed_at =
            (!record.state.is_live() && name != self.local).then_some(record.changed_at);
        if let Some(old) = self.records.insert(name.clone(), record) {
            self.departed.remove(&(old.changed_at, name.clone()));
            if old.live_slot != NOT_LIVE {
                self.addr_out(old.addr);
            }
        }
        if live {
            self.addr_in(peer.addr);
        }
        if let Some(at) = departed_at {
            self.departed.insert((at, name.clone()));
        }
        if live {
            self.mark_live(peer);
        } else {
            self.unmark_live(&name);
        }
    }

    /// Adds many records at once (existing ones win), rebuilding the map in one pass:
    /// sorted bulk construction leaves the B-tree's nodes full, where one-by-one inserts
    /// in name order leave them half empty (about 80 bytes per member saved).
    pub(crate) fn bulk_insert(&mut self, new: Vec<(NodeName, Record)>) {
        let mut all: Vec<(NodeName, Record)> = std::mem::take(&mut self.records)
            .into_iter()
            .chain(new)
            .collect();
        // Stable sort: for a duplicated name the existing record (first) is kept.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup_by(|later, earlier| later.0 == earlier.0);
        let live_count = all
            .iter()
            .filter(|(name, r)| r.state.is_live() && *name != self.local)
            .count();
        let mut live = Vec::with_capacity(crate::protocol::peers::with_headroom(live_count));
        self.departed.clear();
        self.live_addrs.clear();
        for (name, record) in &mut all {
            record.live_slot = NOT_LIVE;
            if !record.state.is_live() && *name != self.local {
                self.departed.insert((record.changed_at, name.clone()));
            }
            if record.state.is_live() && *name != self.local {
                record.live_slot = live.len() as u32;
                *self.live_addrs.entry(record.addr).or_default() += 1;
                live.push(Peer {
                    name: name.clone(),
                    addr: record.addr,
                    suspect: record.state == MemberState::Suspect,
                });
            }
        }
        self.live.replace(live);
        self.records = all.into_iter().collect();
    }

    /// Forgets a member (never this node).
    pub(crate) fn remove(&mut self, name: &NodeName) -> Option<Record> {
        if *name == self.local {
            return None;
        }
        if let Some(r) = self.records.get(name).filter(|r| r.live_slot != NOT_LIVE) {
            let addr = r.addr;
            self.addr_out(addr);
        }
        self.unmark_live(name);
        let record = self.records.remove(name)?;
        self.departed.remove(&(record.changed_at, name.clone()));
        Some(record)
    }

    /// The member that has been dead or departed the longest, if any.
    pub(crate) fn oldest_departed(&self) -> Option<&NodeName> {
        self.departed.first().map(|(_, name)| name)
    }

    /// Dead or departed members that became so at least `after` before `now`, oldest
    /// first.
    pub(crate) fn departed_before(&self, now: Instant, after: Duration) -> Vec<NodeName> {
        self.departed
            .iter()
            .take_while(|(at, _)| now.saturating_since(*at) >= after)
            .map(|(_, name)| name.clone())
            .collect()
    }

    /// Every record, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&NodeName, &Record)> {
        self.records.iter()
    }

    /// Members known, this node included.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Names of the live members other than this node.
    pub(crate) fn live_names(&self) -> Vec<NodeName> {
        self.live.names()
    }

    /// Live members counting this node: the N of SWIM's formulas.
    pub(crate) fn cluster_size(&self) -> usize {
        self.live.len() + 1
    }

    /// Up to `k` distinct random live peers, none of them in `exclude`.
    pub(crate) fn random_live(
        &self,
        k: usize,
        exclude: &[&NodeName],
        rng: &mut ChaCha8Rng,
    ) -> Vec<NodeName> {
        self.live
            .random(k, Pick::Live, |name| exclude.contains(&name), rng)
            .into_iter()
            .map(|peer| peer.name)
            .collect()
    }

    /// The public view of every member.
    pub(crate) fn snapshot(&self) -> Vec<Member> {
        self.records
            .iter()
            .map(|(name, record)| member_of(name, record))
            .collect()
    }

    fn addr_in(&mut self, addr: SocketAddr) {
        *self.live_addrs.entry(addr).or_default() += 1;
    }

    fn addr_out(&mut self, addr: SocketAddr) {
        if let Some(count) = self.live_addrs.get_mut(&addr) {
            *count -= 1;
            if *count == 0 {
                self.live_addrs.remove(&addr);
            }
        }
    }

    fn mark_live(&mut self, peer: Peer) {
        let Some(record) = self.records.get_mut(&peer.name) else {
            return;
        };
        if record.live_slot == NOT_LIVE {
            record.live_slot = self.live.push(peer);
        } else {
            self.live.update(record.live_slot, peer.addr, peer.suspect);
        }
    }

    fn unmark_live(&mut self, name: &NodeName) {
        let Some(record) = self.records.get_mut(name) else {
            return;
        };
        let slot = std::mem::replace(&mut record.live_slot, NOT_LIVE);
        if slot == NOT_LIVE {
            return;
        }
        if let Some(moved) = self.live.swap_remove(slot) {
            if let Some(record) = self.records.get_mut(&moved) {
                record.live_slot = slot;
            }
        }
    }
}

/// The public [`Member`] for a record.
pub(crate) fn member_of(name: &NodeName, record: &Record) -> Member {
    Member {
        name: name.clone(),
        addr: record.addr,
        incarnation: record.incarnation,
        state: record.state,
        metadata: record.metadata.clone(),
        changed_at: record.changed_at,
    }
}

#[cfg(test)]
mod tests;
