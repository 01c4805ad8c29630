//! Replay protection for opened packets: a captured datagram or frame, sent again later,
//! is refused.
//!
//! Every sealed packet carries, authenticated, its sender's nonce prefix (8 random bytes
//! drawn when the sender starts), a counter under that prefix, and the sender's wall-clock
//! time. A packet is taken only if
//!
//! 1. its time is within `max_skew` of this node's clock (else `Stale`), and
//! 2. its counter under its prefix has not been taken before: per prefix, the highest
//!    counter taken and a bitmap of the [`WINDOW`] below it, as IPsec and DTLS do
//!    (RFC 4303 §3.4.3); a counter below the window is refused too (`Replayed`).
//!
//! A prefix is forgotten once every packet it sealed is stale anyway (`max_skew` after
//! the newest one taken), so the table holds about one entry per sender active in the
//! last `max_skew`. Only authenticated packets make entries, so only key holders can fill
//! it; when it is full, packets under new prefixes are refused (`TooManySenders`) until
//! entries expire, and senders already known are unaffected.
//!
//! Forgetting is judged by this node's clock, which can step back (the runtime reads the
//! system clock): anything sealed more than `max_skew` before the latest sweep is stale
//! for good, so a step back never lets a forgotten sender's packets in again. After a
//! step back of more than the skew, peers stepped back alike are refused until the clock
//! has caught up again.

use std::collections::HashMap;

use super::envelope::NONCE_PREFIX_LEN;

/// Counters below the highest one taken that are still told apart (a packet that falls
/// further behind is refused): room for a sender's datagrams to other members between
/// two of its datagrams to this node, reordered.
pub(crate) const WINDOW: u32 = 256;

/// Why the replay guard refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Sealed further from this node's clock than `max_skew`.
    Stale,
    /// Its counter was taken before, or is below the window.
    Replayed,
    /// A new sender, and the table of senders is full.
    TooManySenders,
}

/// What is remembered of one sender prefix.
#[derive(Debug)]
struct Sender {
    /// The newest sender time taken (ms since the Unix epoch).
    newest_ms: u64,
    /// The highest counter taken.
    highest: u32,
    /// Bit `i` set: counter `highest - i` was taken.
    seen: [u64; (WINDOW / 64) as usize],
}

/// The replay guard of one node (see the module docs).
#[derive(Debug)]
pub(crate) struct ReplayGuard {
    max_skew_ms: u64,
    max_senders: usize,
    senders: HashMap<[u8; NONCE_PREFIX_LEN], Sender>,
    /// When to forget expired senders next (ms since the Unix epoch).
    next_sweep_ms: u64,
    /// The latest clock reading at which senders were forgotten: anything sealed more
    /// than the skew before it may come from a forgotten sender, so it is stale even if
    /// this node's clock has since stepped back.
    swept_at_ms: u64,
}

impl ReplayGuard {
    /// A guard taking packets within `max_skew_ms` of this node's clock, from at most
    /// `max_senders` prefixes at once.
    pub(crate) fn new(max_skew_ms: u64, max_senders: usize) -> ReplayGuard {
        ReplayGuard {
            max_skew_ms,
            max_senders,
            senders: HashMap::new(),
            next_sweep_ms: 0,
            swept_at_ms: 0,
        }
    }

    /// Senders remembered now.
    pub(crate) fn len(&self) -> usize {
        self.senders.len()
    }

    /// Takes the authenticated packet `(prefix, counter)` sealed at `sent_ms`, at `now_ms`
    /// on this node's clock, or says why not. Only a packet taken changes the guard.
    pub(crate) fn accept(
        &mut self,
        prefix: [u8; NONCE_PREFIX_LEN],
        counter: u32,
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let before_sweep = sent_ms.saturating_add(self.max_skew_ms) < self.swept_at_ms;
        if sent_ms.abs_diff(now_ms) > self.max_skew_ms || before_sweep {
            return Err(Refusal::Stale);
        }
        if now_ms >= self.next_sweep_ms || self.senders.len() >= self.max_senders {
            self.forget_expired(now_ms);
        }
        let known = self.senders.len();
        match self.senders.get_mut(&prefix) {
            Some(sender) => sender.take(counter, sent_ms),
            None if known >= self.max_senders => Err(Refusal::TooManySenders),
            None => {
                let mut seen = [0; (WINDOW / 64) as usize];
                seen[0] = 1;
                let sender = Sender {
                    newest_ms: sent_ms,
                    highest: counter,
                    seen,
                };
                self.senders.insert(prefix, sender);
                Ok(())
            }
        }
    }

    /// Forgets every sender whose packets are all stale by now.
    fn forget_expired(&mut self, now_ms: u64) {
        let skew = self.max_skew_ms;
        self.senders
            .retain(|_, s| s.newest_ms.saturating_add(skew) >= now_ms);
        self.swept_at_ms = self.swept_at_ms.max(now_ms);
        // Sweeping is O(senders); once a second bounds its cost.
        self.next_sweep_ms = now_ms.saturating_add(1_000);
    }
}

impl Sender {
    fn take(&mut self, counter: u32, sent_ms: u64) -> Result<(), Refusal> {
        if counter > self.highest {
            shift(&mut self.seen, counter - self.highest);
            self.seen[0] |= 1;
            self.highest = counter;
        } else {
            let behind = self.highest - counter;
            if behind >= WINDOW {
                return Err(Refusal::Replayed);
            }
            let (word, bit) = ((behind / 64) as usize, behind % 64);
            if self.seen[word] & (1 << bit) != 0 {
                return Err(Refusal::Replayed);
            }
            self.seen[word] |= 1 << bit;
        }
        self.newest_ms = self.newest_ms.max(sent_ms);
        Ok(())
    }
}

