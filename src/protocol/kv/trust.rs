//! What the key-value state takes from peers, and what it refuses.
//!
//! Every number in a digest or deltas comes from the wire. Unchecked, one forged
//! `generation = u64::MAX` (or `max_version`) about an owner would replace or freeze that
//! owner's replica everywhere, for ever: the owner's real writes, at lower numbers, would
//! never be taken again. So:
//!
//! - **ceilings**: no version, `max_version` or watermark above [`MAX_VERSION`] (2⁴⁸: an
//!   owner writes once per version; at a million writes a second it takes nine years);
//!   no generation more than [`GENERATION_AHEAD`] beyond this node's own clock (a
//!   generation is its node's wall-clock start time in microseconds);
//! - **evidence for `max_version`**: deltas raise a replica's max only as far as their
//!   entries show (the last entry's version, or the watermark when the writes above were
//!   collected deletions), so a stranger cannot claim versions it does not send;
//! - **the owner speaks for itself**: a leg from an owner's own address that says it holds
//!   less of itself than this node does (an older generation, a lower max or watermark)
//!   is the truth, and the replica is replaced: whatever a stranger planted is undone at
//!   the next direct exchange with the owner;
//! - **owners are members**: a replica is made only for an owner the member table knows
//!   (live, or down and not yet forgotten), at most [`NEW_OWNERS_PER_SECOND`] checks a
//!   second (each is a scan of the live peers), and a forgotten member's replica is freed;
//! - **values within the configured limit** (`state_max_value_len`, not just the codec's);
//! - **the owner refutes**: a digest or deltas saying someone holds more of this node's
//!   own state than it wrote (a newer generation, a higher max or watermark) is a forgery
//!   some replica took, and would hide this node's next writes at those versions there.
//!   The node moves its map to a generation above the claim, every value rewritten
//!   (`Store::refute`), so every replica replaces what it holds with the owner's map —
//!   as an incarnation refutes a forged death. Found by the simulator's adversary.
//!
//! What no check here can undo without authentication: a forged write at exactly the
//! version the owner writes next, taken by a replica before the owner's own write. The
//! replica's numbers then match the owner's, and it holds the forged value (until the
//! owner writes that key again, or refutes a later claim).
//!
//! Refused legs are counted in `Stats::refused_state`.

use std::time::Duration;

use crate::codec::{StateDeltas, StateDigest};

/// No version, `max_version` or watermark above this is taken in.
pub(super) const MAX_VERSION: u64 = 1 << 48;
/// How far beyond this node's own clock a generation may be (clock skew between hosts).
pub(super) const GENERATION_AHEAD: Duration = Duration::from_secs(3600);
/// Replicas of new owners checked for membership per second, at most.
pub(super) const NEW_OWNERS_PER_SECOND: u32 = 64;

/// Whether a digest entry's numbers are plausible, given the highest generation anyone
/// can hold now.
///
/// A watermark above the max is plausible: a replica resyncing after a garbage collection
/// it missed holds exactly that (see `store.rs`), and its digest must still be heard — a
/// forged generation held by a resyncing replica is refuted by its owner only if the owner
/// takes the digest that shows it.
pub(super) fn plausible_digest(d: &StateDigest, latest_generation: u64) -> bool {
    d.max_version <= MAX_VERSION && d.watermark <= MAX_VERSION && d.generation <= latest_generation
}

/// Whether deltas are plausible: numbers within the ceilings, a generation from 1 (0
/// means "none held" in a summary) to the latest, and every value within
/// `max_value_len`.
pub(super) fn plausible_deltas(
    d: &StateDeltas,
    latest_generation: u64,
    max_value_len: usize,
) -> bool {
    d.max_version <= MAX_VERSION
        && (1..=latest_generation).contains(&d.generation)
        && d.entries
            .iter()
            .all(|e| e.value.as_ref().is_none_or(|v| v.len() <= max_value_len))
}

/// How far deltas may raise a replica's max: to `to` when their entries or watermark show
/// it (see the module docs), else no further than what they do show.
pub(super) fn evidenced_max(d: &StateDeltas) -> u64 {
    let last = d.entries.last().map_or(d.from, |e| e.version);
    d.to.min(last.max(d.watermark))
}
