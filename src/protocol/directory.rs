//! The member directory: every member this node holds (itself excepted) under a dense
//! [`MemberId`], in one record each. The member table writes it; every component reads it
//! through the shared [`PeerView`](crate::protocol::peers::PeerView).
//!
//! One node's view of one member is 33 bytes here plus about 16 in two hash indexes (by
//! name, and by address for live members), where a `BTreeMap` keyed by name, a separate
//! live list and an address map held it in about 230 (measured at N = 1,000 simulated
//! nodes: 262 MB of heap for 10⁶ records, 249 MB of it in those three). Names are shared
//! (`NodeName` is one pointer), IPv4 addresses are packed into one word, and what few
//! members hold (IPv6 addresses here; metadata and suspicion tokens in the table) lives in
//! side maps.
//!
//! Ids of forgotten members are reused. Whoever keeps an id past a call (the failure
//! detector's probe order) treats it as a hint: at worst it names another live member.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};
use std::net::{SocketAddr, SocketAddrV4};

use hashbrown::HashTable;

use crate::member::{Incarnation, MemberState, NodeName};
use crate::time::Instant;

/// A member's number in this node's directory. Local to the node: never sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct MemberId(u32);

/// What the directory holds about one member, by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) addr: SocketAddr,
    pub(crate) incarnation: Incarnation,
    pub(crate) state: MemberState,
    pub(crate) changed_at: Instant,
}

/// One record but its state (kept apart, in `Directory::states`: in the slot it would
/// pad 32 bytes to 40). `name` is `None` for a free id.
#[derive(Debug)]
struct Slot {
    name: Option<NodeName>,
    addr: PackedAddr,
    incarnation: Incarnation,
    changed_at: Instant,
}

/// An IPv4 address and port in the low 48 bits, or [`PackedAddr::ASIDE`]: the address is
/// in the directory's side map (IPv6 ones, with their flow and scope ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedAddr(u64);

impl PackedAddr {
    const ASIDE: PackedAddr = PackedAddr(u64::MAX);

    fn pack(addr: SocketAddr) -> PackedAddr {
        match addr {
            SocketAddr::V4(v4) => {
                PackedAddr((u64::from(v4.ip().to_bits()) << 16) | u64::from(v4.port()))
            }
            SocketAddr::V6(_) => PackedAddr::ASIDE,
        }
    }

    fn unpack(self) -> Option<SocketAddr> {
        (self != PackedAddr::ASIDE).then(|| {
            let ip = (self.0 >> 16) as u32;
            SocketAddr::V4(SocketAddrV4::new(ip.into(), self.0 as u16))
        })
    }
}

/// Every member this node holds but itself.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    slots: Vec<Slot>,
    /// The state of each slot's member, by id.
    states: Vec<MemberState>,
    free: Vec<MemberId>,
    by_name: HashTable<MemberId>,
    /// Live members only; an address two records claim (a forgery among them) is in twice.
    by_addr: HashTable<MemberId>,
    aside: BTreeMap<MemberId, SocketAddr>,
    hasher: RandomState,
    members: usize,
    live: usize,
    suspects: usize,
    /// Dead and departed members by when they became so: reaping looks at the oldest few
    /// instead of scanning every record each protocol period.
    departed: BTreeSet<(Instant, MemberId)>,
}

impl Directory {
    /// Members held.
    pub(crate) fn len(&self) -> usize {
        self.members
    }

    /// Members alive or suspect.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Members suspect.
    pub(crate) fn suspects(&self) -> usize {
        self.suspects
    }

    /// The id of `name`, if held.
    pub(crate) fn id_of(&self, name: &NodeName) -> Option<MemberId> {
        let hash = self.hasher.hash_one(name.as_str());
        let slots = &self.slots;
        self.by_name
            .find(hash, |id| slots[id.0 as usize].name.as_ref() == Some(name))
            .copied()
    }

    /// The name and record of `id`, if it is held.
    pub(crate) fn get(&self, id: MemberId) -> Option<(&NodeName, Held)> {
        let slot = self.slots.get(id.0 as usize)?;
        let name = slot.name.as_ref()?;
        Some((name, self.held(id)))
    }

