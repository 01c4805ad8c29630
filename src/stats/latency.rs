//! A lock-free latency histogram: log-linear buckets (four per power of two, so a bucket
//! is at most 25 % wide) from 1 µs to about two minutes, bumped by one actor and read by
//! any thread. Its summary is what `Stats::probe_rtt` reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per power of two.
const SUB: u64 = 4;
/// Powers of two covered: up to 2^27 µs (134 s); slower samples land in the last bucket.
const POWERS: usize = 27;
/// Number of buckets.
const BUCKETS: usize = SUB as usize * POWERS;

/// Latency samples in log-linear buckets (see the module docs).
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    max_micros: AtomicU64,
}

/// Quantiles of the latency samples a node took; each quantile is the upper edge of the
/// bucket it falls in, so it overstates the true value by at most 25 %.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Samples taken.
    pub samples: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The largest sample (exact).
    pub max: Duration,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            max_micros: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Takes one sample.
    pub(crate) fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// The quantiles of every sample so far.
    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let samples = counts.iter().sum();
        let max = Duration::from_micros(self.max_micros.load(Ordering::Relaxed));
        let quantile = |q: f64| {
            if samples == 0 {
                return Duration::ZERO;
            }
            // The rank of the sample at quantile q, 1-based.
            let rank = ((samples as f64 * q).ceil() as u64).clamp(1, samples);
            let mut seen = 0;
            for (i, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    return Duration::from_micros(upper_edge(i)).min(max);
                }
            }
            max
        };
        LatencySummary {
            samples,
            p50: quantile(0.50),
            p90: quantile(0.90),
            p99: quantile(0.99),
            max,
        }
    }
}

/// The bucket of a sample of `micros`: exact below 4 µs, then four per power of two.
fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let power = 63 - u64::from(micros.leading_zeros()); // >= 2
    let sub = (micros >> (power - 2)) & (SUB - 1);
    let index = SUB * (power - 1) + sub;
    usize::try_from(index).map_or(BUCKETS - 1, |i| i.min(BUCKETS - 1))
}

/// The largest sample (in µs) bucket `index` holds.
fn upper_edge(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let power = index / SUB + 1;
    let sub = index % SUB;
    // Bucket (power, sub) holds [(4 + sub) << (power - 2), (5 + sub) << (power - 2)).
    ((SUB + sub + 1) << (power - 2)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order_and_at_most_a_quarter_wide() {
        let mut last = 0;
        for micros in (0..100_000).chain([1 << 20, (1 << 27) - 1]) {
            let b = bucket(micros);
            assert!(b >= last, "buckets grow with the value");
            assert!(micros <= upper_edge(b), "{micros} above its bucket's edge");
            if b > 0 {
                assert!(
                    micros > upper_edge(b - 1),
                    "{micros} belongs to an earlier bucket"
                );
            }
            let lower = if b == 0 { 0 } else { upper_edge(b - 1) + 1 };
            assert!((upper_edge(b) - lower) as f64 <= 0.25 * lower.max(4) as f64);
            last = b;
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn summary_quantiles_bound_the_samples() {
        let h = LatencyHistogram::default();
        assert_eq!(h.summary(), LatencySummary::default());
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.samples, 100);
        assert_eq!(s.max, Duration::from_millis(100));
        let within = |got: Duration, want_ms: u64| {
            let want = Duration::from_millis(want_ms);
            got >= want && got <= want.mul_f64(1.25)
        };
        assert!(within(s.p50, 50), "{:?}", s.p50);
        assert!(within(s.p90, 90), "{:?}", s.p90);
        assert!(within(s.p99, 99), "{:?}", s.p99);
        h.record(Duration::from_secs(1_000));
        assert_eq!(h.summary().max, Duration::from_secs(1_000));
    }
}
