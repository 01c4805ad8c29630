//! The member table: one record per known member, this node included. Other members live
//! in the shared [`Directory`] (see [`PeerView`]), so every component reads the same
//! records; this node's own record, and what only a few members have (metadata,
//! suspicion tokens), are kept here.
//!
//! Iteration is in directory (id) order, which is deterministic: ids are handed out in
//! the order members arrive, and reused in the order they are forgotten.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use crate::member::{Incarnation, Member, MemberState, NodeName};
use crate::protocol::directory::{Directory, Held, MemberId};
use crate::protocol::peers::{PeerView, Pick};
use crate::time::Instant;

/// What we hold about one member, by value.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) addr: SocketAddr,
    pub(crate) incarnation: Incarnation,
    pub(crate) state: MemberState,
    pub(crate) metadata: Arc<[u8]>,
    pub(crate) changed_at: Instant,
    /// Token of the suspicion timer started for the current suspicion, if suspect.
    pub(crate) suspicion_token: u64,
}

impl Record {
    fn held(&self) -> Held {
        Held {
            addr: self.addr,
            incarnation: self.incarnation,
            state: self.state,
            changed_at: self.changed_at,
        }
    }
}

/// All known members.
#[derive(Debug)]
pub(crate) struct MemberTable {
    local: NodeName,
    local_record: Record,
    view: PeerView,
    /// Metadata of the members that have any.
    metadata: BTreeMap<MemberId, Arc<[u8]>>,
    /// Suspicion tokens of the suspects.
    tokens: BTreeMap<MemberId, u64>,
    no_metadata: Arc<[u8]>,
}

impl MemberTable {
    /// A table holding only this node.
    pub(crate) fn new(local: NodeName, record: Record) -> MemberTable {
        MemberTable {
            local,
            local_record: record,
            view: PeerView::new(),
            metadata: BTreeMap::new(),
            tokens: BTreeMap::new(),
            no_metadata: Arc::from(&[][..]),
        }
    }

    /// The directory, shared with the components that read it.
    pub(crate) fn peer_view(&self) -> PeerView {
        self.view.clone()
    }

    /// This node's name.
    pub(crate) fn local(&self) -> &NodeName {
        &self.local
    }

    /// Whether a live member other than this node is recorded at `addr`.
    pub(crate) fn is_live_addr(&self, addr: SocketAddr) -> bool {
        self.view.is_live_addr(addr)
    }

    /// The record of `name`.
    pub(crate) fn get(&self, name: &NodeName) -> Option<Record> {
        if *name == self.local {
            return Some(self.local_record.clone());
        }
        let (id, held) = self
            .view
            .read(|dir| dir.id_of(name).and_then(|id| Some((id, dir.get(id)?.1))))?;
        Some(self.record(id, held))
    }

    /// The id of `name` (never this node's: it has none).
    pub(crate) fn id_of(&self, name: &NodeName) -> Option<MemberId> {
        self.view.read(|dir| dir.id_of(name))
    }

    /// This node's own record.
    pub(crate) fn local_record(&self) -> &Record {
        &self.local_record
    }

    /// Mutable access to this node's own record.
    pub(crate) fn local_record_mut(&mut self) -> &mut Record {
        &mut self.local_record
    }

    /// Inserts or replaces a record.
    pub(crate) fn upsert(&mut self, name: NodeName, record: Record) {
        if name == self.local {
            self.local_record = record;
            return;
        }
        let id = self.view.write(|dir| dir.set(name, record.held()));
        self.keep_aside(id, &record);
    }

    /// Adds many records at once (existing ones win), reserving room for all of them
    /// first rather than growing the directory one member at a time.
    pub(crate) fn bulk_insert(&mut self, new: Vec<(NodeName, Record)>) {
        let local = self.local.clone();
        let added: Vec<(MemberId, Record)> = self.view.write(|dir| {
            dir.reserve(new.len());
            new.into_iter()
                .filter(|(name, _)| *name != local)
                .filter_map(|(name, record)| Some((dir.insert_new(name, record.held())?, record)))
                .collect()
        });
        for (id, record) in added {
            self.keep_aside(id, &record);
        }
    }

