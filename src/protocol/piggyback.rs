//! A piggyback queue: messages waiting to ride on outgoing packets, least-transmitted
//! first (newest first among equals), each dropped after a retransmit limit; a newer
//! message under the same key replaces the older one.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use crate::codec::{Message, PacketWriter};

/// Smallest message worth trying to fit; below this much room, stop scanning.
const MIN_MESSAGE_LEN: usize = 12;
/// Messages in a row that did not fit after which a packet counts as full. Without a
/// cut-off, a nearly full packet looked at every queued message: with 500 members just
/// crashed in a 10,000-node cluster (a thousand suspicions and deaths queued at every
/// node), filling packets was a tenth of the simulator's time.
const MAX_MISSES: usize = 16;

#[derive(Debug)]
struct Entry<K> {
    key: K,
    message: Message,
    transmits: u32,
    /// Multiplies the retransmit limit for this message (1 for most).
    weight: u32,
    len: usize,
}

/// The messages of one queue already in the packet being filled (see
/// [`PiggybackQueue::fill_once`]).
#[derive(Debug, Default)]
pub(crate) struct Packed(Vec<u64>);

/// A bounded retransmit queue keyed by `K` (see the module docs).
#[derive(Debug)]
pub(crate) struct PiggybackQueue<K> {
    order: BTreeSet<(u32, Reverse<u64>)>,
    entries: HashMap<u64, Entry<K>>,
    by_key: HashMap<K, u64>,
    next_id: u64,
    capacity: usize,
}

