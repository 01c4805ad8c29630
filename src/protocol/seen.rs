//! The set of user broadcasts already delivered: bounded in size and expiring in time.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::member::NodeName;
use crate::time::Instant;

/// Identifies a broadcast: its origin and the origin's sequence number.
pub(crate) type MessageId = (NodeName, u64);

/// Remembers delivered message ids for `ttl`, at most `capacity` of them (oldest forgotten
/// first). The ttl must outlast a message's circulation (a few gossip rounds times the
/// retransmit limit); the default is minutes against a circulation of seconds.
#[derive(Debug)]
pub(crate) struct SeenSet {
    ids: HashSet<MessageId>,
    order: VecDeque<(Instant, MessageId)>,
    ttl: Duration,
    capacity: usize,
}

impl SeenSet {
    /// An empty set.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> SeenSet {
        SeenSet {
            ids: HashSet::new(),
            order: VecDeque::new(),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// Ids remembered.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Records `id`; true if it was not seen before (deliver it), false for a duplicate.
    pub(crate) fn insert(&mut self, now: Instant, id: MessageId) -> bool {
        self.expire(now);
        if self.ids.contains(&id) {
            return false;
        }
        if self.ids.len() >= self.capacity {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        self.ids.insert(id.clone());
        self.order.push_back((now, id));
        true
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_since(*at) < self.ttl {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u64) -> MessageId {
        (NodeName::new("o").unwrap(), n)
    }

    #[test]
    fn duplicates_are_refused_until_expiry() {
        let mut s = SeenSet::new(Duration::from_secs(10), 100);
        let t0 = Instant::ZERO;
        assert!(s.insert(t0, id(1)));
        assert!(!s.insert(t0 + Duration::from_secs(9), id(1)));
        assert!(s.insert(t0 + Duration::from_secs(10), id(1)));
    }

    #[test]
    fn size_is_bounded() {
        let mut s = SeenSet::new(Duration::from_secs(1000), 100);
        for n in 0..1000 {
            s.insert(Instant::ZERO, id(n));
        }
        assert_eq!(s.len(), 100);
        assert!(s.insert(Instant::ZERO, id(0)));
        assert!(!s.insert(Instant::ZERO, id(999)));
    }
}
