//! How many inbound requests the reactor hands on: token buckets, one per source address
//! and one for the node. Every request may make the node encode its whole state, so a
//! stranger that opens connections as fast as it can must not turn into as many encodes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::time::Instant;

use crate::rate::TokenBucket;

/// Most sources given a bucket of their own; beyond it, idle ones are forgotten.
const MAX_SOURCES: usize = 1024;

/// Token buckets for inbound requests: one per source address (a TCP source cannot be
/// spoofed, so one stranger's flood empties only its own) and one for the node.
pub(super) struct RequestRates {
    /// The node's bucket.
    all: TokenBucket,
    /// Each recent source's bucket.
    sources: HashMap<IpAddr, TokenBucket>,
    /// The first request's time, which the buckets count from.
    origin: Option<Instant>,
    /// The rate each source gets.
    per_source: u32,
}

impl RequestRates {
    /// Full buckets: `all` requests a second for the node, `per_source` for each source.
    pub(super) fn new(all: u32, per_source: u32) -> RequestRates {
        RequestRates {
            all: bucket(all),
            sources: HashMap::new(),
            origin: None,
            per_source,
        }
    }

    /// Takes a token from `from`'s bucket and the node's, if both have one.
    pub(super) fn take(&mut self, from: IpAddr, now: Instant) -> bool {
        let at = now.saturating_duration_since(*self.origin.get_or_insert(now));
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&from) {
            // Sources whose bucket has refilled owe nothing: forget them.
            self.sources.retain(|_, b| !b.refill(at));
        }
        let room = self.sources.len() < MAX_SOURCES;
        let source = match self.sources.entry(from) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(e) if room => Some(e.insert(bucket(self.per_source))),
            Entry::Vacant(_) => None, // too many busy sources: the node's bucket decides
        };
        if source.is_some_and(|b| !b.take(at)) {
            return false;
        }
        self.all.take(at)
    }
}

/// `per_sec` a second, bursts of twice that.
fn bucket(per_sec: u32) -> TokenBucket {
    TokenBucket::new(per_sec, per_sec.saturating_mul(2))
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::*;

    pub(in crate::runtime::tcp) const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    pub(in crate::runtime::tcp) const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    /// A fixed point to count from (the tests only add to it).
    #[allow(clippy::disallowed_methods)]
    pub(in crate::runtime::tcp) fn start() -> Instant {
        Instant::now()
    }

    #[test]
    fn one_source_empties_only_its_own_bucket() {
        let now = start();
        let mut rates = RequestRates::new(100, 2);
        let taken = (0..10).filter(|_| rates.take(A, now)).count();
        assert_eq!(taken, 4, "a burst of twice the rate");
        assert!(rates.take(B, now), "another source is not held back");
        assert!(!rates.take(A, now + Duration::from_millis(100)));
        assert!(rates.take(A, now + Duration::from_millis(600)), "refilled");
    }

    #[test]
    fn the_node_bucket_bounds_all_sources_together() {
        let now = start();
        let mut rates = RequestRates::new(1, 100);
        assert!(rates.take(A, now) && rates.take(B, now));
        assert!(!rates.take(A, now) && !rates.take(B, now));
    }

    #[test]
    fn sources_are_bounded_and_idle_ones_forgotten() {
        let now = start();
        let mut rates = RequestRates::new(u32::MAX, 1);
        for i in 0..MAX_SOURCES as u32 {
            assert!(rates.take(IpAddr::V4(i.into()), now));
        }
        assert_eq!(rates.sources.len(), MAX_SOURCES);
        // All busy: a newcomer is judged by the node's bucket alone, and nothing grows.
        assert!(rates.take(A, now));
        assert_eq!(rates.sources.len(), MAX_SOURCES);
        // Later every bucket has refilled: they are forgotten to make room.
        assert!(rates.take(B, now + Duration::from_secs(5)));
        assert_eq!(rates.sources.len(), 1);
    }
}
