//! Replicated key-value state (Scuttlebutt anti-entropy): the [`StateSync`] message, carried
//! as a datagram message (type 11) or as a TCP frame of its own kind (2).
//!
//! ```text
//! message   len u16 | type u8 = 11 | body
//! frame     header (12) | kind u8 = 2 | body
//! body      flags u8 | [fingerprint u64 | salt u32] | count u32 | count × digest | count u32
//!           | count × deltas
//! flags     want (bits 0–1) | retry (bit 6) | summary (bit 7: fingerprint and salt follow, the
//!           digest lists only some owners; retry only with it; other bits 0)
//! digest    owner name | generation u64 | max_version u64 | watermark u64
//! deltas    owner name | generation u64 | watermark u64 | max_version u64 | from u64 | to u64
//!           | count u32 | count × entry
//! entry     key (len u8, 1..=128 bytes UTF-8) | version u64 | tag u8 (0 deleted, 1 value)
//!           | value (len u16 <= MAX_STATE_VALUE_LEN), only when tag = 1
//! ```
//! As a frame it is [`super::Frame::State`], encoded and decoded with the other kinds.

use std::fmt;
use std::sync::Arc;

use super::error::{DecodeError, EncodeError};
use super::wire::{self, MIN_NAME_LEN, Reader, name_len};
use crate::member::NodeName;
pub use flags::{StateSummary, StateWant};

/// Longest state key, in bytes of UTF-8.
pub const MAX_STATE_KEY_LEN: usize = 128;
/// Largest state value the codec carries (a node's configured limit is at most this).
pub const MAX_STATE_VALUE_LEN: usize = 16 * 1024;
/// Most owners in one digest, and most owners' deltas in one [`StateSync`].
pub const MAX_STATE_OWNERS: usize = 100_000;
/// Most entries in one owner's [`StateDeltas`].
pub const MAX_STATE_ENTRIES: usize = 65_536;
/// The datagram message type code of [`super::Message::State`].
pub const STATE_MESSAGE_TYPE: u8 = 11;
/// Bytes of a [`StateSync`] body with nothing in it: flags and two counts.
pub const STATE_SYNC_OVERHEAD: usize = 1 + 4 + 4;

/// Bytes a summary adds to a body: fingerprint and salt.
pub const STATE_SUMMARY_LEN: usize = 8 + 4;

/// Smallest encoded digest entry (one-byte name).
const MIN_DIGEST_LEN: usize = MIN_NAME_LEN + 3 * 8;
/// Smallest encoded deltas header (one-byte name, no entries).
const MIN_DELTAS_LEN: usize = MIN_NAME_LEN + 5 * 8 + 4;
/// Smallest encoded entry (one-byte key, deleted).
const MIN_ENTRY_LEN: usize = 2 + 8 + 1;

/// A state key: 1 to [`MAX_STATE_KEY_LEN`] bytes of UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateKey(Arc<str>);

