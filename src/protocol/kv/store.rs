//! One owner's versioned map, as held by its owner or by any replica.
//!
//! ```text
//! owner O, generation g:   k1 = a @1   k2 = ∅ @3 (tombstone)   k3 = c @4     max 4, watermark 0
//! after tombstone_grace:   k1 = a @1                           k3 = c @4     max 4, watermark 3
//! ```
//! Three numbers describe a replica:
//! - `max_version`: every write of this generation up to it is reflected (a gap-free
//!   prefix; writes overwritten later simply are not there any more);
//! - `watermark`: tombstones up to it were garbage-collected, so for versions up to it
//!   "absent" means "deleted" — a replica missing writes up to it cannot tell which of its
//!   keys were deleted, and must re-copy (see [`Replica::mark_stale`]);
//! - `generation`: a newer one replaces the replica wholesale.
//!
//! **Resync.** A replica that learns of a watermark above everything it has (it was
//! partitioned through a garbage collection) marks its entries stale, sets `max_version`
//! to 0 and copies the owner's state again from a peer that collected at least as far.
//! Stale entries stay readable (no flicker) but are never sent on; each is replaced as the
//! copy delivers its key, and those still stale once the copy reaches the owner's
//! `max_version` seen at the time were deleted meanwhile: they are dropped then.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::StateChange;
use crate::codec::StateKey;
use crate::member::NodeName;
use crate::time::Instant;

/// A key's latest write.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The owner's version of the write.
    pub(super) version: u64,
    /// The value, `None` for a tombstone.
    pub(super) value: Option<Arc<[u8]>>,
    /// When this node wrote or received it (tombstones are collected a grace after).
    at: Instant,
    /// Kept from before a resync; not confirmed yet, never sent.
    stale: bool,
}

/// One owner's map (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct Replica {
    pub(super) generation: u64,
    pub(super) max_version: u64,
    pub(super) watermark: u64,
    entries: BTreeMap<StateKey, Entry>,
    /// Non-stale entries by version: what is sent, in order.
    by_version: BTreeMap<u64, StateKey>,
    live: usize,
    tombstones: usize,
    /// While resyncing: stale entries are dropped once `max_version` reaches this.
    resync_until: Option<u64>,
    /// The digest entry as last summarized, its hash and when it was first seen so
    /// (`None`: never summarized; see `summary.rs`).
    pub(super) seen: Option<super::summary::Seen>,
}

impl Replica {
    /// An empty replica of `generation`.
    pub(super) fn new(generation: u64) -> Replica {
        Replica {
            generation,
            max_version: 0,
            watermark: 0,
            entries: BTreeMap::new(),
            by_version: BTreeMap::new(),
            live: 0,
            tombstones: 0,
            resync_until: None,
            seen: None,
        }
    }

    /// The value of `key`, if it has one.
    pub(super) fn get(&self, key: &StateKey) -> Option<&Arc<[u8]>> {
        self.entries.get(key).and_then(|e| e.value.as_ref())
    }

    /// Every key with a value, in key order.
    pub(super) fn values(&self) -> impl Iterator<Item = (&StateKey, &Arc<[u8]>)> {
        self.entries
            .iter()
            .filter_map(|(k, e)| e.value.as_ref().map(|v| (k, v)))
    }

    /// Entries held, tombstones and stale ones included.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Keys with a value (stale ones included).
    pub(super) fn live(&self) -> usize {
        self.live + self.entries.values().filter(|e| e.stale).count()
    }

