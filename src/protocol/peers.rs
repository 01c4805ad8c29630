//! The live members (alive or suspect, this node excluded) as one shared list, and the
//! members that went down recently: written by membership alone, read by every component
//! that sends to peers (dissemination, aggregation, the key-value state). Components learn
//! who is up or down from here, not from messages.
//!
//! One copy per node, not one per component: at 10,000 members a private copy in each
//! actor cost about 100 bytes per member per actor, the largest share of a simulated
//! node's memory. Readers take a short read lock (a random pick or a scan); the single
//! writer takes the write lock only when a member comes up, goes down or changes address.
//! In the simulator every component of a node runs on one thread, so what a reader sees is
//! a pure function of the events so far: runs stay deterministic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::member::NodeName;
use crate::time::Instant;

/// One live member as readers see it.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) name: NodeName,
    pub(crate) addr: SocketAddr,
    /// Suspected: still gossiped to (it must hear the suspicion to refute it), but not
    /// sent push-sum mass, which would be lost if it has crashed.
    pub(crate) suspect: bool,
}

/// Which live members a reader may pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Alive or suspect.
    Live,
    /// Alive only.
    Alive,
}

impl Pick {
    fn admits(self, peer: &Peer) -> bool {
        self == Pick::Live || !peer.suspect
    }
}

#[derive(Debug, Default)]
struct Inner {
    peers: Vec<Peer>,
    suspects: usize,
    /// Members that went down (dead or left), with their address and until when they
    /// still receive gossip (so a member falsely declared dead hears of it and refutes).
    /// One entry per member at most; it goes when the member is live again or forgotten.
    down: BTreeMap<NodeName, (SocketAddr, Instant)>,
}

/// The shared list of live peers; cloning shares it.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerView(Arc<RwLock<Inner>>);

impl PeerView {
    /// An empty list.
    pub(crate) fn new() -> PeerView {
        PeerView::default()
    }

    /// Live peers, suspects included.
    pub(crate) fn len(&self) -> usize {
        self.0.read().peers.len()
    }

    /// Peers `pick` admits.
    pub(crate) fn count(&self, pick: Pick) -> usize {
        let inner = self.0.read();
        match pick {
            Pick::Live => inner.peers.len(),
            Pick::Alive => inner.peers.len() - inner.suspects,
        }
    }

    /// Whether every peer `pick` admits satisfies `test`.
    pub(crate) fn all(&self, pick: Pick, mut test: impl FnMut(&NodeName) -> bool) -> bool {
        let inner = self.0.read();
        inner
            .peers
            .iter()
            .filter(|p| pick.admits(p))
            .all(|p| test(&p.name))
    }

    /// Every live peer's name, in list order (with room for a few more to join).
    pub(crate) fn names(&self) -> Vec<NodeName> {
        let inner = self.0.read();
        let mut names = Vec::with_capacity(with_headroom(inner.peers.len()));
        names.extend(inner.peers.iter().map(|p| p.name.clone()));
        names
    }