impl StateKey {
    /// The key, or `None` if it is empty or longer than [`MAX_STATE_KEY_LEN`] bytes.
    pub fn new(key: &str) -> Option<StateKey> {
        (!key.is_empty() && key.len() <= MAX_STATE_KEY_LEN).then(|| StateKey(Arc::from(key)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One leg of a Scuttlebutt exchange: the sender's digest, deltas for the receiver, and
/// what the receiver should answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSync {
    /// What the receiver should answer.
    pub want: StateWant,
    /// `None`: `digest` is the sender's whole digest. `Some`: `digest` lists only some
    /// owners, and the sender's whole digest is claimed to be the receiver's own with
    /// those entries put in, as the summary's fingerprint lets the receiver check.
    pub summary: Option<StateSummary>,
    /// The sender's digest: every owner it holds state of (empty when not needed), or
    /// with a summary the owners it lists (an entry of generation 0: none held).
    pub digest: Vec<StateDigest>,
    /// Per owner, the entries the receiver lacks, in increasing version order.
    pub deltas: Vec<StateDeltas>,
}

/// What the sender holds of one owner's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDigest {
    /// The owner.
    pub owner: NodeName,
    /// The owner's generation (a restart starts a newer one).
    pub generation: u64,
    /// Every write of this generation up to this version is reflected.
    pub max_version: u64,
    /// Deletions up to this version were garbage-collected.
    pub watermark: u64,
}

/// The sender's entries of one owner with versions in `(from, to]`, all of them, in
/// increasing version order: after applying them a receiver that held `from` holds `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDeltas {
    /// The owner.
    pub owner: NodeName,
    /// The owner's generation.
    pub generation: u64,
    /// The sender's garbage-collection watermark for the owner.
    pub watermark: u64,
    /// The sender's highest version for the owner (`to < max_version`: more follows).
    pub max_version: u64,
    /// Versions above this one are included (0: everything, a full copy).
    pub from: u64,
    /// Versions up to this one are included.
    pub to: u64,
    /// The entries, versions strictly increasing within `(from, to]`.
    pub entries: Vec<StateEntry>,
}

/// One key's latest write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// The key.
    pub key: StateKey,
    /// The owner's version stamped on the write.
    pub version: u64,
    /// The value, or `None` for a deletion (a tombstone).
    pub value: Option<Arc<[u8]>>,
}

impl StateSync {
    /// Exact bytes of the body (what follows the message type byte or the frame kind).
    pub fn body_len(&self) -> usize {
        STATE_SYNC_OVERHEAD
            + self.summary.map_or(0, |_| STATE_SUMMARY_LEN)
            + self
                .digest
                .iter()
                .map(StateDigest::encoded_len)
                .sum::<usize>()
            + self
                .deltas
                .iter()
                .map(StateDeltas::encoded_len)
                .sum::<usize>()
    }

    /// Checks counts and value sizes against the codec's limits.
    pub fn check_limits(&self) -> Result<(), EncodeError> {
        let too_large = |what, len, max| Err(EncodeError::FieldTooLarge { what, len, max });
        if self.digest.len() > MAX_STATE_OWNERS {
            return too_large("state digest", self.digest.len(), MAX_STATE_OWNERS);
        }
        if self.deltas.len() > MAX_STATE_OWNERS {
            return too_large("state deltas", self.deltas.len(), MAX_STATE_OWNERS);
        }
        for d in &self.deltas {
            if d.entries.len() > MAX_STATE_ENTRIES {
                return too_large("state entries", d.entries.len(), MAX_STATE_ENTRIES);
            }
            for e in &d.entries {
                let len = e.value.as_ref().map_or(0, |v| v.len());
                if len > MAX_STATE_VALUE_LEN {
                    return too_large("state value", len, MAX_STATE_VALUE_LEN);
                }
            }
        }
        Ok(())
    }

    /// Appends the body. Infallible: callers check [`StateSync::check_limits`] first.
    pub(crate) fn encode_body(&self, buf: &mut Vec<u8>) {
        wire::put_u8(buf, flags::encode(self.want, self.summary));
        if let Some(s) = self.summary {
            wire::put_u64(buf, s.fingerprint);
            wire::put_u32(buf, s.salt);
        }
        wire::put_u32(buf, u32::try_from(self.digest.len()).unwrap_or(u32::MAX));
        for d in &self.digest {
            wire::put_name(buf, &d.owner);
            for x in [d.generation, d.max_version, d.watermark] {
                wire::put_u64(buf, x);
            }
        }
        wire::put_u32(buf, u32::try_from(self.deltas.len()).unwrap_or(u32::MAX));
        for d in &self.deltas {
            wire::put_name(buf, &d.owner);
            for x in [d.generation, d.watermark, d.max_version, d.from, d.to] {
                wire::put_u64(buf, x);
            }
            wire::put_u32(buf, u32::try_from(d.entries.len()).unwrap_or(u32::MAX));
            for e in &d.entries {
                let key = e.key.as_str().as_bytes();
                wire::put_u8(buf, u8::try_from(key.len()).unwrap_or(u8::MAX));
                buf.extend_from_slice(key);
                wire::put_u64(buf, e.version);
                match &e.value {
                    None => wire::put_u8(buf, 0),
                    Some(v) => {
                        wire::put_u8(buf, 1);
                        wire::put_bytes16(buf, v);
                    }
                }
            }
        }
    }

