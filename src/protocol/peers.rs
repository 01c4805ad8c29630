//! The shared member directory ([`Directory`]) and the members that went down recently:
//! written by membership alone, read by every component that sends to peers
//! (dissemination, aggregation, the key-value state). Components learn who is up or down
//! from here, not from messages.
//!
//! One copy per node, not one per component: at 10,000 members a private copy in each
//! actor cost about 100 bytes per member per actor, the largest share of a simulated
//! node's memory. Readers take a short read lock (a random pick or a scan); the single
//! writer takes the write lock only when a member's record changes. In the simulator
//! every component of a node runs on one thread, so what a reader sees is a pure function
//! of the events so far: runs stay deterministic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::member::{MemberState, NodeName};
use crate::protocol::directory::{Directory, Held, MemberId};
use crate::time::Instant;

/// One live member as readers see it.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) name: NodeName,
    pub(crate) addr: SocketAddr,
}

/// Which live members a reader may pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Alive or suspect: a suspect is still gossiped to (it must hear the suspicion to
    /// refute it).
    Live,
    /// Alive only: a suspect is not sent push-sum mass, which would be lost if it has
    /// crashed.
    Alive,
}

impl Pick {
    fn admits(self, state: MemberState) -> bool {
        match self {
            Pick::Live => state.is_live(),
            Pick::Alive => state == MemberState::Alive,
        }
    }