    /// Every member, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (MemberId, &NodeName, Held)> {
        self.slots.iter().enumerate().filter_map(|(i, slot)| {
            let id = MemberId(i as u32);
            Some((id, slot.name.as_ref()?, self.held(id)))
        })
    }

    /// Ids in use and free, for random choice: `0..id_bound()`.
    pub(crate) fn id_bound(&self) -> usize {
        self.slots.len()
    }

    /// Whether a live member is recorded at `addr`.
    pub(crate) fn is_live_addr(&self, addr: SocketAddr) -> bool {
        let hash = self.hasher.hash_one(addr);
        self.by_addr
            .find(hash, |id| {
                addr_of(&self.slots, &self.aside, *id) == Some(addr)
            })
            .is_some()
    }

    /// Dead and departed members by when they became so, oldest first.
    pub(crate) fn departed(&self) -> impl Iterator<Item = (Instant, MemberId)> + '_ {
        self.departed.iter().copied()
    }

    /// Records `name` as `held`, inserting it if new; returns its id.
    pub(crate) fn set(&mut self, name: NodeName, held: Held) -> MemberId {
        let id = match self.id_of(&name) {
            Some(id) => {
                self.unindex(id);
                id
            }
            None => self.insert_name(name),
        };
        self.write(id, held);
        id
    }

    /// Records `name` as `held` if it is not held yet; returns its new id.
    pub(crate) fn insert_new(&mut self, name: NodeName, held: Held) -> Option<MemberId> {
        if self.id_of(&name).is_some() {
            return None;
        }
        let id = self.insert_name(name);
        self.write(id, held);
        Some(id)
    }

    /// Forgets `name`; returns its id and last record.
    pub(crate) fn remove(&mut self, name: &NodeName) -> Option<(MemberId, Held)> {
        let id = self.id_of(name)?;
        let (_, held) = self.get(id)?;
        self.unindex(id);
        let hash = self.hasher.hash_one(name.as_str());
        if let Ok(entry) = self.by_name.find_entry(hash, |other| *other == id) {
            entry.remove();
        }
        self.aside.remove(&id);
        self.slots[id.0 as usize].name = None;
        self.free.push(id);
        self.members -= 1;
        Some((id, held))
    }

    /// Makes room for `more` members without growing one at a time (with headroom: see
    /// [`with_headroom`](crate::protocol::peers::with_headroom)).
    pub(crate) fn reserve(&mut self, more: usize) {
        let want = crate::protocol::peers::with_headroom(self.members + more);
        self.slots
            .reserve_exact(want.saturating_sub(self.slots.len()));
        self.states
            .reserve_exact(want.saturating_sub(self.states.len()));
        let (slots, aside, hasher) = (&self.slots, &self.aside, &self.hasher);
        let name_hash = |id: &MemberId| name_hash(hasher, slots, *id);
        self.by_name
            .reserve(want.saturating_sub(self.by_name.len()), name_hash);
        let addr_hash = |id: &MemberId| addr_hash(hasher, slots, aside, *id);
        self.by_addr
            .reserve(want.saturating_sub(self.by_addr.len()), addr_hash);
    }

    fn insert_name(&mut self, name: NodeName) -> MemberId {
        let hash = self.hasher.hash_one(name.as_str());
        let vacant = Slot {
            name: Some(name),
            addr: PackedAddr(0),
            incarnation: 0,
            changed_at: Instant::ZERO,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id.0 as usize] = vacant;
                id
            }
            None => {
                crate::protocol::peers::reserve_one(&mut self.slots);
                crate::protocol::peers::reserve_one(&mut self.states);
                self.slots.push(vacant);
                self.states.push(MemberState::Dead);
                MemberId((self.slots.len() - 1) as u32)
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_name
            .insert_unique(hash, id, |id| name_hash(hasher, slots, *id));
        self.members += 1;
        id
    }

    /// Stores `held` in `id`'s slot (taken out of every index) and indexes it again.
    fn write(&mut self, id: MemberId, held: Held) {
        let packed = PackedAddr::pack(held.addr);
        if packed == PackedAddr::ASIDE {
            self.aside.insert(id, held.addr);
        } else {
            self.aside.remove(&id);
        }
        let slot = &mut self.slots[id.0 as usize];
        slot.addr = packed;
        slot.incarnation = held.incarnation;
        slot.changed_at = held.changed_at;
        self.states[id.0 as usize] = held.state;
        if held.state.is_live() {
            self.live += 1;
            self.suspects += usize::from(held.state == MemberState::Suspect);
            let (slots, aside, hasher) = (&self.slots, &self.aside, &self.hasher);
            self.by_addr
                .insert_unique(hasher.hash_one(held.addr), id, |id| {
                    addr_hash(hasher, slots, aside, *id)
                });
        } else {
            self.departed.insert((held.changed_at, id));
        }
    }

    /// Takes `id`'s current record out of the counts, the address index and the departed.
    fn unindex(&mut self, id: MemberId) {
        let Some((_, held)) = self.get(id) else {
            return;
        };
        if held.state.is_live() {
            self.live -= 1;
            self.suspects -= usize::from(held.state == MemberState::Suspect);
            let hash = self.hasher.hash_one(held.addr);
            if let Ok(entry) = self.by_addr.find_entry(hash, |other| *other == id) {
                entry.remove();
            }
        } else {
            self.departed.remove(&(held.changed_at, id));
        }
    }

    /// The record of `id`, which is in use.
    fn held(&self, id: MemberId) -> Held {
        let i = id.0 as usize;
        Held {
            addr: addr_of(&self.slots, &self.aside, id).unwrap_or(UNSPECIFIED),
            incarnation: self.slots[i].incarnation,
            state: self.states[i],
            changed_at: self.slots[i].changed_at,
        }
    }
}

/// Never seen: every slot in use has its address packed or aside.
const UNSPECIFIED: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));

fn addr_of(
    slots: &[Slot],
    aside: &BTreeMap<MemberId, SocketAddr>,
    id: MemberId,
) -> Option<SocketAddr> {
    let slot = slots.get(id.0 as usize)?;
    slot.addr.unpack().or_else(|| aside.get(&id).copied())
}

/// The hash `by_addr` files `id` under: its address's.
fn addr_hash(
    hasher: &RandomState,
    slots: &[Slot],
    aside: &BTreeMap<MemberId, SocketAddr>,
    id: MemberId,
) -> u64 {
    hasher.hash_one(addr_of(slots, aside, id).unwrap_or(UNSPECIFIED))
}

fn name_hash(hasher: &RandomState, slots: &[Slot], id: MemberId) -> u64 {
    let name = slots
        .get(id.0 as usize)
        .and_then(|slot| slot.name.as_ref())
        .map_or("", |name| name.as_str());
    hasher.hash_one(name)
}

impl MemberId {
    /// The id with number `i` (for random choice over `0..id_bound()`).
    pub(crate) fn from_index(i: usize) -> MemberId {
        MemberId(i as u32)
    }
}

#[cfg(test)]
mod tests;