    /// Reads a body; the caller checks that nothing follows.
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<StateSync, DecodeError> {
        let (want, summarized) = flags::decode(r.u8()?)?;
        let summary = match summarized {
            Some(retry) => Some(StateSummary {
                fingerprint: r.u64()?,
                salt: r.u32()?,
                retry,
            }),
            None => None,
        };
        let count = bounded_count(r, "state digest", MAX_STATE_OWNERS, MIN_DIGEST_LEN)?;
        let mut digest = Vec::with_capacity(count);
        for _ in 0..count {
            digest.push(StateDigest {
                owner: r.name()?,
                generation: r.u64()?,
                max_version: r.u64()?,
                watermark: r.u64()?,
            });
        }
        let count = bounded_count(r, "state deltas", MAX_STATE_OWNERS, MIN_DELTAS_LEN)?;
        let mut deltas = Vec::with_capacity(count);
        for _ in 0..count {
            deltas.push(decode_deltas(r)?);
        }
        Ok(StateSync {
            want,
            summary,
            digest,
            deltas,
        })
    }
}

impl StateDigest {
    /// Exact bytes of this digest entry.
    pub fn encoded_len(&self) -> usize {
        name_len(&self.owner) + 3 * 8
    }
}

impl StateDeltas {
    /// Exact bytes of these deltas with no entry (see [`StateDeltas::encoded_len`]).
    pub fn header_len(owner: &NodeName) -> usize {
        name_len(owner) + 5 * 8 + 4
    }

    /// Exact bytes of these deltas, entries included.
    pub fn encoded_len(&self) -> usize {
        StateDeltas::header_len(&self.owner)
            + self
                .entries
                .iter()
                .map(StateEntry::encoded_len)
                .sum::<usize>()
    }
}

impl StateEntry {
    /// Exact bytes of this entry.
    pub fn encoded_len(&self) -> usize {
        1 + self.key.as_str().len() + 8 + 1 + self.value.as_ref().map_or(0, |v| 2 + v.len())
    }
}

/// Reads a `u32` count, refusing one over `max` or one that cannot fit in what is left
/// (so nothing is allocated from an untrusted count).
fn bounded_count(
    r: &mut Reader<'_>,
    what: &'static str,
    max: usize,
    min_len: usize,
) -> Result<usize, DecodeError> {
    let count = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    if count > max {
        return Err(DecodeError::LengthOutOfRange {
            what,
            len: count,
            max,
        });
    }
    if count.saturating_mul(min_len) > r.remaining() {
        return Err(DecodeError::Truncated);
    }
    Ok(count)
}

/// Reads one owner's deltas.
fn decode_deltas(r: &mut Reader<'_>) -> Result<StateDeltas, DecodeError> {
    let owner = r.name()?;
    let [generation, watermark, max_version, from, to] =
        [r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?];
    let count = bounded_count(r, "state entries", MAX_STATE_ENTRIES, MIN_ENTRY_LEN)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_STATE_KEY_LEN {
            return Err(DecodeError::LengthOutOfRange {
                what: "state key",
                len,
                max: MAX_STATE_KEY_LEN,
            });
        }
        let text = std::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::InvalidUtf8)?;
        let key = StateKey(Arc::from(text));
        let version = r.u64()?;
        let value = match r.u8()? {
            0 => None,
            1 => Some(r.bytes16("state value", MAX_STATE_VALUE_LEN)?),
            other => return Err(DecodeError::InvalidBool(other)),
        };
        entries.push(StateEntry {
            key,
            version,
            value,
        });
    }
    Ok(StateDeltas {
        owner,
        generation,
        watermark,
        max_version,
        from,
        to,
        entries,
    })
}

mod flags;
#[cfg(test)]
mod tests;
