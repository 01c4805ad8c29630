//! Digests told by difference: a leg carries a 64-bit fingerprint of the sender's whole
//! digest and the entries of the few owners that changed lately, not one entry per owner.
//!
//! A whole digest is one entry per owner held — at 1,000 owners some 40 KB, in every leg
//! of every round, though a cluster at rest has nothing to reconcile and one new key
//! changes one entry. So a round's first leg says only
//!
//! ```text
//! fingerprint = Σ hash(owner, generation, max version, watermark)   (wrapping, over every
//!               replica holding anything; an empty one adds 0, as one not held does)
//!               (each hash mixed with a salt drawn for the leg, sent beside it)
//! listed      = the entries that changed here within RECENT_ROUNDS rounds (newest first,
//!               at most MAX_RECENT)
//! ```
//! and claims: "my whole digest is yours with the listed entries put in". The receiver
//! checks the claim by arithmetic — its own fingerprint, less its hashes of the listed
//! owners, plus the sender's — and then:
//!
//! | comparison | answer |
//! |---|---|
//! | fingerprints equal | nothing: the exchange ends after one leg of 24 bytes (with its framing) |
//! | claim checks (*explained*) | the exchange as with whole digests, every digest it carries listing only the owners told so far |
//! | does not check, first time | its own summary: its entries for the owners listed, and its own recent ones (`retry` set); the want turns so that the side that can judge next is asked |
//! | does not check, `retry` set | a whole digest: the classic exchange from there |
//!
//! An owner listed but not held is told as an entry of generation 0 (so the other side
//! sends it whole). Summaries are cheap where news is: a new key is recent at every node
//! that learned it during its spread (push-pull spreads in about log₂ N rounds; THEORY.md
//! §1), so an informed node's first leg lists it and an uninformed peer can check the
//! claim; the reverse pair checks on the second leg. Only a burst of changes on more
//! owners than are listed (a cluster warming up, a partition healing) falls back to
//! whole digests, counted in `Stats::state_whole_digests`.
//!
//! **It ends.** `retry` is sticky along an exchange: an unexplained leg is answered with a
//! summary at most once, and afterwards only with a whole digest, after which the classic
//! exchange takes at most three more legs. An explained leg's answer asks for deltas at
//! most. So an exchange takes at most seven legs, whatever the comparisons (each may
//! fail if state changes between legs); one to four in the cases above.
//!
//! **Hostile summaries** can only cost what whole digests cost already: a fingerprint that
//! never checks draws a whole digest (still only to a live member's address), a forged
//! equal one ends an exchange with the forger, listed entries are judged like any digest
//! entry (`trust.rs`). Forged entries planted in a replica cannot hide from comparisons:
//! each leg's salt mixes every entry's hash anew ([`salted`]). The hash is fixed
//! (FNV-1a, then SplitMix64's finalizer per field) so that every build computes the same.

use std::collections::BTreeSet;
use std::time::Duration;

use super::reconcile::Store;
use crate::codec::{StateDigest, StateSummary, StateSync, StateWant};
use crate::member::NodeName;
use crate::time::Instant;

/// Most entries a summary lists as recent.
pub(super) const MAX_RECENT: usize = 16;
/// Rounds an owner's entry stays recent after it changed here: past the ~log₂ N rounds a
/// push-pull spread takes at 10,000 nodes (≈ 15), with room for loss.
pub(super) const RECENT_ROUNDS: u32 = 20;

/// A replica's digest entry as last summarized.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    /// Generation, max version and watermark.
    entry: [u64; 3],
    /// The entry's hash (0 when it holds nothing).
    hash: u64,
    /// When this node first saw the entry so.
    at: Instant,
}

/// How a peer's summary compares with this node's digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Comparison {
    /// Equal fingerprints: nothing to reconcile.
    Same,
    /// The listed entries account for the whole difference.
    Explained,
    /// They do not: the peer's digest differs elsewhere too.
    Unexplained,
}

