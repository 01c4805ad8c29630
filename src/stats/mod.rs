//! Counters every actor bumps without locks, and the snapshot `Node::stats()` returns.

mod latency;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use self::latency::LatencyHistogram;
pub use self::latency::LatencySummary;
use crate::member::{Member, MemberState};

/// Why an inbound datagram or frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// It did not decode (bad magic, truncated, invalid field, ...).
    Malformed,
    /// It was larger than the MTU (datagrams) or the frame limit (TCP).
    Oversized,
    /// It speaks a protocol version or envelope flags this build does not.
    WrongVersion,
    /// It belongs to another cluster.
    WrongCluster,
    /// An internal queue was full (the node is overloaded).
    QueueFull,
    /// The socket refused to send it.
    SendFailed,
    /// A TCP limit refused or closed the connection: every inbound slot busy, the bytes
    /// held across connections at their bound, or inbound requests over their rate.
    TcpLimit,
    /// Not sealed, and this node takes only sealed input (encryption on, plaintext no
    /// longer accepted).
    Plaintext,
    /// Sealed with a key this node does not hold, or sealed and this node has no keys.
    UnknownKey,
    /// Sealed, but it did not authenticate: tampered, forged, or another label's.
    Forged,
    /// Sealed further from this node's clock than the skew allowed.
    Stale,
    /// Sealed and authentic, but received before: a replay.
    Replayed,
    /// Sealed and authentic, from a new sender while the replay guard's table of senders
    /// is full.
    TooManySenders,
}

/// Lock-free counters shared by the actors of one node.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) packets_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) broadcasts_delivered: AtomicU64,
    pub(crate) broadcast_duplicates: AtomicU64,
    pub(crate) broadcast_copies_out: AtomicU64,
    pub(crate) broadcast_datagrams_out: AtomicU64,
    pub(crate) broadcast_bytes_out: AtomicU64,
    pub(crate) known_ids_out: AtomicU64,
    pub(crate) known_ids_in: AtomicU64,
    pub(crate) state_datagram_legs: AtomicU64,
    pub(crate) state_datagram_bytes: AtomicU64,
    pub(crate) state_frame_legs: AtomicU64,
    pub(crate) state_frame_bytes: AtomicU64,
    pub(crate) state_whole_digests: AtomicU64,
    pub(crate) dropped_malformed: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    pub(crate) dropped_wrong_version: AtomicU64,
    pub(crate) dropped_wrong_cluster: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) send_failed: AtomicU64,
    pub(crate) dropped_tcp_limit: AtomicU64,
    pub(crate) dropped_plaintext: AtomicU64,
    pub(crate) dropped_unknown_key: AtomicU64,
    pub(crate) dropped_forged: AtomicU64,
    pub(crate) dropped_stale: AtomicU64,
    pub(crate) dropped_replayed: AtomicU64,
    pub(crate) dropped_too_many_senders: AtomicU64,
    pub(crate) sealed_in: AtomicU64,
    pub(crate) sealed_out: AtomicU64,
    pub(crate) probes: AtomicU64,
    pub(crate) indirect_probes: AtomicU64,
    pub(crate) suspicions: AtomicU64,
    pub(crate) refutations: AtomicU64,
    pub(crate) nacks_received: AtomicU64,
    pub(crate) missed_nacks: AtomicU64,
    pub(crate) suspicion_confirmations: AtomicU64,
    pub(crate) refused_incarnations: AtomicU64,
    pub(crate) refused_aggregates: AtomicU64,
    pub(crate) refused_state: AtomicU64,
    pub(crate) refused_members: AtomicU64,
    pub(crate) refused_probes: AtomicU64,
    /// A gauge, not a counter: membership stores the current local health score.
    pub(crate) local_health: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) callback_panics: AtomicU64,
    /// Direct probe round trips: ping sent to first ack matched.
    pub(crate) probe_rtt: LatencyHistogram,
}

impl Counters {
    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Sets a gauge.
    pub(crate) fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// Counts one dropped input.
    pub(crate) fn dropped(&self, reason: DropReason) {
        let counter = match reason {
            DropReason::Malformed => &self.dropped_malformed,
            DropReason::Oversized => &self.dropped_oversized,
            DropReason::WrongVersion => &self.dropped_wrong_version,
            DropReason::WrongCluster => &self.dropped_wrong_cluster,
            DropReason::QueueFull => &self.dropped_queue_full,
            DropReason::SendFailed => &self.send_failed,
            DropReason::TcpLimit => &self.dropped_tcp_limit,
            DropReason::Plaintext => &self.dropped_plaintext,
            DropReason::UnknownKey => &self.dropped_unknown_key,
            DropReason::Forged => &self.dropped_forged,
            DropReason::Stale => &self.dropped_stale,
            DropReason::Replayed => &self.dropped_replayed,
            DropReason::TooManySenders => &self.dropped_too_many_senders,
        };
        Counters::bump(counter);
    }