/// Moves every bit of the window `by` places towards older counters.
fn shift(seen: &mut [u64], by: u32) {
    if by >= WINDOW {
        seen.fill(0);
        return;
    }
    let (words, bits) = ((by / 64) as usize, by % 64);
    for i in (0..seen.len()).rev() {
        let from = i.checked_sub(words);
        let high = from.map_or(0, |j| seen[j] << bits);
        let carry = match (from.and_then(|j| j.checked_sub(1)), bits) {
            (Some(k), 1..) => seen[k] >> (64 - bits),
            _ => 0,
        };
        seen[i] = high | carry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEW: u64 = 30_000;
    const T: u64 = 1_800_000_000_000;

    fn guard() -> ReplayGuard {
        ReplayGuard::new(SKEW, 4)
    }

    #[test]
    fn each_counter_is_taken_once_in_any_order_within_the_window() {
        let mut g = guard();
        let p = [1; NONCE_PREFIX_LEN];
        let order = [5, 3, 300, 299, 100, 45, 46, 555, 300 + 64, 555 - 254];
        for c in order {
            assert_eq!(g.accept(p, c, T, T), Ok(()), "first {c}");
        }
        for c in order {
            assert_eq!(g.accept(p, c, T, T), Err(Refusal::Replayed), "again {c}");
        }
        // Below the window: refused though never seen.
        assert_eq!(g.accept(p, 555 - 257, T, T), Err(Refusal::Replayed));
        assert_eq!(g.accept(p, 554, T, T), Ok(()));
        // A jump past the whole window forgets it; the old highest is below it now.
        assert_eq!(g.accept(p, 5_000, T, T), Ok(()));
        assert_eq!(g.accept(p, 555, T, T), Err(Refusal::Replayed));
        assert_eq!(g.accept(p, u32::MAX, T, T), Ok(()));
        assert_eq!(g.accept(p, u32::MAX, T, T), Err(Refusal::Replayed));
        assert_eq!(g.accept(p, u32::MAX - 1, T, T), Ok(()));
    }

    #[test]
    fn the_bitmap_shift_matches_a_set_of_counters() {
        // Against a plain model: every counter taken within the window is remembered.
        let mut g = guard();
        let p = [2; NONCE_PREFIX_LEN];
        let mut taken = std::collections::BTreeSet::new();
        let mut x: u32 = 7;
        for _ in 0..5_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let c = 10_000 + (x >> 8) % 3_000;
            let highest = taken.last().copied().unwrap_or(0).max(c);
            let expect = if taken.contains(&c) || highest - c >= WINDOW {
                Err(Refusal::Replayed)
            } else {
                taken.insert(c);
                Ok(())
            };
            assert_eq!(g.accept(p, c, T, T), expect, "counter {c}");
        }
    }

    #[test]
    fn stale_packets_are_refused_and_expired_senders_forgotten() {
        let mut g = guard();
        let p = [3; NONCE_PREFIX_LEN];
        assert_eq!(g.accept(p, 1, T - SKEW - 1, T), Err(Refusal::Stale));
        assert_eq!(g.accept(p, 1, T + SKEW + 1, T), Err(Refusal::Stale));
        assert_eq!(g.len(), 0, "refused packets leave nothing");
        assert_eq!(g.accept(p, 1, T + SKEW, T), Ok(()));
        assert_eq!(g.accept(p, 1, T + SKEW, T + 1), Err(Refusal::Replayed));
        // Once its newest packet is stale, the prefix is forgotten: its packets are all
        // refused as stale.
        let later = T + 2 * SKEW + 1_001;
        assert_eq!(g.accept([4; 8], 1, later, later), Ok(()));
        assert_eq!(g.len(), 1);
        assert_eq!(g.accept(p, 1, T + SKEW, later), Err(Refusal::Stale));
    }

    #[test]
    fn a_full_table_refuses_new_senders_only() {
        let mut g = guard();
        for n in 0..4 {
            assert_eq!(g.accept([n; 8], 0, T, T), Ok(()));
        }
        assert_eq!(g.accept([9; 8], 0, T, T), Err(Refusal::TooManySenders));
        assert_eq!(g.accept([0; 8], 1, T, T), Ok(()), "known senders go on");
        let later = T + 2 * SKEW;
        assert_eq!(g.accept([9; 8], 0, later, later), Ok(()), "after expiry");
    }

    /// Found by reading the guard (fuzz session of issue 12): a packet taken at T, its
    /// sender forgotten by a sweep at T + skew, and the clock stepped back to T + skew −
    /// 1 s: the same packet must still be refused.
    #[test]
    fn a_replay_stays_refused_after_the_clock_steps_back() {
        let mut g = guard();
        let (a, b) = ([1; NONCE_PREFIX_LEN], [2; NONCE_PREFIX_LEN]);
        assert_eq!(g.accept(a, 0, T, T), Ok(()));
        // Another sender's packet arrives past the skew: the sweep forgets `a`.
        let later = T + SKEW + 1;
        assert_eq!(g.accept(b, 0, later, later), Ok(()));
        assert_eq!(g.len(), 1);
        let stepped_back = T + SKEW - 1_000;
        assert_eq!(g.accept(a, 0, T, stepped_back), Err(Refusal::Stale));
        // What is sealed after the sweep's horizon is still taken.
        assert_eq!(g.accept(a, 1, stepped_back, stepped_back), Ok(()));
    }
}