/// The gossip "state is in use": a leg that asks nothing and tells an empty summary
/// (its numbers are read by no one), which wakes an idle member it reaches.
pub(super) fn in_use() -> StateSync {
    StateSync {
        want: StateWant::Nothing,
        summary: Some(StateSummary {
            fingerprint: 0,
            salt: 0,
            retry: false,
        }),
        digest: Vec::new(),
        deltas: Vec::new(),
    }
}

/// What a leg tells of its sender's digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Told {
    /// Nothing (the first leg of a push with whole digests).
    Nothing,
    /// The whole digest.
    Whole,
    /// A summary listing these owners, and the recent ones too if `recent`.
    Summary {
        owners: Vec<NodeName>,
        recent: bool,
        retry: bool,
    },
}

/// By whose digest the deltas of a leg are chosen.
#[derive(Clone, Copy, Debug)]
pub(super) enum Lacks<'a> {
    /// No one's: the leg carries no deltas.
    Unknown,
    /// A peer's whole digest.
    Whole(&'a [StateDigest]),
    /// A peer's explained summary: it lacks nothing of owners it did not list.
    Listed(&'a [StateDigest]),
}

/// The answer to a leg that asked `want` and told its sender's `digest` whole (`summary`
/// `None`) or by a summary that compared so; `named` are the owners the leg named (its
/// digest entries and deltas). Returns what to ask, what to tell and by what to judge.
pub(super) fn answer<'a>(
    want: StateWant,
    summary: Option<(StateSummary, Comparison)>,
    digest: &'a [StateDigest],
    named: Vec<NodeName>,
) -> (StateWant, Told, Lacks<'a>) {
    use StateWant::{Deltas, DeltasAndDigest, Digest, Nothing};
    let (retry, comparison) = match summary {
        None => (false, None),
        Some((s, c)) => (s.retry, Some(c)),
    };
    match (comparison, want) {
        (_, Nothing) | (Some(Comparison::Same), _) => (Nothing, Told::Nothing, Lacks::Unknown),
        (None, Deltas) => (Nothing, Told::Nothing, Lacks::Whole(digest)),
        (None, DeltasAndDigest) => (Deltas, Told::Whole, Lacks::Whole(digest)),
        (None, Digest) => (Deltas, Told::Whole, Lacks::Unknown),
        (Some(Comparison::Explained), Deltas) => (Nothing, Told::Nothing, Lacks::Listed(digest)),
        (Some(Comparison::Explained), DeltasAndDigest | Digest) => {
            let tell = Told::Summary {
                owners: named,
                recent: false,
                retry,
            };
            let lacks = if want == Digest {
                Lacks::Unknown
            } else {
                Lacks::Listed(digest)
            };
            (Deltas, tell, lacks)
        }
        // Unexplained: tell our side of it, turning the want so that the side that can
        // judge next is asked (in pull, the peer judges what we lack from our summary).
        (Some(Comparison::Unexplained), _) if !retry => {
            let turned = match want {
                Deltas => Digest,
                Digest => Deltas,
                other => other,
            };
            let tell = Told::Summary {
                owners: named,
                recent: true,
                retry: true,
            };
            (turned, tell, Lacks::Unknown)
        }
        // Unexplained twice: the classic exchange from here.
        (Some(Comparison::Unexplained), DeltasAndDigest) => {
            (DeltasAndDigest, Told::Whole, Lacks::Unknown)
        }
        (Some(Comparison::Unexplained), Digest) => (Deltas, Told::Whole, Lacks::Unknown),
        (Some(Comparison::Unexplained), Deltas) => (Digest, Told::Nothing, Lacks::Unknown),
    }
}

impl Store {
    /// The fingerprint of this node's whole digest under `salt`, noting each entry that
    /// changed since the last call as changed `now`.
    pub(super) fn fingerprint(&mut self, now: Instant, salt: u32) -> u64 {
        let mut sum = 0u64;
        for (owner, r) in &mut self.replicas {
            let entry = [r.generation, r.max_version, r.watermark];
            let seen = match r.seen {
                Some(seen) if seen.entry == entry => seen,
                _ => {
                    let hash = entry_hash(owner, entry);
                    let seen = Seen {
                        entry,
                        hash,
                        at: now,
                    };
                    r.seen = Some(seen);
                    seen
                }
            };
            sum = sum.wrapping_add(salted(seen.hash, salt));
        }
        sum
    }