    fn count(self, dir: &Directory) -> usize {
        match self {
            Pick::Live => dir.live(),
            Pick::Alive => dir.live() - dir.suspects(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    dir: Directory,
    /// Members that went down (dead or left), with their address and until when they
    /// still receive gossip (so a member falsely declared dead hears of it and refutes).
    /// One entry per member at most; it goes when the member is live again or forgotten.
    down: BTreeMap<NodeName, (SocketAddr, Instant)>,
}

impl Inner {
    /// The live members `pick` admits, in id order.
    fn admitted(&self, pick: Pick) -> impl Iterator<Item = (MemberId, &NodeName, Held)> {
        self.dir
            .iter()
            .filter(move |(_, _, held)| pick.admits(held.state))
    }
}

/// The shared directory of members; cloning shares it.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerView(Arc<RwLock<Inner>>);

impl PeerView {
    /// An empty directory.
    pub(crate) fn new() -> PeerView {
        PeerView::default()
    }

    /// Live peers, suspects included.
    pub(crate) fn len(&self) -> usize {
        self.0.read().dir.live()
    }

    /// Peers `pick` admits.
    pub(crate) fn count(&self, pick: Pick) -> usize {
        pick.count(&self.0.read().dir)
    }

    /// Whether every peer `pick` admits satisfies `test`.
    pub(crate) fn all(&self, pick: Pick, mut test: impl FnMut(&NodeName) -> bool) -> bool {
        let inner = self.0.read();
        inner.admitted(pick).all(|(_, name, _)| test(name))
    }

    /// The address of every peer `pick` admits, in id order.
    pub(crate) fn addrs(&self, pick: Pick) -> Vec<SocketAddr> {
        let inner = self.0.read();
        inner.admitted(pick).map(|(_, _, held)| held.addr).collect()
    }

    /// The addresses of up to `k` distinct random peers that `pick` admits.
    pub(crate) fn random_addrs(
        &self,
        k: usize,
        pick: Pick,
        rng: &mut ChaCha8Rng,
    ) -> Vec<SocketAddr> {
        self.random(k, pick, |_| false, rng)
            .into_iter()
            .map(|p| p.addr)
            .collect()
    }

    /// Up to `k` distinct random peers that `pick` admits and `skip` rejects not.
    ///
    /// Random ids with rejection, bounded (k is small, a few at most), while most ids
    /// are admitted; a sweep over every id when few are (most members down and not yet
    /// forgotten) or the directory is small, so a pick never misses an admitted peer
    /// for bad luck alone.
    pub(crate) fn random(
        &self,
        k: usize,
        pick: Pick,
        skip: impl Fn(&NodeName) -> bool,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Peer> {
        let inner = self.0.read();
        let dir = &inner.dir;
        let usable = |id: MemberId| {
            dir.get(id)
                .filter(|(name, held)| pick.admits(held.state) && !skip(name))
        };
        let admitted = pick.count(dir);
        let bound = dir.id_bound();
        let mut chosen: Vec<MemberId> = Vec::with_capacity(k);
        let dense = admitted * 4 >= bound;
        if dense && admitted > 0 {
            let mut attempts = 0;
            while chosen.len() < k && attempts < 4 * k + bound.min(64) {
                attempts += 1;
                let id = MemberId::from_index(rng.random_range(0..bound));
                if usable(id).is_some() && !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
        }
        if chosen.len() < k && admitted > chosen.len() && (!dense || bound <= 4 * k + 64) {
            let mut rest: Vec<MemberId> = (0..bound)
                .map(MemberId::from_index)
                .filter(|id| usable(*id).is_some() && !chosen.contains(id))
                .collect();
            while chosen.len() < k && !rest.is_empty() {
                chosen.push(rest.swap_remove(rng.random_range(0..rest.len())));
            }
        }
        chosen
            .into_iter()
            .filter_map(usable)
            .map(|(name, held)| Peer {
                name: name.clone(),
                addr: held.addr,
            })
            .collect()
    }

    /// Whether a live member is recorded at `addr`.
    pub(crate) fn is_live_addr(&self, addr: SocketAddr) -> bool {
        self.0.read().dir.is_live_addr(addr)
    }

    /// Whether the live member `name` is recorded at `addr`. Unlike
    /// [`PeerView::is_live_addr`], an address that two records claim (a forged one among
    /// them) still answers for the member truly there.
    pub(crate) fn is_at(&self, name: &NodeName, addr: SocketAddr) -> bool {
        let inner = self.0.read();
        let dir = &inner.dir;
        dir.id_of(name)
            .and_then(|id| dir.get(id))
            .is_some_and(|(_, held)| held.addr == addr && held.state.is_live())
    }

    /// Whether the member table knows `name`: live, or down and not yet forgotten.
    pub(crate) fn knows(&self, name: &NodeName) -> bool {
        self.0.read().dir.id_of(name).is_some()
    }

    /// The addresses of the members that went down and still receive gossip at `now`, in
    /// name order.
    pub(crate) fn down_addrs(&self, now: Instant) -> Vec<SocketAddr> {
        let inner = self.0.read();
        inner
            .down
            .values()
            .filter(|(_, until)| *until > now)
            .map(|(addr, _)| *addr)
            .collect()
    }

    /// `name` went down at `addr`; it receives gossip until `until`. Writer side.
    pub(super) fn went_down(&self, name: NodeName, addr: SocketAddr, until: Instant) {
        self.0.write().down.insert(name, (addr, until));
    }

    /// `name` is live again, or forgotten: no longer one of the recently down. Writer side.
    pub(super) fn forget_down(&self, name: &NodeName) {
        let mut inner = self.0.write();
        if !inner.down.is_empty() {
            inner.down.remove(name);
        }
    }

    /// Reads the directory. The member table's side.
    pub(super) fn read<R>(&self, f: impl FnOnce(&Directory) -> R) -> R {
        f(&self.0.read().dir)
    }

    /// Changes the directory. Writer side: the member table only.
    pub(super) fn write<R>(&self, f: impl FnOnce(&mut Directory) -> R) -> R {
        f(&mut self.0.write().dir)
    }

    /// Records `peer` as alive at incarnation 0 (for other components' tests, which have
    /// no member table).
    #[cfg(test)]
    pub(super) fn push(&self, peer: Peer) {
        self.push_as(peer, MemberState::Alive);
    }

    /// Records `peer` in `state` at incarnation 0 (for tests).
    #[cfg(test)]
    pub(super) fn push_as(&self, peer: Peer, state: MemberState) {
        let held = Held {
            addr: peer.addr,
            incarnation: 0,
            state,
            changed_at: Instant::ZERO,
        };
        self.write(|dir| dir.set(peer.name, held));
    }

    /// Marks every member dead, keeping the records (for tests).
    #[cfg(test)]
    pub(super) fn mark_all_dead(&self) {
        self.write(|dir| {
            let all: Vec<(NodeName, Held)> = dir
                .iter()
                .map(|(_, name, held)| (name.clone(), held))
                .collect();
            for (name, held) in all {
                let state = MemberState::Dead;
                dir.set(name, Held { state, ..held });
            }
        });
    }

    /// Forgets `name` altogether (for tests).
    #[cfg(test)]
    pub(super) fn forget(&self, name: &NodeName) {
        self.write(|dir| dir.remove(name));
        self.forget_down(name);
    }
}

/// Makes room for one more element, growing a full list by an eighth rather than doubling
/// it. Lists sized to the membership grow one member at a time; doubling would give every
/// node a whole list's worth of spare capacity. Growth stays geometric, so pushes stay
/// amortised O(1).
pub(crate) fn reserve_one<T>(list: &mut Vec<T>) {
    if list.len() == list.capacity() {
        list.reserve_exact(list.len() / 8 + 4);
    }
}

/// The capacity for a list of `len` built in one go: a sixteenth more. Growing a list
/// built to its exact size moves it; in a simulator holding thousands of nodes, the freed
/// blocks fragment the heap (measured: one newcomer joining a bootstrapped cluster of
/// 2,000 simulated nodes raised the resident size by 115 KB per node, about 7 GB at
/// 10,000 nodes). With headroom, joins up to a sixteenth of the cluster move nothing.
pub(crate) fn with_headroom(len: usize) -> usize {
    len + len / 16 + 4
}

#[cfg(test)]
mod tests;
