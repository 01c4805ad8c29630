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

use crate::member::{Incarnation, MemberState};

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
    fn incarnation_zero_and_max_edges() {
        assert!(overrides(Alive, 0, Suspect, 0));
        assert!(!overrides(Alive, u64::MAX, Alive, u64::MAX));
        assert!(overrides(Dead, u64::MAX - 1, Alive, u64::MAX));
    }
}