    /// Owners whose entry changed here within `window` of `now` (as of the last
    /// [`Store::fingerprint`]), newest first, at most [`MAX_RECENT`].
    pub(super) fn recent(&self, now: Instant, window: Duration) -> Vec<NodeName> {
        let mut recent: Vec<(Instant, &NodeName)> = self
            .replicas
            .iter()
            .filter_map(|(owner, r)| r.seen.map(|s| (s.at, owner)))
            .filter(|(at, _)| now.saturating_since(*at) <= window)
            .collect();
        recent.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        recent
            .into_iter()
            .take(MAX_RECENT)
            .map(|(_, owner)| owner.clone())
            .collect()
    }

    /// This node's digest entries of `owners`, once each in name order; generation 0 for
    /// an owner not held.
    pub(super) fn entries_of<'a>(
        &self,
        owners: impl IntoIterator<Item = &'a NodeName>,
    ) -> Vec<StateDigest> {
        let owners: BTreeSet<&NodeName> = owners.into_iter().collect();
        owners
            .into_iter()
            .map(|owner| {
                let r = self.replicas.get(owner);
                StateDigest {
                    owner: owner.clone(),
                    generation: r.map_or(0, |r| r.generation),
                    max_version: r.map_or(0, |r| r.max_version),
                    watermark: r.map_or(0, |r| r.watermark),
                }
            })
            .collect()
    }

    /// Compares a peer's `summary` and its `listed` entries with this node's digest now.
    pub(super) fn compare(
        &mut self,
        now: Instant,
        summary: StateSummary,
        listed: &[StateDigest],
    ) -> Comparison {
        let StateSummary {
            fingerprint, salt, ..
        } = summary;
        let ours = self.fingerprint(now, salt);
        if ours == fingerprint {
            return Comparison::Same;
        }
        let mut claimed = ours;
        for d in listed {
            let held = self.replicas.get(&d.owner).and_then(|r| r.seen);
            let theirs = if d.generation == 0 {
                0
            } else {
                entry_hash(&d.owner, [d.generation, d.max_version, d.watermark])
            };
            claimed = claimed
                .wrapping_sub(salted(held.map_or(0, |s| s.hash), salt))
                .wrapping_add(salted(theirs, salt));
        }
        if claimed == fingerprint {
            Comparison::Explained
        } else {
            Comparison::Unexplained
        }
    }
}

/// The fingerprint of a digest given entry by entry, under `salt`.
#[cfg(test)]
pub(super) fn fingerprint_of(digest: &[StateDigest], salt: u32) -> u64 {
    digest.iter().fold(0u64, |sum, d| {
        let entry = [d.generation, d.max_version, d.watermark];
        sum.wrapping_add(salted(entry_hash(&d.owner, entry), salt))
    })
}

/// An entry's hash as it enters a fingerprint under `salt` (0 stays 0: an entry that
/// holds nothing adds nothing). The per-entry hashes are public knowledge, so an
/// attacker could choose forged entries whose hashes cancel in a plain sum (a k-list
/// search, about 2²¹ work for four owners) and hide them from every comparison; mixed
/// with a salt drawn for each leg, no set chosen beforehand cancels.
fn salted(hash: u64, salt: u32) -> u64 {
    if hash == 0 {
        return 0;
    }
    mix(hash ^ u64::from(salt).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The hash of one digest entry; 0 for one that holds nothing (no version, no watermark).
fn entry_hash(owner: &NodeName, entry: [u64; 3]) -> u64 {
    let [_, max_version, watermark] = entry;
    if max_version == 0 && watermark == 0 {
        return 0;
    }
    // FNV-1a over the name, then each number folded in through a bijective mixer, so
    // that no two entries differ by a pattern the sum could cancel.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in owner.as_str().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    for x in entry {
        h = mix(h ^ x).wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
    h
}

/// SplitMix64's finalizer: a bijection of `u64` with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
