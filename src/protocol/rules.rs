//! SWIM's precedence rules (with suspicion), in one place.
//!
//! An update about a member carries a state and an incarnation. Whether it overrides what
//! we hold:
//!
//! | we hold ↓ / update → | alive(i)  | suspect(i) | dead(i)  | left(i)  |
//! |----------------------|-----------|------------|----------|----------|
//! | alive(c)             | i > c     | i ≥ c      | i ≥ c    | i ≥ c    |
//! | suspect(c)           | i > c     | i > c      | i ≥ c    | i ≥ c    |
//! | dead(c)              | i > c     | never      | never    | i ≥ c    |
//! | left(c)              | i > c     | never      | never    | never    |
//!
//! So: a higher-incarnation `alive` refutes a suspicion and re-admits a dead or departed
//! member (a restart, or a false death); `suspect` overrides `alive` of the same
//! incarnation; `dead` and `left` override both; a `left` from the member itself also
//! overrides a `dead` at the same incarnation, so a member that left is reported as left.
//! Anything else is stale and ignored.
//!
//! **Plausible incarnations.** Incarnations come from the wire, and without a bound one
//! forged `dead(X, u64::MAX)` would win over everything and leave X nothing higher to
//! refute with. So before the table above is consulted, a claim must be plausible
//! ([`plausible`]):
//!
//! - no incarnation above [`MAX_INCARNATION`] (2⁴⁸) is ever taken in, about anyone, this
//!   node included; a member raises its incarnation by one per refutation or metadata
//!   change, so an honest one never gets there (2⁴⁸ refutations at 1,000 a second take
//!   nine thousand years), and `incarnation + 1` never overflows;
//! - gossip (any datagram, and full-state exchanges other nodes opened) may raise an
//!   incarnation held here by at most [`MAX_GOSSIP_JUMP`] (1,024) at once: one forged
//!   claim moves a member up by no more than that, so a stranger needs 2³⁸ accepted claims
//!   to push anyone to the ceiling;
//! - a full-state exchange this node opened over TCP, to the address it chose (a join,
//!   the periodic push-pull), may raise it any amount up to the ceiling: an off-path
//!   stranger cannot answer a TCP connection it does not see. This is how a restarted
//!   member (back at incarnation 0) learns the incarnation the cluster holds for it, and
//!   refutes its old death with the next one;
//! - the node's own timers (a suspicion expired) are trusted.
//!
//! - a suspicion, death or leave at the ceiling itself is refused from anyone else, and so
//!   is any claim about this node at the ceiling: each would need a refutation above it;
//!   only an `alive` (a member's refutation) may reach 2⁴⁸;
//! - except this node's own probes: a member held at the ceiling that does not answer is
//!   still suspected, and declared dead when the suspicion runs out (`Source::Local`).
//!
//! So a member can always refute any claim about itself that anyone took in: the claim is
//! below 2⁴⁸, and the refutation, one above, at most 2⁴⁸. The residue is an `alive` at
//! exactly 2⁴⁸ — forged by a member answering an exchange, say, with a wrong address —
//! which nothing can outbid. A holder's own probes undo it: pings to the wrong address go
//! unanswered, the record is suspected, declared dead and forgotten after `reap_after`,
//! and the member is then taken in afresh from its own address (found by the simulator's
//! adversary: a holder that could not suspect such a record kept it for good). Refused
//! claims are counted in `Stats::refused_incarnations`.
//!
//! **A refutation reaches a holder that fell behind** ([`admitted`]). A member refutes
//! each claim about itself one above the claim, so a member under a stream of forged
//! accusations climbs by up to a jump per claim, and a holder that missed some of those
//! refutations can hold it more than a jump below its own incarnation. Refusing the next
//! refutation outright would leave that holder with a stale record for good (found by the
//! simulator's adversary: a forged `left` then a forged `alive` at a wrong address, then
//! a death at that holder the member could never refute there). So gossip `alive` beyond
//! the jump is not refused but taken *at* `held + MAX_GOSSIP_JUMP`: it still overrides the
//! holder's suspicion or death, and a forged one moves a member no further than a forged
//! `alive` within the jump already could. Suspicions, deaths and departures beyond the
//! jump are refused, as before — except about this node itself
//! ([`admitted_about_self`]).
//!
//! **This node outbids a holder that ran ahead of it.** A holder can hold this node far
//! above its own incarnation (forged `alive`s taken at the jump, one after another). That
//! holder's suspicion, at its incarnation, is then beyond the jump for this node, and
//! refusing it would leave the suspicion unrefuted: the holder declares this node dead
//! (found by the simulator's adversary, with the record at the holder's own address). So
//! a claim about this node beyond the jump is taken *at* the jump, and refuted one above:
//! each retransmission of the suspicion raises this node by up to a jump until its
//! refutation outbids the holder. Such jumps are taken at most once a second (bursts of
//! four; `Membership` counts the rest as refused): otherwise a blind stranger, who cannot
//! know this node's incarnation and so cannot aim within the jump, could raise it a jump
//! per datagram by sending claims far ahead (found by `tests/node_flood.rs`: 100,000
//! refutations in 30 s).