    /// A consistent-enough copy for the application.
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            broadcasts_delivered: get(&self.broadcasts_delivered),
            broadcast_duplicates: get(&self.broadcast_duplicates),
            broadcast_copies_out: get(&self.broadcast_copies_out),
            broadcast_datagrams_out: get(&self.broadcast_datagrams_out),
            broadcast_bytes_out: get(&self.broadcast_bytes_out),
            known_ids_out: get(&self.known_ids_out),
            known_ids_in: get(&self.known_ids_in),
            state_datagram_legs: get(&self.state_datagram_legs),
            state_datagram_bytes: get(&self.state_datagram_bytes),
            state_frame_legs: get(&self.state_frame_legs),
            state_frame_bytes: get(&self.state_frame_bytes),
            state_whole_digests: get(&self.state_whole_digests),
            dropped_malformed: get(&self.dropped_malformed),
            dropped_oversized: get(&self.dropped_oversized),
            dropped_wrong_version: get(&self.dropped_wrong_version),
            dropped_wrong_cluster: get(&self.dropped_wrong_cluster),
            dropped_queue_full: get(&self.dropped_queue_full),
            send_failed: get(&self.send_failed),
            dropped_tcp_limit: get(&self.dropped_tcp_limit),
            dropped_plaintext: get(&self.dropped_plaintext),
            dropped_unknown_key: get(&self.dropped_unknown_key),
            dropped_forged: get(&self.dropped_forged),
            dropped_stale: get(&self.dropped_stale),
            dropped_replayed: get(&self.dropped_replayed),
            dropped_too_many_senders: get(&self.dropped_too_many_senders),
            sealed_in: get(&self.sealed_in),
            sealed_out: get(&self.sealed_out),
            probes: get(&self.probes),
            indirect_probes: get(&self.indirect_probes),
            suspicions: get(&self.suspicions),
            refutations: get(&self.refutations),
            nacks_received: get(&self.nacks_received),
            missed_nacks: get(&self.missed_nacks),
            suspicion_confirmations: get(&self.suspicion_confirmations),
            refused_incarnations: get(&self.refused_incarnations),
            refused_aggregates: get(&self.refused_aggregates),
            refused_state: get(&self.refused_state),
            refused_members: get(&self.refused_members),
            refused_probes: get(&self.refused_probes),
            local_health: get(&self.local_health),
            events_dropped: get(&self.events_dropped),
            callback_panics: get(&self.callback_panics),
            probe_rtt: self.probe_rtt.summary(),
            members: MemberCounts::default(),
        }
    }
}