impl<K: Clone + Eq + Hash> PiggybackQueue<K> {
    /// An empty queue holding at most `capacity` messages.
    pub(crate) fn new(capacity: usize) -> PiggybackQueue<K> {
        PiggybackQueue {
            order: BTreeSet::new(),
            entries: HashMap::new(),
            by_key: HashMap::new(),
            next_id: 0,
            capacity: capacity.max(1),
        }
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the queue is at capacity.
    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// Times the message under `key` has been sent, if it is still queued.
    pub(crate) fn transmits_of(&self, key: &K) -> Option<u32> {
        let id = self.by_key.get(key)?;
        self.entries.get(id).map(|e| e.transmits)
    }

    /// Drops the message under `key`; false if it was not queued.
    pub(crate) fn remove(&mut self, key: &K) -> bool {
        let Some(id) = self.by_key.get(key).copied() else {
            return false;
        };
        self.remove_id(id);
        true
    }

    /// Queues `message` under `key`, replacing an older one; when full, the most
    /// transmitted message makes room.
    pub(crate) fn push(&mut self, key: K, message: Message) {
        self.push_weighted(key, message, 1);
    }

    /// Like [`PiggybackQueue::push`], for a message sent `weight` times the usual limit.
    pub(crate) fn push_weighted(&mut self, key: K, message: Message, weight: u32) {
        if let Some(old) = self.by_key.remove(&key) {
            self.remove_id(old);
        }
        if self.is_full() {
            if let Some(&(_, Reverse(id))) = self.order.last() {
                self.remove_id(id);
            }
        }
        self.next_id += 1;
        let id = self.next_id;
        let len = message.encoded_len();
        self.order.insert((0, Reverse(id)));
        self.by_key.insert(key.clone(), id);
        self.entries.insert(
            id,
            Entry {
                key,
                message,
                transmits: 0,
                weight: weight.max(1),
                len,
            },
        );
    }

    /// Packs as many messages as fit into `writer`, using at most `budget` bytes; each one
    /// packed counts a transmission and is dropped once sent `limit` times. Returns how
    /// many were packed.
    pub(crate) fn fill(&mut self, writer: &mut PacketWriter, budget: usize, limit: u32) -> usize {
        self.fill_once(writer, budget, limit, &mut Packed::default())
    }

    /// Like [`PiggybackQueue::fill`] for one of several passes over the same packet: skips
    /// the messages `packed` says an earlier pass put in it, and records those it adds.
    /// Without this, a message whose count an earlier pass raised would ride twice in
    /// one datagram, spending two of its transmissions on one peer.
    pub(crate) fn fill_once(
        &mut self,
        writer: &mut PacketWriter,
        budget: usize,
        limit: u32,
        packed: &mut Packed,
    ) -> usize {
        let mut budget = budget.min(writer.remaining());
        let mut sent = Vec::new();
        let mut misses = 0;
        for &(transmits, Reverse(id)) in &self.order {
            if budget < MIN_MESSAGE_LEN || misses >= MAX_MISSES {
                break;
            }
            if packed.0.contains(&id) {
                continue;
            }
            let Some(entry) = self.entries.get(&id) else {
                continue;
            };
            if entry.len <= budget && writer.push(&entry.message) {
                budget -= entry.len;
                sent.push((transmits, id));
                misses = 0;
            } else {
                misses += 1;
            }
        }
        packed.0.extend(sent.iter().map(|&(_, id)| id));
        for &(transmits, id) in &sent {
            self.order.remove(&(transmits, Reverse(id)));
            let done = match self.entries.get_mut(&id) {
                Some(entry) => {
                    entry.transmits += 1;
                    entry.transmits >= limit.saturating_mul(entry.weight)
                }
                None => continue,
            };
            if done {
                if let Some(entry) = self.entries.remove(&id) {
                    self.by_key.remove(&entry.key);
                }
            } else {
                self.order.insert((transmits + 1, Reverse(id)));
            }
        }
        sent.len()
    }

    fn remove_id(&mut self, id: u64) {
        if let Some(entry) = self.entries.remove(&id) {
            self.order.remove(&(entry.transmits, Reverse(id)));
            if self.by_key.get(&entry.key) == Some(&id) {
                self.by_key.remove(&entry.key);
            }
        }
    }
}

/// memberlist's retransmit limit: `mult × ceil(log10(N + 1))`.
pub(crate) fn retransmit_limit(mult: u32, cluster_size: usize) -> u32 {
    let scale = ((cluster_size + 1) as f64).log10().ceil().max(1.0);
    mult.saturating_mul(scale as u32)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::codec::{Header, Left};
    use crate::member::NodeName;

    fn left(name: &str, inc: u64) -> Message {
        Message::Left(Left {
            name: NodeName::new(name).unwrap(),
            incarnation: inc,
        })
    }

    fn writer(mtu: usize) -> PacketWriter {
        PacketWriter::new(
            &Header {
                cluster: 1,
                flags: 0,
            },
            mtu,
        )
    }

    #[test]
    fn limit_matches_memberlist() {
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 100), 12);
        assert_eq!(retransmit_limit(4, 1000), 16);
        assert_eq!(retransmit_limit(4, 10_000), 20);
    }

    #[test]
    fn sent_limit_times_then_dropped() {
        let mut q = PiggybackQueue::new(10);
        q.push("a", left("a", 1));
        for round in 1..=3 {
            let mut w = writer(1400);
            assert_eq!(q.fill(&mut w, usize::MAX, 3), 1);
            assert_eq!(
                q.transmits_of(&"a"),
                if round < 3 { Some(round) } else { None }
            );
        }
        assert!(q.is_empty());
    }

    #[test]
    fn newer_replaces_older_and_least_transmitted_goes_first() {
        let mut q = PiggybackQueue::new(10);
        q.push("a", left("a", 1));
        let mut w = writer(1400);
        q.fill(&mut w, usize::MAX, 10);
        q.push("b", left("b", 1));
        q.push("a", left("a", 2));
        assert_eq!(q.len(), 2);
        assert_eq!(q.transmits_of(&"a"), Some(0));
        // Room for exactly one message: the newest untransmitted ("a" replaced, so newest).
        let one = left("a", 2).encoded_len();
        let mut w = writer(crate::codec::PACKET_OVERHEAD + one);
        assert_eq!(q.fill(&mut w, usize::MAX, 10), 1);
        assert_eq!(q.transmits_of(&"a"), Some(1));
        assert_eq!(q.transmits_of(&"b"), Some(0));
    }

    #[test]
    fn a_message_rides_once_in_a_packet_filled_in_two_passes() {
        let mut q = PiggybackQueue::new(10);
        q.push("a", left("a", 1));
        let mut w = writer(1400);
        let mut packed = Packed::default();
        assert_eq!(q.fill_once(&mut w, 100, 10, &mut packed), 1);
        assert_eq!(q.fill_once(&mut w, usize::MAX, 10, &mut packed), 0);
        assert_eq!(q.transmits_of(&"a"), Some(1));
        q.push("b", left("b", 1));
        assert_eq!(q.fill_once(&mut w, usize::MAX, 10, &mut packed), 1);
        assert_eq!(q.transmits_of(&"b"), Some(1));
    }

    /// A packet with room for a short message still takes one queued behind a few long
    /// ones that do not fit; the search stops only after a run of misses.
    #[test]
    fn a_short_message_behind_long_ones_fills_the_gap() {
        let mut q = PiggybackQueue::new(64);
        let long = |i: usize| left(&format!("{i:0>40}"), 1);
        q.push("short", left("s", 1));
        for i in 0..MAX_MISSES - 1 {
            q.push(Box::leak(format!("long{i}").into_boxed_str()), long(i));
        }
        // Room for the short message only: every long one is newer, so tried first.
        let mut w = writer(crate::codec::PACKET_OVERHEAD + left("s", 1).encoded_len());
        assert_eq!(q.fill(&mut w, usize::MAX, 10), 1);
        assert_eq!(q.transmits_of(&"short"), Some(1));
    }

    #[test]
    fn removed_messages_are_no_longer_sent() {
        let mut q = PiggybackQueue::new(10);
        q.push("a", left("a", 1));
        q.push("b", left("b", 1));
        assert!(q.remove(&"a"));
        assert!(!q.remove(&"a"));
        let mut w = writer(1400);
        assert_eq!(q.fill(&mut w, usize::MAX, 10), 1);
        assert_eq!(
            (q.transmits_of(&"a"), q.transmits_of(&"b")),
            (None, Some(1))
        );
    }

    #[test]
    fn capacity_evicts_the_most_transmitted() {
        let mut q = PiggybackQueue::new(2);
        q.push("a", left("a", 1));
        let mut w = writer(1400);
        q.fill(&mut w, usize::MAX, 10);
        q.push("b", left("b", 1));
        q.push("c", left("c", 1));
        assert_eq!(q.len(), 2);
        assert_eq!(q.transmits_of(&"a"), None);
    }

    #[test]
    fn budget_is_respected() {
        let mut q = PiggybackQueue::new(100);
        for i in 0..50 {
            q.push(i, left(&format!("member-{i}"), 1));
        }
        let mut w = writer(1400);
        let n = q.fill(&mut w, 100, 10);
        assert!(n > 0);
        assert!(w.finish().len() <= crate::codec::PACKET_OVERHEAD + 100);
    }
}