use crate::member::{Incarnation, MemberState};

/// No incarnation above this is taken in (see the module docs).
pub(crate) const MAX_INCARNATION: Incarnation = 1 << 48;

/// The most gossip may raise an incarnation held here at once (see the module docs).
pub(crate) const MAX_GOSSIP_JUMP: Incarnation = 1 << 10;

/// Where an update came from, which decides how far it may raise an incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// This node's own decision (a suspicion timer that expired).
    Local,
    /// The answer to a full-state exchange this node opened, over TCP, to an address it
    /// chose.
    Exchange,
    /// A datagram from anyone, or a full-state exchange another node opened.
    Gossip,
}

/// Whether a claim of incarnation `i` about a member held here at `held` (`None`: not
/// known) is plausible coming from `source` (see the module docs).
pub(crate) fn plausible(held: Option<Incarnation>, i: Incarnation, source: Source) -> bool {
    if i > MAX_INCARNATION {
        return false;
    }
    match (source, held) {
        (Source::Gossip, Some(c)) => i <= c.saturating_add(MAX_GOSSIP_JUMP),
        _ => true,
    }
}

/// The incarnation a claim `(state, i)` about a member held at `held` is taken at when it
/// comes from `source`, or `None` if it is refused: `i` itself when [`plausible`], and a
/// gossip `alive` beyond the jump at `held + MAX_GOSSIP_JUMP` (see the module docs).
pub(crate) fn admitted(
    held: Option<Incarnation>,
    state: MemberState,
    i: Incarnation,
    source: Source,
) -> Option<Incarnation> {
    if state != MemberState::Alive && i >= MAX_INCARNATION && source != Source::Local {
        // Its member would have to refute above the ceiling, where nobody takes it in.
        return None;
    }
    if plausible(held, i, source) {
        return Some(i);
    }
    match (state, source, held) {
        (MemberState::Alive, Source::Gossip, Some(c)) if i <= MAX_INCARNATION => {
            Some(c.saturating_add(MAX_GOSSIP_JUMP).min(MAX_INCARNATION))
        }
        _ => None,
    }
}

/// The incarnation a claim `(state, i)` about this node, which holds `own`, is taken at
/// (and refuted one above) when it comes from `source`, or `None` if it is refused:
/// nothing at the ceiling (no refutation could outbid it), `i` when [`plausible`], and
/// anything beyond the jump at `own + MAX_GOSSIP_JUMP` (see the module docs).
pub(crate) fn admitted_about_self(
    own: Incarnation,
    i: Incarnation,
    source: Source,
) -> Option<Incarnation> {
    if i >= MAX_INCARNATION {
        return None;
    }
    if plausible(Some(own), i, source) {
        return Some(i);
    }
    Some(own.saturating_add(MAX_GOSSIP_JUMP).min(MAX_INCARNATION - 1))
}