    /// Forgets a member (never this node).
    pub(crate) fn remove(&mut self, name: &NodeName) -> Option<Record> {
        let (id, held) = self.view.write(|dir| dir.remove(name))?;
        let record = self.record(id, held);
        self.metadata.remove(&id);
        self.tokens.remove(&id);
        Some(record)
    }

    /// The member that has been dead or departed the longest, if any.
    pub(crate) fn oldest_departed(&self) -> Option<NodeName> {
        self.view.read(|dir| {
            let (_, id) = dir.departed().next()?;
            dir.get(id).map(|(name, _)| name.clone())
        })
    }

    /// Dead or departed members that became so at least `after` before `now`, oldest
    /// first.
    pub(crate) fn departed_before(&self, now: Instant, after: Duration) -> Vec<NodeName> {
        self.view.read(|dir| {
            dir.departed()
                .take_while(|(at, _)| now.saturating_since(*at) >= after)
                .filter_map(|(_, id)| dir.get(id).map(|(name, _)| name.clone()))
                .collect()
        })
    }

    /// Calls `f` with every record: this node's first, then the others in id order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&NodeName, Record)) {
        f(&self.local, self.local_record.clone());
        self.view.read(|dir| {
            for (id, name, held) in dir.iter() {
                f(name, self.record(id, held));
            }
        });
    }

    /// Members known, this node included.
    pub(crate) fn len(&self) -> usize {
        self.view.read(Directory::len) + 1
    }

    /// Ids of the live members other than this node, in id order.
    pub(crate) fn live_ids(&self) -> Vec<MemberId> {
        self.view.read(|dir| {
            let mut ids = Vec::with_capacity(crate::protocol::peers::with_headroom(dir.live()));
            ids.extend(
                dir.iter()
                    .filter(|(_, _, held)| held.state.is_live())
                    .map(|(id, _, _)| id),
            );
            ids
        })
    }

    /// The name of `id` if it is a live member.
    pub(crate) fn live_name(&self, id: MemberId) -> Option<NodeName> {
        self.view.read(|dir| {
            dir.get(id)
                .filter(|(_, held)| held.state.is_live())
                .map(|(name, _)| name.clone())
        })
    }

    /// Live members counting this node: the N of SWIM's formulas.
    pub(crate) fn cluster_size(&self) -> usize {
        self.view.len() + 1
    }

    /// Up to `k` distinct random live peers, none of them in `exclude`.
    pub(crate) fn random_live(
        &self,
        k: usize,
        exclude: &[&NodeName],
        rng: &mut ChaCha8Rng,
    ) -> Vec<NodeName> {
        self.view
            .random(k, Pick::Live, |name| exclude.contains(&name), rng)
            .into_iter()
            .map(|peer| peer.name)
            .collect()
    }

    /// The public view of every member, in name order.
    pub(crate) fn snapshot(&self) -> Vec<Member> {
        let mut members = Vec::with_capacity(self.len());
        self.for_each(|name, record| members.push(member_of(name, &record)));
        members.sort_by(|a, b| a.name.cmp(&b.name));
        members
    }

    /// The full record of `id` from what the directory holds and the side maps.
    fn record(&self, id: MemberId, held: Held) -> Record {
        Record {
            addr: held.addr,
            incarnation: held.incarnation,
            state: held.state,
            metadata: self.metadata.get(&id).unwrap_or(&self.no_metadata).clone(),
            changed_at: held.changed_at,
            suspicion_token: self.tokens.get(&id).copied().unwrap_or(0),
        }
    }

    /// Keeps what the directory does not hold of `record`, for `id`.
    fn keep_aside(&mut self, id: MemberId, record: &Record) {
        if record.metadata.is_empty() {
            self.metadata.remove(&id);
        } else {
            self.metadata.insert(id, record.metadata.clone());
        }
        if record.state == MemberState::Suspect {
            self.tokens.insert(id, record.suspicion_token);
        } else {
            self.tokens.remove(&id);
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
