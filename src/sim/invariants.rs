//! Invariants checked while a simulation runs. The first violation stops the run and is
//! returned with the simulated time; the caller prints the seed.

use std::fmt;
use std::time::Duration;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Simulated time of the violation.
    pub at: Duration,
    /// What went wrong.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {:?}: {}", self.at, self.what)
    }
}

impl std::error::Error for Violation {}

/// Which invariants are checked, and the first violation.
#[derive(Debug)]
pub(crate) struct Invariants {
    pub(crate) enabled: bool,
    /// False once loss, a slow node or a partition has been in play: from then on a
    /// healthy node may legitimately be declared dead.
    pub(crate) lossless: bool,
    pub(crate) violation: Option<Violation>,
}

impl Invariants {
    /// Checks on when `enabled`.
    pub(crate) fn new(enabled: bool, lossless: bool) -> Invariants {
        Invariants {
            enabled,
            lossless,
            violation: None,
        }
    }

    /// Records a violation (the first one wins).
    pub(crate) fn fail(&mut self, at: Duration, what: impl FnOnce() -> String) {
        if self.enabled && self.violation.is_none() {
            self.violation = Some(Violation { at, what: what() });
        }
    }

    /// Without loss, a node never crashed, paused or partitioned is never declared dead.
    pub(crate) fn on_fail(
        &mut self,
        at: Duration,
        member_faulted: bool,
        describe: impl FnOnce() -> String,
    ) {
        if self.lossless && !member_faulted {
            self.fail(at, describe);
        }
    }
}