    /// Tombstones held.
    #[cfg(test)]
    pub(super) fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// Whether `key` is held (a value, a tombstone or stale).
    pub(super) fn contains(&self, key: &StateKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Whether a resync is in progress.
    #[cfg(test)]
    pub(super) fn resyncing(&self) -> bool {
        self.resync_until.is_some()
    }

    /// Non-stale entries with versions above `from`, in increasing version order.
    pub(super) fn after(&self, from: u64) -> impl Iterator<Item = (&StateKey, &Entry)> {
        self.by_version
            .range(from.saturating_add(1)..)
            .filter_map(|(_, k)| self.entries.get(k).map(|e| (k, e)))
    }

    /// Records a write of `key` at `version` (caller guarantees it is newer). When
    /// `changes` is given and the visible value changed, the change is pushed there.
    pub(super) fn write(
        &mut self,
        owner: &NodeName,
        key: StateKey,
        version: u64,
        value: Option<Arc<[u8]>>,
        now: Instant,
        changes: Option<&mut Vec<StateChange>>,
    ) {
        let old = self.remove(&key);
        let old_value = old.and_then(|e| e.value);
        if let Some(changes) = changes {
            if old_value != value {
                changes.push(StateChange {
                    owner: owner.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
        match value {
            Some(_) => self.live += 1,
            None => self.tombstones += 1,
        }
        self.by_version.insert(version, key.clone());
        let entry = Entry {
            version,
            value,
            at: now,
            stale: false,
        };
        self.entries.insert(key, entry);
    }

    /// Removes `key`'s entry, keeping the counts and the index right.
    fn remove(&mut self, key: &StateKey) -> Option<Entry> {
        let old = self.entries.remove(key)?;
        if !old.stale {
            self.by_version.remove(&old.version);
            match old.value {
                Some(_) => self.live -= 1,
                None => self.tombstones -= 1,
            }
        }
        Some(old)
    }

    /// Collects tombstones older than `grace` (and every tombstone below the newest of
    /// them); returns how many went.
    pub(super) fn collect(&mut self, now: Instant, grace: Duration) -> usize {
        if self.tombstones == 0 {
            return 0;
        }
        let newest = self
            .by_version
            .iter()
            .rev()
            .filter_map(|(v, k)| self.entries.get(k).map(|e| (*v, e)))
            .find(|(_, e)| e.value.is_none() && e.at + grace <= now)
            .map(|(v, _)| v);
        match newest {
            Some(v) => self.raise_watermark(v),
            None => 0,
        }
    }

    /// Collects the oldest tombstones until at most `keep` remain; returns how many went.
    pub(super) fn collect_beyond(&mut self, keep: usize) -> usize {
        let excess = self.tombstones.saturating_sub(keep);
        if excess == 0 {
            return 0;
        }
        let nth = self
            .by_version
            .iter()
            .filter(|(_, k)| self.entries.get(*k).is_some_and(|e| e.value.is_none()))
            .nth(excess - 1)
            .map(|(v, _)| *v);
        nth.map_or(0, |v| self.raise_watermark(v))
    }

    /// Raises the watermark to `watermark` (at most `max_version`) and drops every
    /// tombstone at or below it; returns how many went.
    pub(super) fn raise_watermark(&mut self, watermark: u64) -> usize {
        let watermark = watermark.min(self.max_version);
        if watermark <= self.watermark {
            return 0;
        }
        self.watermark = watermark;
        let dead: Vec<StateKey> = self
            .by_version
            .range(..=self.watermark)
            .filter(|(_, k)| self.entries.get(*k).is_some_and(|e| e.value.is_none()))
            .map(|(_, k)| k.clone())
            .collect();
        for key in &dead {
            self.remove(key);
        }
        dead.len()
    }

    /// Starts a resync (see the module docs): the owner collected tombstones up to
    /// `watermark`, beyond anything this replica has; stale entries go once
    /// `max_version` reaches `until`.
    pub(super) fn mark_stale(&mut self, watermark: u64, until: u64) {
        self.entries.retain(|_, e| e.value.is_some() || e.stale);
        for entry in self.entries.values_mut() {
            entry.stale = true;
        }
        self.by_version.clear();
        self.live = 0;
        self.tombstones = 0;
        self.max_version = 0;
        self.watermark = watermark;
        self.resync_until = Some(until.max(watermark));
    }

    /// Ends a resync once the copy is complete: drops what is still stale, reporting
    /// each dropped value as deleted.
    pub(super) fn finish_resync(&mut self, owner: &NodeName, changes: &mut Vec<StateChange>) {
        let Some(until) = self.resync_until else {
            return;
        };
        if self.max_version < until {
            return;
        }
        self.resync_until = None;
        let stale: Vec<StateKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stale)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.entries.remove(&key);
            changes.push(StateChange {
                owner: owner.clone(),
                key,
                value: None,
            });
        }
    }

    /// Reports every value as deleted (the replica is about to be replaced).
    pub(super) fn drain_values(&self, owner: &NodeName, changes: &mut Vec<StateChange>) {
        changes.extend(self.values().map(|(key, _)| StateChange {
            owner: owner.clone(),
            key: key.clone(),
            value: None,
        }));
    }
}
