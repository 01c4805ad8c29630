//! Scuttlebutt reconciliation over every owner's replica: digests, deltas cut to a byte
//! budget, and merging what a peer sent.
//!
//! **What a peer lacks** of owner O, given its digest entry `d` and our replica `M`:
//!
//! | peer's digest | deltas sent |
//! |---|---|
//! | no entry, or an older generation | everything (`from = 0`) |
//! | a newer generation, or `d.max >= M.max` | nothing |
//! | `d.max < M.watermark` and `d.watermark < M.watermark` | everything (it must resync) |
//! | otherwise | versions in `(d.max, M.max]` |
//!
//! **Keeping `max_version` honest under truncation.** Deltas go lowest version first and
//! stop at the budget; `to` is the last version sent. A receiver holding `from` (or more)
//! applies the versions above what it has and sets its max to `to`: since the sender sent
//! *every* entry it holds in `(from, to]`, and any write in that range it does not hold
//! was overwritten by a later one, the receiver's state is exactly the owner's as of `to`.
//! A receiver below `from` ignores the deltas (a gap). An owner that does not fit at all
//! is left out of this message (the next exchange tries again, starting elsewhere).
//!
//! **Trust.** Entries at or below a replica's watermark are taken only from a peer that
//! collected at least as far (its copy has no deletion missing there), so a stale peer
//! cannot resurrect a collected key. What is refused from hostile peers, and how an owner
//! undoes a forgery about itself, is in `trust.rs`.

use std::collections::BTreeMap;

use super::StateChange;
use super::store::Replica;
use super::trust::{evidenced_max, plausible_deltas, plausible_digest};
use crate::codec::{StateDeltas, StateDigest, StateEntry};
use crate::member::NodeName;
use crate::time::Instant;

/// Every owner's replica held by one node, its own map included.
#[derive(Debug)]
pub(super) struct Store {
    pub(super) local: NodeName,
    pub(super) replicas: BTreeMap<NodeName, Replica>,
    /// Most owners held; deltas of further owners are ignored.
    pub(super) max_owners: usize,
    /// Most entries per replica (tombstones included); a replica stops advancing there.
    pub(super) max_entries: usize,
    /// Largest value taken from a peer.
    pub(super) max_value_len: usize,
}

/// What the receiver of a leg knows about it, to judge its claims (see `trust.rs`).
#[derive(Clone, Copy)]
pub(super) struct Leg<'a> {
    /// Whether the leg came from `owner`'s own address (it speaks for that owner).
    pub(super) from_owner: &'a dyn Fn(&NodeName) -> bool,
    /// The highest generation anyone can hold now.
    pub(super) latest_generation: u64,
}

/// What became of one digest entry or deltas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// Taken in (or nothing new).
    Yes,
    /// Implausible: refused.
    Refused,
    /// The owner said it holds less than this replica: the replica was replaced.
    Corrected,
    /// A claim that someone holds more of this node's own state than it wrote (a forgery
    /// taken somewhere), at this generation: this node must refute it (see `trust.rs`).
    Forged(u64),
}

impl Store {
    /// The digest: one entry per owner, in name order.
    pub(super) fn digest(&self) -> Vec<StateDigest> {
        self.replicas
            .iter()
            .map(|(owner, r)| StateDigest {
                owner: owner.clone(),
                generation: r.generation,
                max_version: r.max_version,
                watermark: r.watermark,
            })
            .collect()
    }

