//! Plain data of aggregation (push-sum estimates): aggregate names, estimates and limits.
//!
//! Each node publishes named local values; every node learns, per name, how many nodes
//! publish it (`count`), their `sum`, average, minimum and maximum, without a coordinator
//! (see `protocol::aggregation` for the exchange).

use std::fmt;
use std::sync::Arc;

/// Longest aggregate name, in bytes of UTF-8.
pub const MAX_AGGREGATE_NAME_LEN: usize = 32;
/// Most names one node may publish at a time.
pub const MAX_PUBLISHED: usize = 16;
/// Most names one node tracks in an epoch (its own and those it hears of); the mass of a
/// name beyond it is dropped.
pub const MAX_TRACKED: usize = 64;
/// Largest magnitude of a published value. Bounded so that sums over large clusters stay
/// finite and exact to well below the convergence threshold.
pub const MAX_VALUE: f64 = 1e15;

/// The name of an aggregate: UTF-8, 1 to [`MAX_AGGREGATE_NAME_LEN`] bytes.
///
/// Cloning is cheap (a reference count).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AggregateName(Arc<str>);

impl AggregateName {
    /// Validates and wraps a name; `None` when empty or longer than
    /// [`MAX_AGGREGATE_NAME_LEN`] bytes.
    pub fn new(name: &str) -> Option<AggregateName> {
        if name.is_empty() || name.len() > MAX_AGGREGATE_NAME_LEN {
            return None;
        }
        Some(AggregateName(Arc::from(name)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AggregateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for AggregateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for AggregateName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

/// What one node believes about one aggregate at the end of a round.
///
/// `count` is the number of live nodes publishing the name, `sum` their total,
/// `avg = sum / count`; `min` and `max` are the extremes among the published values. All
/// but `min`/`max` are push-sum estimates: within a relative error that shrinks
/// geometrically with `rounds` (see `converged`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Estimated number of nodes publishing this name.
    pub count: f64,
    /// Estimated sum of the published values.
    pub sum: f64,
    /// Estimated average of the published values.
    pub avg: f64,
    /// Smallest published value heard of this epoch.
    pub min: f64,
    /// Largest published value heard of this epoch.
    pub max: f64,
    /// The epoch the estimate belongs to (aggregates restart every epoch).
    pub epoch: u64,
    /// Rounds of the epoch done when the estimate was taken.
    pub rounds: u32,
    /// Whether the estimate settled: over each of the last 4 rounds, with mass arriving
    /// from others, `avg` and `count` moved by at most a relative 1e-6 (for `avg`, relative
    /// to the larger of its magnitude and the range `max - min`). An indicator, not a
    /// bound: the error is then of the same order.
    pub converged: bool,
}

impl Estimate {
    /// `count` rounded to the nearest whole number of nodes.
    pub fn nodes(&self) -> u64 {
        if self.count.is_finite() && self.count > 0.0 {
            self.count.round() as u64
        } else {
            0
        }
    }
}
