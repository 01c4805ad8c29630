//! The actors' clock: the OS's monotonic clock as protocol time, and the node's generation
//! from the wall clock. (The reactor reads the monotonic clock itself, for TCP deadlines.)

use std::time::Duration;

use crate::time::Instant;

/// Maps `std::time::Instant` to protocol [`Instant`]s: microseconds since the node started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub(crate) fn start() -> Clock {
        Clock { origin: wall_now() }
    }

    /// Protocol time now.
    pub(crate) fn now(&self) -> Instant {
        let micros = wall_now()
            .saturating_duration_since(self.origin)
            .as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The OS instant of a protocol deadline.
    pub(crate) fn deadline(&self, at: Instant) -> std::time::Instant {
        self.origin + Duration::from_micros(at.as_micros())
    }
}

/// The one place the runtime reads the OS clock; the protocol core never does.
#[allow(clippy::disallowed_methods)]
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The wall clock now, ms since the Unix epoch: the time sealed packets carry and are
/// checked against (read where they are sealed and opened, on the reactor).
pub(crate) fn wall_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// This process's generation: microseconds since the Unix epoch, so a node restarted under
/// the same name starts a newer one. Its key-value writes then replace its old ones
/// everywhere, and its broadcasts are numbered after every one it sent before. (A wall
/// clock set back across a restart would make peers ignore the new process's writes as
/// older, and drop some broadcasts as seen: stale data, never a panic.)
pub(crate) fn generation() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}