    /// The deltas a peer with `digest` lacks, within `budget` bytes, owners visited from
    /// the `start`-th on (wrapping); only the owners `digest` lists if `listed_only` (a
    /// summary's: the peer holds the rest as we do). Returns them and whether nothing
    /// was left out.
    pub(super) fn deltas_for(
        &self,
        digest: &[StateDigest],
        listed_only: bool,
        budget: usize,
        start: usize,
    ) -> (Vec<StateDeltas>, bool) {
        let theirs: BTreeMap<&NodeName, &StateDigest> =
            digest.iter().map(|d| (&d.owner, d)).collect();
        let mut order: Vec<(&NodeName, &Replica)> = if listed_only {
            let held = theirs
                .keys()
                .filter_map(|o| self.replicas.get_key_value(*o));
            held.collect()
        } else {
            self.replicas.iter().collect()
        };
        if !order.is_empty() {
            let start = start % order.len();
            order.rotate_left(start);
        }
        let mut out = Vec::new();
        let mut used = 0;
        let mut complete = true;
        for (owner, mine) in order {
            let Some(from) = from_version(mine, theirs.get(owner).copied()) else {
                continue;
            };
            let header = StateDeltas::header_len(owner);
            if used + header > budget {
                complete = false;
                continue;
            }
            let mut entries = Vec::new();
            let mut size = header;
            let mut to = mine.max_version;
            for (key, e) in mine.after(from) {
                let entry = StateEntry {
                    key: key.clone(),
                    version: e.version,
                    value: e.value.clone(),
                };
                let len = entry.encoded_len();
                if used + size + len > budget {
                    to = entries.last().map_or(from, |e: &StateEntry| e.version);
                    complete = false;
                    break;
                }
                size += len;
                entries.push(entry);
            }
            if to == from {
                continue;
            }
            used += size;
            out.push(StateDeltas {
                owner: owner.clone(),
                generation: mine.generation,
                watermark: mine.watermark,
                max_version: mine.max_version,
                from,
                to,
                entries,
            });
        }
        (out, complete)
    }

    /// Takes in a peer's digest entry or deltas header: a newer generation replaces our
    /// replica, a watermark beyond it starts a resync, one within it is adopted.
    pub(super) fn observe(
        &mut self,
        d: &StateDigest,
        leg: Leg<'_>,
        changes: &mut Vec<StateChange>,
    ) -> Taken {
        let (owner, generation) = (&d.owner, d.generation);
        let (watermark, max_version) = (d.watermark, d.max_version);
        if !plausible_digest(d, leg.latest_generation) {
            return Taken::Refused;
        }
        if generation == 0 {
            // A summary's "none held" (see `summary.rs`): it claims nothing.
            return Taken::Yes;
        }
        if *owner == self.local {
            let Some(me) = self.replicas.get(owner) else {
                return Taken::Yes;
            };
            let more = max_version > me.max_version || watermark > me.watermark;
            if generation > me.generation || (generation == me.generation && more) {
                log::debug!("a peer holds more of our state than we wrote: refuting");
                return Taken::Forged(generation);
            }
            return Taken::Yes;
        }
        let Some(mine) = self.replicas.get_mut(owner) else {
            return Taken::Yes;
        };
        let owner_holds_less = generation < mine.generation
            || (generation == mine.generation
                && (max_version < mine.max_version || watermark < mine.watermark));
        if owner_holds_less && (leg.from_owner)(owner) {
            log::debug!("{owner} holds less of itself than we do; replacing our replica");
            mine.drain_values(owner, changes);
            *mine = Replica::new(generation);
            return Taken::Corrected;
        }
        if generation > mine.generation {
            mine.drain_values(owner, changes);
            *mine = Replica::new(generation);
        } else if generation == mine.generation && watermark > mine.watermark {
            if watermark > mine.max_version {
                log::debug!("state of {owner} collected past ours; resyncing");
                mine.mark_stale(watermark, max_version);
            } else {
                mine.raise_watermark(watermark);
            }
        }
        Taken::Yes
    }

