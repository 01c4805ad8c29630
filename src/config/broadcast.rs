//! How user broadcasts travel: rumor mongering, with or without feedback, and two
//! baselines that send directly.

use super::ConfigError;

/// How user broadcasts ([`crate::NodeHandle::broadcast`]) reach the other members.
///
/// Every mode delivers each broadcast at most once per node (ids are remembered for two
/// minutes, up to 65,536 of them) and never to its origin; all are best effort (no
/// acknowledgements, no retries beyond what the mode itself sends). They share the same
/// datagrams as membership gossip, and neither can starve the other: rumors get up to half
/// of every packet that also carries membership updates, and the baselines' own datagrams
/// carry pending membership updates in the room left after the broadcasts.
///
/// Cost per broadcast, for N members and fanout f:
///
/// | mode | copies sent in all | per node | rounds to reach all | all reached? |
/// |---|---|---|---|---|
/// | `Gossip` | ≈ N · limit | limit = `retransmit_mult · ⌈log10(N+1)⌉` | ≈ log_{1+f} N + (ln N)/f | with high probability |
/// | `Feedback` | fewer: a node stops after `known_limit` "already knew it" replies | ≤ limit | about the same | residue ≈ e^{−(k+1)} of members missed (Demers) |
/// | `PointToPoint` | N − 1 | origin N − 1, others 0 | 1 (direct) | if no datagram is lost |
/// | `EagerFlood` | N · (N − 1) | N − 1 | 1 | even with loss, unless every copy to a node is lost |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BroadcastMode {
    /// Push rumor mongering, the default: a node that learns a broadcast becomes
    /// infective and pushes it, each gossip round, to `fanout` random live members (and
    /// with its probes and acks), until it has sent it
    /// `retransmit_mult × ceil(log10(N + 1))` times (its limit). Load per node grows only
    /// with log N for a given broadcast rate; as every node sends `limit` copies to random
    /// members, a member is missed with probability about e^{−limit} (e^{−24} at
    /// N = 100 with the presets). Use it by default.
    Gossip {
        /// Members each infective broadcast is pushed to per gossip round (the presets
        /// use `gossip_nodes`: 3 on a LAN, 4 on a WAN).
        fanout: usize,
        /// Every broadcast is sent `retransmit_mult × ceil(log10(N + 1))` times by each
        /// node (each copy to one member counts once), then dropped (8 in the presets).
        retransmit_mult: u32,
    },
    /// Rumor mongering with feedback and a counter (Demers et al. 1987): as `Gossip`, but a
    /// node that receives a broadcast it already had answers the sender with a small
    /// `known` message, and a node stops pushing a broadcast once `known_limit` distinct
    /// members told it they already knew it. Cuts the copies sent late in an epidemic,
    /// when most contacts are useless, at the price of a residue: with k = `known_limit`
    /// the share of members never reached is about s = e^{−(k+1)(1−s)} (k = 3: 2 %,
    /// k = 5: 0.25 %, k = 8: 0.01 %). Use it when broadcasts are frequent and a rare miss
    /// is acceptable (or repaired by the application).
    Feedback {
        /// Members each infective broadcast is pushed to per gossip round.
        fanout: usize,
        /// Upper bound on copies, as in `Gossip`: a node never sends a broadcast more than
        /// `retransmit_mult × ceil(log10(N + 1))` times, feedback or not.
        retransmit_mult: u32,
        /// Distinct members that must say "already known" before a node stops pushing a
        /// broadcast (1..=[`BroadcastMode::MAX_KNOWN_LIMIT`]).
        known_limit: u32,
    },
    /// Baseline: the origin sends each broadcast directly to every live member, one
    /// datagram each (several broadcasts of the same moment share a datagram up to the
    /// MTU); receivers deliver and never forward. N − 1 copies in all, the fewest, and one
    /// hop, the fastest, but the origin is the hot spot (O(N) datagrams per broadcast) and
    /// a lost datagram is a member that never gets it. Use it for small clusters or to
    /// measure the others against.
    PointToPoint,
    /// Baseline: eager reliable broadcast. The origin, at broadcast, and every node, on
    /// first receipt, forward the broadcast once to every live member, then never again.
    /// Survives loss and the origin's crash right after sending, but costs O(N) datagrams
    /// per broadcast on every node, N · (N − 1) copies in all. Use it for small clusters
    /// that need reliability more than bandwidth.
    EagerFlood,
}

impl BroadcastMode {
    /// Largest accepted `known_limit`: beyond it the residue is negligible (below 1e-7)
    /// and feedback saves little.
    pub const MAX_KNOWN_LIMIT: u32 = 16;

    /// The presets' mode: push rumor mongering to `fanout` members, each broadcast sent
    /// `8 × ceil(log10(N + 1))` times.
    pub(crate) const fn gossip(fanout: usize) -> BroadcastMode {
        BroadcastMode::Gossip {
            fanout,
            retransmit_mult: 8,
        }
    }

    /// Rumor-mongering parameters, for the two modes that monger rumors.
    pub(crate) fn rumor(&self) -> Option<Rumor> {
        match *self {
            BroadcastMode::Gossip {
                fanout,
                retransmit_mult,
            } => Some(Rumor {
                fanout,
                retransmit_mult,
                known_limit: None,
            }),
            BroadcastMode::Feedback {
                fanout,
                retransmit_mult,
                known_limit,
            } => Some(Rumor {
                fanout,
                retransmit_mult,
                known_limit: Some(known_limit),
            }),
            BroadcastMode::PointToPoint | BroadcastMode::EagerFlood => None,
        }
    }

    /// Checks the mode's parameters.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let Some(rumor) = self.rumor() else {
            return Ok(());
        };
        if rumor.fanout == 0 {
            return Err(ConfigError::Zero("broadcast_mode fanout"));
        }
        if rumor.retransmit_mult == 0 {
            return Err(ConfigError::Zero("broadcast_mode retransmit_mult"));
        }
        match rumor.known_limit {
            Some(k) if !(1..=Self::MAX_KNOWN_LIMIT).contains(&k) => Err(ConfigError::KnownLimit(k)),
            _ => Ok(()),
        }
    }
}

/// What the rumor-mongering modes need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rumor {
    /// Members pushed to per gossip round.
    pub(crate) fanout: usize,
    /// Copies per node: `retransmit_mult × ceil(log10(N + 1))`.
    pub(crate) retransmit_mult: u32,
    /// Feedback: distinct "known" replies that end the pushing.
    pub(crate) known_limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let ok = [
            BroadcastMode::gossip(3),
            BroadcastMode::PointToPoint,
            BroadcastMode::EagerFlood,
            BroadcastMode::Feedback {
                fanout: 1,
                retransmit_mult: 1,
                known_limit: BroadcastMode::MAX_KNOWN_LIMIT,
            },
        ];
        for mode in ok {
            assert_eq!(mode.validate(), Ok(()), "{mode:?}");
        }
        let feedback = |fanout, retransmit_mult, known_limit| BroadcastMode::Feedback {
            fanout,
            retransmit_mult,
            known_limit,
        };
        assert_eq!(
            BroadcastMode::gossip(0).validate(),
            Err(ConfigError::Zero("broadcast_mode fanout"))
        );
        assert_eq!(
            feedback(3, 0, 2).validate(),
            Err(ConfigError::Zero("broadcast_mode retransmit_mult"))
        );
        assert_eq!(
            feedback(3, 8, 0).validate(),
            Err(ConfigError::KnownLimit(0))
        );
        assert_eq!(
            feedback(3, 8, 17).validate(),
            Err(ConfigError::KnownLimit(17))
        );
    }
}