/// A snapshot of a node's counters since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received (accepted or not).
    pub packets_in: u64,
    /// Bytes of datagrams received.
    pub bytes_in: u64,
    /// Datagrams sent.
    pub packets_out: u64,
    /// Bytes of datagrams sent.
    pub bytes_out: u64,
    /// TCP frames received.
    pub frames_in: u64,
    /// TCP frames sent.
    pub frames_out: u64,
    /// User broadcasts from other nodes delivered to this one (each at most once).
    pub broadcasts_delivered: u64,
    /// User broadcasts received again after their delivery (or this node's own coming
    /// back): the redundancy of the [`crate::BroadcastMode`].
    pub broadcast_duplicates: u64,
    /// Copies of user broadcasts sent: one per broadcast per datagram.
    pub broadcast_copies_out: u64,
    /// Datagrams sent that carry at least one user broadcast or rumor-mongering feedback
    /// (`known`), whether on their own or riding with probes and membership gossip.
    pub broadcast_datagrams_out: u64,
    /// Bytes of the user broadcasts and feedback in those datagrams, each message's 3-byte
    /// framing included; the 13-byte datagram header is not (datagrams shared with
    /// membership gossip share it), so add it per datagram for the broadcast-only modes.
    pub broadcast_bytes_out: u64,
    /// Broadcast ids this node reported as already known (`BroadcastMode::Feedback`).
    pub known_ids_out: u64,
    /// Broadcast ids other nodes reported as already known to this one.
    pub known_ids_in: u64,
    /// Legs of the key-value state's anti-entropy sent in datagrams (see
    /// [`crate::StateMode`]; gossip packed alongside is not counted here).
    pub state_datagram_legs: u64,
    /// Bytes of those legs: each state message with its 3-byte framing, no packet header.
    pub state_datagram_bytes: u64,
    /// Legs of the key-value state sent as TCP frames (exchanges opened, answers on them).
    pub state_frame_legs: u64,
    /// Bytes of those frames, frame header included.
    pub state_frame_bytes: u64,
    /// Legs (datagrams and frames) that carried this node's whole digest: a summary of it
    /// did not explain the difference with a peer (or the peer asked for it whole).
    pub state_whole_digests: u64,
    /// Inputs dropped because they did not decode.
    pub dropped_malformed: u64,
    /// Inputs dropped for exceeding the MTU or the frame limit.
    pub dropped_oversized: u64,
    /// Inputs dropped for an unsupported version or envelope flags.
    pub dropped_wrong_version: u64,
    /// Inputs dropped because they came from another cluster.
    pub dropped_wrong_cluster: u64,
    /// Inputs dropped because an internal queue was full.
    pub dropped_queue_full: u64,
    /// Datagrams the socket refused to send.
    pub send_failed: u64,
    /// TCP connections refused or closed by a limit (see [`DropReason::TcpLimit`]).
    pub dropped_tcp_limit: u64,
    /// Inputs dropped for not being sealed where sealing is required.
    pub dropped_plaintext: u64,
    /// Sealed inputs dropped for a key this node does not hold.
    pub dropped_unknown_key: u64,
    /// Sealed inputs dropped for failing authentication (tampered or forged).
    pub dropped_forged: u64,
    /// Sealed inputs dropped for a time further from this node's clock than the skew.
    pub dropped_stale: u64,
    /// Sealed inputs dropped as replays of ones received before.
    pub dropped_replayed: u64,
    /// Sealed inputs from new senders dropped while the replay guard was full.
    pub dropped_too_many_senders: u64,
    /// Sealed datagrams and frames opened (taken as authentic). While turning encryption
    /// on, this starts counting once peers seal.
    pub sealed_in: u64,
    /// Datagrams and frames sent sealed.
    pub sealed_out: u64,
    /// Direct probes sent.
    pub probes: u64,
    /// Indirect probe requests sent.
    pub indirect_probes: u64,
    /// Suspicions this node raised.
    pub suspicions: u64,
    /// Times this node refuted a suspicion or death about itself.
    pub refutations: u64,
    /// Nacks from ping-req helpers counted for this node's own probes (Lifeguard): the
    /// helper could not reach the target either, so this node's network is probably fine.
    pub nacks_received: u64,
    /// Helpers that answered a failed probe with neither an ack nor a nack (Lifeguard):
    /// each one raised the local health score.
    pub missed_nacks: u64,
    /// Independent confirmations of a suspicion this node counted (Lifeguard); each one
    /// shortened a suspicion timeout and was re-gossiped.
    pub suspicion_confirmations: u64,
    /// Membership claims refused as implausible: an incarnation above 2⁴⁸, or one that
    /// gossip would have raised by more than 1,024 at once (`protocol/rules.rs`).
    pub refused_incarnations: u64,
    /// Push-sum messages (or one aggregate's mass in one) refused as implausible: an
    /// epoch above 2⁴⁸ or more than 64 ahead of this node's, a round beyond the epoch, or
    /// mass or extremes out of range.
    pub refused_aggregates: u64,
    /// Key-value digest entries and deltas refused as implausible: a version above 2⁴⁸,
    /// a generation more than an hour beyond this node's clock, a value over
    /// `Config::state_max_value_len`, or ill-formed deltas (`protocol/kv/trust.rs`).
    pub refused_state: u64,
    /// Newcomers refused: the member table held `Config::max_members` already, or a
    /// datagram introduced a name not held here from an address that is no live member's
    /// (only members introduce members; a node may introduce itself).
    pub refused_members: u64,
    /// Probe traffic refused: ping-reqs not from a live member at its recorded address,
    /// for a target not known at the address named, or over the relay rate; acks to
    /// addresses that are no live member there over their rate.
    pub refused_probes: u64,
    /// Lifeguard's local health score now (a gauge, `0..=Config::awareness_max`): 0 is
    /// healthy; the probe interval and timeout run `local_health + 1` times longer.
    pub local_health: u64,
    /// Events not delivered because the dispatcher queue or the events channel was full.
    pub events_dropped: u64,
    /// User callbacks that panicked (caught and logged).
    pub callback_panics: u64,
    /// Members this node knows, by state (itself included, as alive).
    pub members: MemberCounts,
    /// Round trips of this node's probes, from sending a ping to the first ack for it
    /// (direct or, after `probe_timeout`, through a helper); probes never answered are not
    /// in it. On a healthy LAN they measure how long the target took to answer.
    pub probe_rtt: LatencySummary,
}

/// How many members a node knows in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberCounts {
    /// Alive, this node included.
    pub alive: u64,
    /// Suspected.
    pub suspect: u64,
    /// Declared failed and not yet forgotten.
    pub dead: u64,
    /// Left gracefully and not yet forgotten.
    pub left: u64,
}

impl MemberCounts {
    /// The counts of `members`.
    pub(crate) fn of<'a>(members: impl IntoIterator<Item = &'a Member>) -> MemberCounts {
        let mut counts = MemberCounts::default();
        for member in members {
            let count = match member.state {
                MemberState::Alive => &mut counts.alive,
                MemberState::Suspect => &mut counts.suspect,
                MemberState::Dead => &mut counts.dead,
                MemberState::Left => &mut counts.left,
            };
            *count += 1;
        }
        counts
    }
}

impl Stats {
    /// Every dropped input, whatever the reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_oversized
            + self.dropped_wrong_version
            + self.dropped_wrong_cluster
            + self.dropped_queue_full
            + self.dropped_tcp_limit
            + self.dropped_plaintext
            + self.dropped_unknown_key
            + self.dropped_forged
            + self.dropped_stale
            + self.dropped_replayed
            + self.dropped_too_many_senders
    }
}