    /// Applies one owner's deltas (see the module docs for when they are ignored);
    /// `may_create` says whether a replica may be made for an owner not held yet.
    pub(super) fn apply(
        &mut self,
        now: Instant,
        d: StateDeltas,
        leg: Leg<'_>,
        may_create: impl FnOnce(&NodeName) -> bool,
        changes: &mut Vec<StateChange>,
    ) -> Taken {
        let plausible = plausible_deltas(&d, leg.latest_generation, self.max_value_len);
        if !well_formed(&d) || !plausible {
            return Taken::Refused;
        }
        let header = StateDigest {
            owner: d.owner.clone(),
            generation: d.generation,
            max_version: d.max_version,
            watermark: d.watermark,
        };
        let observed = self.observe(&header, leg, changes);
        if d.owner == self.local {
            return observed;
        }
        if !self.replicas.contains_key(&d.owner) {
            if d.from != 0 || self.replicas.len() >= self.max_owners || !may_create(&d.owner) {
                return Taken::Yes;
            }
            self.replicas
                .insert(d.owner.clone(), Replica::new(d.generation));
        }
        let evidenced = evidenced_max(&d);
        let max_entries = self.max_entries;
        let Some(mine) = self.replicas.get_mut(&d.owner) else {
            return observed;
        };
        let untrusted = d.watermark < mine.watermark && mine.max_version < mine.watermark;
        if d.generation != mine.generation || d.from > mine.max_version || untrusted {
            return observed;
        }
        let mut full = false;
        for e in d.entries {
            if e.version <= mine.max_version {
                continue;
            }
            if !mine.contains(&e.key) && mine.len() >= max_entries {
                log::warn!("state of {} holds {max_entries} entries; stopping", d.owner);
                full = true;
                break;
            }
            mine.write(&d.owner, e.key, e.version, e.value, now, Some(changes));
            mine.max_version = e.version;
        }
        if !full {
            mine.max_version = mine.max_version.max(evidenced);
        }
        mine.finish_resync(&d.owner, changes);
        observed
    }

    /// Refutes a forged claim about this node's own state at `claimed` generation (see
    /// `trust.rs`): its map moves to a generation above both the claim and its own, every
    /// value rewritten at versions `1..=n` (tombstones are not needed: a newer generation
    /// replaces each replica wholesale), so every replica drops what was planted and
    /// copies the map afresh.
    pub(super) fn refute(&mut self, now: Instant, claimed: u64) {
        let Some(own) = self.replicas.get(&self.local) else {
            return;
        };
        let generation = claimed.max(own.generation).saturating_add(1);
        let mut fresh = Replica::new(generation);
        let values: Vec<_> = own
            .after(0)
            .filter_map(|(k, e)| e.value.clone().map(|v| (k.clone(), v)))
            .collect();
        for (version, (key, value)) in (1..).zip(values) {
            fresh.write(&self.local, key, version, Some(value), now, None);
            fresh.max_version = version;
        }
        self.replicas.insert(self.local.clone(), fresh);
    }

    /// Frees the replica of `owner` (a member forgotten), reporting its values deleted.
    pub(super) fn forget(&mut self, owner: &NodeName, changes: &mut Vec<StateChange>) {
        if *owner == self.local {
            return;
        }
        if let Some(replica) = self.replicas.remove(owner) {
            replica.drain_values(owner, changes);
        }
    }
}

/// The version above which a peer with digest entry `theirs` lacks our replica `mine`,
/// or `None` if it lacks nothing (or holds a newer generation), or ours is resyncing.
fn from_version(mine: &Replica, theirs: Option<&StateDigest>) -> Option<u64> {
    if mine.watermark > mine.max_version {
        // Resyncing: what it holds is not yet a prefix of the owner's writes.
        return None;
    }
    let from = match theirs {
        None => 0,
        Some(d) if d.generation < mine.generation => 0,
        Some(d) if d.generation > mine.generation || d.max_version >= mine.max_version => {
            return None;
        }
        Some(d) if d.max_version < mine.watermark && d.watermark < mine.watermark => 0,
        Some(d) => d.max_version,
    };
    (mine.max_version > from).then_some(from)
}

/// Whether deltas are internally consistent: versions strictly increasing within
/// `(from, to]`, `to` and the watermark within the sender's max.
fn well_formed(d: &StateDeltas) -> bool {
    let mut last = d.from;
    for e in &d.entries {
        if e.version <= last {
            return false;
        }
        last = e.version;
    }
    last <= d.to && d.from <= d.to && d.to <= d.max_version && d.watermark <= d.max_version
}
