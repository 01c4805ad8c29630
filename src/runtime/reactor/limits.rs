//! [`ReactorLimits`]: every bound the reactor keeps on what its peers may hold.

use std::time::Duration;

use crate::codec::MAX_FRAME_LEN;
use crate::seal::SEALED_OVERHEAD;

/// The reactor's bounds. Every phase of a connection has a deadline:
///
/// ```text
/// inbound   accept ─head_timeout─> head admitted ─inbound_timeout (from accept)─> request
///           request ─inbound_timeout─> reply flushed
/// outbound  open ─the exchange's own timeout─> response read
/// ```
#[derive(Clone, Debug)]
pub(crate) struct ReactorLimits {
    /// Largest TCP frame accepted or sent (capped at `u32::MAX`).
    pub(crate) max_frame: usize,
    /// A stranger must show the head of a frame of this cluster within this of connecting.
    pub(crate) head_timeout: Duration,
    /// An inbound request must arrive within this of the connect, and the reply be flushed
    /// within this again after the request was handed to the sink; otherwise the
    /// connection is closed.
    pub(crate) inbound_timeout: Duration,
    /// Most inbound connections. When all are taken, a new one evicts the oldest that has
    /// not delivered its request yet (an idle or slow stranger), or is refused if every
    /// one is being answered.
    pub(crate) max_inbound: usize,
    /// Most outbound exchanges, kept apart so inbound floods never take a join's or a
    /// sync's slot; further exchanges are answered `Err(Overloaded)`.
    pub(crate) max_outbound: usize,
    /// Most bytes held in the buffers of all connections together (frames being read and
    /// being written); a connection that would go past it is closed (`Overloaded`).
    pub(crate) max_buffered: usize,
    /// Inbound requests handed on per second at most (a bucket of twice as many for
    /// bursts); more are closed unanswered. Each may make the node encode its whole state.
    pub(crate) requests_per_sec: u32,
    /// The same, for each source address: one stranger's flood empties only its own
    /// bucket, and members elsewhere still get their exchanges answered.
    pub(crate) requests_per_source: u32,
    /// Requests over the rate wait for a token (within their connection's deadline)
    /// rather than being closed at once, this many at most...
    pub(crate) max_held: usize,
    /// ...and this many from one source address.
    pub(crate) max_held_per_source: usize,
    /// Capacity of the command queue.
    pub(crate) command_queue: usize,
}

impl Default for ReactorLimits {
    fn default() -> Self {
        ReactorLimits {
            // A sealed frame carries its plain frame (at most the codec's limit) and the
            // sealing overhead.
            max_frame: MAX_FRAME_LEN + SEALED_OVERHEAD,
            head_timeout: Duration::from_secs(2),
            inbound_timeout: Duration::from_secs(10),
            max_inbound: 96,
            max_outbound: 32,
            max_buffered: 4 * MAX_FRAME_LEN,
            requests_per_sec: 64,
            requests_per_source: 16,
            // Half the inbound slots; one source, a burst's worth (two seconds of its rate).
            max_held: 48,
            max_held_per_source: 32,
            command_queue: 8192,
        }
    }
}