/// Whether an update `(incoming, i)` overrides the record `(held, c)`.
pub(crate) fn overrides(
    held: MemberState,
    c: Incarnation,
    incoming: MemberState,
    i: Incarnation,
) -> bool {
    use MemberState::{Alive, Dead, Left, Suspect};
    match (held, incoming) {
        (_, Alive) => i > c,
        (Alive, Suspect) => i >= c,
        (Suspect, Suspect) => i > c,
        (Alive | Suspect, Dead | Left) => i >= c,
        (Dead, Left) => i >= c,
        (Dead | Left, Suspect | Dead) | (Left, Left) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberState::{Alive, Dead, Left, Suspect};

    /// The table in the module docs, spelled out: for each pair, the incarnation relations
    /// (lower, equal, higher) for which the update wins.
    #[test]
    fn every_pair_and_incarnation_relation() {
        let table: [(MemberState, MemberState, [bool; 3]); 16] = [
            (Alive, Alive, [false, false, true]),
            (Alive, Suspect, [false, true, true]),
            (Alive, Dead, [false, true, true]),
            (Alive, Left, [false, true, true]),
            (Suspect, Alive, [false, false, true]),
            (Suspect, Suspect, [false, false, true]),
            (Suspect, Dead, [false, true, true]),
            (Suspect, Left, [false, true, true]),
            (Dead, Alive, [false, false, true]),
            (Dead, Suspect, [false, false, false]),
            (Dead, Dead, [false, false, false]),
            (Dead, Left, [false, true, true]),
            (Left, Alive, [false, false, true]),
            (Left, Suspect, [false, false, false]),
            (Left, Dead, [false, false, false]),
            (Left, Left, [false, false, false]),
        ];
        for (held, incoming, expected) in table {
            for (k, i) in [4u64, 5, 6].into_iter().enumerate() {
                assert_eq!(
                    overrides(held, 5, incoming, i),
                    expected[k],
                    "held {held}(5), update {incoming}({i})"
                );
            }
        }
    }

    #[test]
    fn implausible_incarnations_are_refused_at_every_edge() {
        use Source::{Exchange, Gossip, Local};
        for source in [Local, Exchange, Gossip] {
            assert!(plausible(None, 0, source));
            assert!(plausible(None, MAX_INCARNATION, source));
            for held in [
                None,
                Some(0),
                Some(1),
                Some(MAX_INCARNATION),
                Some(u64::MAX),
            ] {
                for i in [MAX_INCARNATION + 1, u64::MAX - 1, u64::MAX] {
                    assert!(
                        !plausible(held, i, source),
                        "{held:?} -> {i} via {source:?}"
                    );
                }
            }
        }
        assert!(plausible(Some(5), 5 + MAX_GOSSIP_JUMP, Gossip));
        assert!(!plausible(Some(5), 6 + MAX_GOSSIP_JUMP, Gossip));
        assert!(plausible(Some(5), 6 + MAX_GOSSIP_JUMP, Exchange));
        assert!(plausible(Some(0), MAX_INCARNATION, Exchange));
        // Near the top, the jump saturates rather than wrapping.
        assert!(plausible(Some(u64::MAX), MAX_INCARNATION, Gossip));
        assert!(plausible(
            Some(MAX_INCARNATION - 1),
            MAX_INCARNATION,
            Gossip
        ));
    }

    #[test]
    fn only_an_alive_may_reach_the_ceiling_but_own_probes_still_suspect() {
        use MemberState::{Alive, Dead, Left, Suspect};
        for source in [Source::Local, Source::Exchange, Source::Gossip] {
            let held = Some(MAX_INCARNATION - 1);
            assert_eq!(
                admitted(held, Alive, MAX_INCARNATION, source),
                Some(MAX_INCARNATION)
            );
            for state in [Suspect, Dead, Left] {
                let own_probes = source == Source::Local;
                let at_ceiling = own_probes.then_some(MAX_INCARNATION);
                assert_eq!(admitted(held, state, MAX_INCARNATION, source), at_ceiling);
                assert_eq!(
                    admitted(held, state, MAX_INCARNATION - 1, source),
                    Some(MAX_INCARNATION - 1),
                    "{state} below the ceiling, refutable at it"
                );
            }
        }
    }

    #[test]
    fn a_claim_about_this_node_below_the_ceiling_is_taken_at_most_a_jump_ahead() {
        use Source::{Exchange, Gossip, Local};
        assert_eq!(admitted_about_self(5, 7, Gossip), Some(7));
        let far = 5 + MAX_GOSSIP_JUMP + 10_000;
        assert_eq!(
            admitted_about_self(5, far, Gossip),
            Some(5 + MAX_GOSSIP_JUMP)
        );
        assert_eq!(admitted_about_self(5, far, Exchange), Some(far));
        for source in [Local, Exchange, Gossip] {
            assert_eq!(admitted_about_self(5, MAX_INCARNATION, source), None);
            assert_eq!(admitted_about_self(5, u64::MAX, source), None);
            // Refutable one above, within the ceiling, even from near it.
            let near = admitted_about_self(MAX_INCARNATION - 2, MAX_INCARNATION - 1, source);
            assert_eq!(near, Some(MAX_INCARNATION - 1));
        }
        let top = admitted_about_self(MAX_INCARNATION - 5, MAX_INCARNATION - 1, Gossip);
        assert_eq!(top, Some(MAX_INCARNATION - 1));
        assert_eq!(admitted_about_self(u64::MAX, 3, Gossip), Some(3));
    }

    #[test]
    fn an_alive_beyond_the_jump_is_taken_at_the_jump_and_nothing_else_is() {
        use MemberState::{Alive, Dead, Left, Suspect};
        use Source::{Exchange, Gossip};
        let far = 5 + MAX_GOSSIP_JUMP + 10_000;
        assert_eq!(
            admitted(Some(5), Alive, far, Gossip),
            Some(5 + MAX_GOSSIP_JUMP)
        );
        assert_eq!(admitted(Some(5), Alive, 7, Gossip), Some(7));
        assert_eq!(admitted(Some(5), Alive, far, Exchange), Some(far));
        for state in [Suspect, Dead, Left] {
            assert_eq!(admitted(Some(5), state, far, Gossip), None, "{state}");
        }
        // Above the ceiling nothing is taken, and the jump never passes it.
        assert_eq!(admitted(Some(5), Alive, MAX_INCARNATION + 1, Gossip), None);
        let low = MAX_INCARNATION - 2 * MAX_GOSSIP_JUMP;
        assert_eq!(
            admitted(Some(low), Alive, MAX_INCARNATION, Gossip),
            Some(low + MAX_GOSSIP_JUMP)
        );
        assert_eq!(
            admitted(Some(MAX_INCARNATION - 3), Alive, MAX_INCARNATION, Gossip),
            Some(MAX_INCARNATION)
        );
        assert_eq!(admitted(None, Alive, far, Gossip), Some(far));
        // The clamped alive still overrides the stale record it refutes.
        let taken = admitted(Some(5), Alive, far, Gossip).unwrap_or_default();
        assert!(overrides(Dead, 5, Alive, taken));
        assert!(overrides(Suspect, 5, Alive, taken));
    }

    #[test]
    fn incarnation_zero_and_max_edges() {
        assert!(overrides(Alive, 0, Suspect, 0));
        assert!(!overrides(Alive, u64::MAX, Alive, u64::MAX));
        assert!(overrides(Dead, u64::MAX - 1, Alive, u64::MAX));
    }
}
