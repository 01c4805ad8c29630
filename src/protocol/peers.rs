//! The live members a component sends to, kept in step by `PeerUp` / `PeerDown` /
//! `PeerGone` from membership: a list for O(1) random choice and an index for O(1)
//! removal. Dissemination, aggregation and the key-value state each keep one, as each
//! runs on its own actor.

use std::collections::HashMap;
use std::net::SocketAddr;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::member::NodeName;

/// Live peers, randomly addressable.
#[derive(Debug, Default)]
pub(crate) struct PeerSet {
    peers: Vec<(NodeName, SocketAddr)>,
    index: HashMap<NodeName, usize>,
}

impl PeerSet {
    /// No peers.
    pub(crate) fn new() -> PeerSet {
        PeerSet::default()
    }

    /// Peers known.
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    /// No peer at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The address of peer `i` (`i < len()`).
    pub(crate) fn addr(&self, i: usize) -> SocketAddr {
        self.peers[i].1
    }

    /// Every peer, in no particular (but deterministic) order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(NodeName, SocketAddr)> {
        self.peers.iter()
    }

    /// Adds a peer, or updates its address.
    pub(crate) fn up(&mut self, name: NodeName, addr: SocketAddr) {
        match self.index.get(&name) {
            Some(&i) => self.peers[i].1 = addr,
            None => {
                self.index.insert(name.clone(), self.peers.len());
                self.peers.push((name, addr));
            }
        }
    }

    /// Removes a peer; returns its address if it was there.
    pub(crate) fn down(&mut self, name: &NodeName) -> Option<SocketAddr> {
        let i = self.index.remove(name)?;
        let (_, addr) = self.peers.swap_remove(i);
        if let Some((moved, _)) = self.peers.get(i) {
            self.index.insert(moved.clone(), i);
        }
        Some(addr)
    }

    /// `k` distinct random peers' addresses (fewer if there are fewer peers).
    pub(crate) fn random_addrs(&self, k: usize, rng: &mut ChaCha8Rng) -> Vec<SocketAddr> {
        let k = k.min(self.peers.len());
        let mut picked: Vec<usize> = Vec::with_capacity(k);
        while picked.len() < k {
            let i = rng.random_range(0..self.peers.len());
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        picked.into_iter().map(|i| self.peers[i].1).collect()
    }

    /// Releases spare capacity (after a bulk of peers arrived at once).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.peers.shrink_to_fit();
        self.index.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn up_down_keep_list_and_index_in_step() {
        let name = |s: &str| NodeName::new(s).unwrap();
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let mut set = PeerSet::new();
        for (i, n) in ["a", "b", "c"].into_iter().enumerate() {
            set.up(name(n), addr(i as u16));
        }
        set.up(name("a"), addr(9));
        assert_eq!(set.len(), 3);
        assert_eq!(set.down(&name("a")), Some(addr(9)));
        assert_eq!(set.down(&name("a")), None);
        assert_eq!(set.down(&name("c")), Some(addr(2)));
        assert_eq!(
            set.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            [name("b")]
        );
        assert_eq!(set.addr(0), addr(1));
    }
}