    /// The address of every peer `pick` admits, in list order.
    pub(crate) fn addrs(&self, pick: Pick) -> Vec<SocketAddr> {
        let inner = self.0.read();
        inner
            .peers
            .iter()
            .filter(|p| pick.admits(p))
            .map(|p| p.addr)
            .collect()
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
    /// Random picks with rejection, bounded (k is small, a few at most), then, for small
    /// lists, a sweep that finds whatever the rejection missed.
    pub(crate) fn random(
        &self,
        k: usize,
        pick: Pick,
        skip: impl Fn(&NodeName) -> bool,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Peer> {
        let inner = self.0.read();
        let peers = &inner.peers;
        let mut chosen: Vec<usize> = Vec::with_capacity(k);
        let usable = |i: usize| pick.admits(&peers[i]) && !skip(&peers[i].name);
        let mut attempts = 0;
        while chosen.len() < k && !peers.is_empty() && attempts < 4 * k + peers.len().min(64) {
            attempts += 1;
            let i = rng.random_range(0..peers.len());
            if usable(i) && !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        if chosen.len() < k && peers.len() <= 4 * k + 64 {
            for i in 0..peers.len() {
                if chosen.len() >= k {
                    break;
                }
                if usable(i) && !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
        }
        chosen.into_iter().map(|i| peers[i].clone()).collect()
    }

    /// The live member at `addr`, if any (a scan of the live list: for rare questions).
    pub(crate) fn name_at(&self, addr: std::net::SocketAddr) -> Option<NodeName> {
        let inner = self.0.read();
        inner
            .peers
            .iter()
            .find(|p| p.addr == addr)
            .map(|p| p.name.clone())
    }

    /// Whether the live member `name` is recorded at `addr` (a scan of the live list: for
    /// rare questions). Unlike [`PeerView::name_at`], an address that two records claim
    /// (a forged one among them) still answers for the member truly there.
    pub(crate) fn is_at(&self, name: &NodeName, addr: SocketAddr) -> bool {
        let inner = self.0.read();
        inner
            .peers
            .iter()
            .any(|p| p.addr == addr && p.name == *name)
    }

    /// Whether the member table knows `name`: live, or down and not yet forgotten (a scan
    /// of the live list: callers bound how often they ask).
    pub(crate) fn knows(&self, name: &NodeName) -> bool {
        let inner = self.0.read();
        inner.down.contains_key(name) || inner.peers.iter().any(|p| p.name == *name)
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

    /// Appends a peer; returns its slot. Writer side: the member table only.
    pub(super) fn push(&self, peer: Peer) -> u32 {
        let mut inner = self.0.write();
        reserve_one(&mut inner.peers);
        inner.suspects += usize::from(peer.suspect);
        inner.peers.push(peer);
        (inner.peers.len() - 1) as u32
    }

    /// Updates the peer in `slot`. Writer side.
    pub(super) fn update(&self, slot: u32, addr: SocketAddr, suspect: bool) {
        let mut inner = self.0.write();
        let Some(peer) = inner.peers.get_mut(slot as usize) else {
            return;
        };
        let was = std::mem::replace(&mut peer.suspect, suspect);
        peer.addr = addr;
        inner.suspects = inner.suspects + usize::from(suspect) - usize::from(was);
    }

    /// Removes the peer in `slot`; the last peer moves into it, and its name is returned
    /// so the writer can fix its slot. Writer side.
    pub(super) fn swap_remove(&self, slot: u32) -> Option<NodeName> {
        let mut inner = self.0.write();
        let slot = slot as usize;
        if slot >= inner.peers.len() {
            return None;
        }
        let removed = inner.peers.swap_remove(slot);
        inner.suspects -= usize::from(removed.suspect);
        inner.peers.get(slot).map(|moved| moved.name.clone())
    }

    /// Replaces the whole list (a bulk load). Writer side.
    pub(super) fn replace(&self, peers: Vec<Peer>) {
        let mut inner = self.0.write();
        inner.suspects = peers.iter().filter(|p| p.suspect).count();
        inner.peers = peers;
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    fn peer(name: &str, port: u16, suspect: bool) -> Peer {
        Peer {
            name: NodeName::new(name).unwrap(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            suspect,
        }
    }

    #[test]
    fn a_full_list_grows_by_an_eighth() {
        let mut list: Vec<u64> = (0..800).collect();
        list.shrink_to_fit();
        reserve_one(&mut list);
        assert!(
            (801..=904).contains(&list.capacity()),
            "{}",
            list.capacity()
        );
        let before = list.capacity();
        reserve_one(&mut list);
        assert_eq!(list.capacity(), before, "room left: nothing reserved");
    }

    #[test]
    fn slots_counts_and_picks_stay_in_step() {
        let view = PeerView::new();
        assert_eq!(view.push(peer("a", 1, false)), 0);
        assert_eq!(view.push(peer("b", 2, true)), 1);
        assert_eq!(view.push(peer("c", 3, false)), 2);
        assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (3, 2));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let alive = view.random_addrs(3, Pick::Alive, &mut rng);
            assert_eq!(alive.len(), 2);
            assert!(!alive.contains(&peer("b", 2, true).addr));
        }
        // [a, b, c] -> [c, b]: "c" moved into slot 0.
        assert_eq!(view.swap_remove(0).unwrap().as_str(), "c");
        assert_eq!(view.swap_remove(7), None);
        assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (2, 1));
        view.update(1, peer("b", 9, false).addr, false);
        assert_eq!(view.count(Pick::Alive), 2);
        // Removing the last slot moves nothing.
        assert_eq!(view.swap_remove(0), Some(NodeName::new("b").unwrap()));
        assert_eq!(view.swap_remove(0), None);
        view.push(peer("b", 9, false));
        assert_eq!(
            view.random_addrs(2, Pick::Live, &mut rng),
            [peer("b", 9, false).addr]
        );
        let skip_b = view.random(1, Pick::Live, |n| n.as_str() == "b", &mut rng);
        assert!(skip_b.is_empty());
        assert!(view.all(Pick::Alive, |n| n.as_str() == "b"));
        view.push(peer("d", 4, true));
        assert_eq!(view.addrs(Pick::Live).len(), 2);
        assert_eq!(view.addrs(Pick::Alive), [peer("b", 9, false).addr]);
    }
}
