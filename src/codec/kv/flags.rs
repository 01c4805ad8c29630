//! The flags byte that opens a [`StateSync`](super::StateSync) body: what the receiver
//! should answer, and whether the digest is told by a summary (see `super` for the layout).

use super::DecodeError;

/// Flag bit: the leg's summary is a retry.
const RETRY_BIT: u8 = 1 << 6;
/// Flag bit: the leg carries a summary (its fingerprint and salt follow the flags).
const SUMMARY_BIT: u8 = 1 << 7;

/// What the receiver of a [`StateSync`] should answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateWant {
    /// Nothing: the exchange ends here.
    Nothing,
    /// The deltas the sender lacks, judged by the sender's digest.
    Deltas,
    /// The deltas the sender lacks and the receiver's digest (push-pull's first leg).
    DeltasAndDigest,
    /// The receiver's digest, asking for the deltas it lacks (push's first leg).
    Digest,
}

impl StateWant {
    fn code(self) -> u8 {
        match self {
            StateWant::Nothing => 0,
            StateWant::Deltas => 1,
            StateWant::DeltasAndDigest => 2,
            StateWant::Digest => 3,
        }
    }

    fn from_code(code: u8) -> Option<StateWant> {
        [
            StateWant::Nothing,
            StateWant::Deltas,
            StateWant::DeltasAndDigest,
            StateWant::Digest,
        ]
        .get(usize::from(code))
        .copied()
    }
}

/// A digest told by difference: a fingerprint of the sender's whole digest (see
/// `protocol::kv::summary`) instead of every entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSummary {
    /// Order-independent 64-bit hash of every entry of the sender's whole digest, under
    /// `salt`.
    pub fingerprint: u64,
    /// Drawn afresh for each leg, so that no set of forged entries chosen beforehand can
    /// cancel out in the sum.
    pub salt: u32,
    /// This exchange already had a leg whose summary did not explain the difference: one
    /// more that the receiver cannot explain is answered with a whole digest.
    pub retry: bool,
}

/// The flags byte of a leg asking `want` with `summary`.
pub(super) fn encode(want: StateWant, summary: Option<StateSummary>) -> u8 {
    match summary {
        None => want.code(),
        Some(s) if s.retry => want.code() | SUMMARY_BIT | RETRY_BIT,
        Some(_) => want.code() | SUMMARY_BIT,
    }
}

/// The want of a flags byte, and `Some(retry)` if a summary follows; unknown bits, or
/// retry without a summary, are refused.
pub(super) fn decode(flags: u8) -> Result<(StateWant, Option<bool>), DecodeError> {
    let known = flags & !(SUMMARY_BIT | RETRY_BIT) <= 3;
    let retry = flags & RETRY_BIT != 0;
    let summarized = flags & SUMMARY_BIT != 0;
    let want = StateWant::from_code(flags & 3)
        .filter(|_| known && (summarized || !retry))
        .ok_or(DecodeError::UnknownStateWant(flags))?;
    Ok((want, summarized.then_some(retry)))
}
