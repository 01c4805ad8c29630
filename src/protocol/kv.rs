//! Replicated per-node key-value state, reconciled by anti-entropy in Scuttlebutt's way
//! (van Renesse, Dumitriu, Gough, Aiyer 2008).
//!
//! Every node owns a map (keys of 1 to 128 bytes of UTF-8, bounded values); each write —
//! a set, or a delete that leaves a tombstone — is stamped with the owner's next version.
//! Every node holds a replica of every other node's map and, every `interval`, reconciles
//! with `fanout` random live peers in the configured [`StateMode`]:
//!
//! ```text
//! push-pull:  A -> digest ---------------------------> B     (want: deltas + digest)
//!             A <- deltas A lacks + B's digest ------- B     (want: deltas)
//!             A -> deltas B lacks -------------------> B
//! pull:       A -> digest ---------------------------> B     (want: deltas)
//!             A <- deltas A lacks -------------------- B
//! push:       A -> "your digest?" -------------------> B     (want: digest)
//!             A <- B's digest ------------------------ B     (want: deltas)
//!             A -> deltas B lacks -------------------> B
//! digest = per owner (name, generation, max version, gc watermark)
//! ```
//! So data flows initiator→peer in push, peer→initiator in pull, both ways in push-pull
//! (Demers et al. 1987; Karp et al. 2000), and only what the other side lacks is sent.
//!
//! **Digests by difference.** Drawn above with whole digests; a round's first leg in fact
//! carries a *summary* — a fingerprint of the whole digest and the entries that changed
//! lately — and the peer answers "equal" with silence, a summary it can check with the
//! exchange above restricted to the owners told, or, when neither side's summary
//! explains the difference, whole digests (see [`summary`]).
//!
//! **Transport.** Each leg is one [`StateSync`]. It goes as a datagram through
//! dissemination (gossip rides along) when it fits `mtu` whole — digest and every delta the
//! peer lacks; otherwise the same leg goes as a TCP exchange (`NetOutput::Exchange`,
//! an [`ExchangeId::State`]) cut to `max_sync_frame` bytes, and the
//! peer's answer comes back on that connection. A cut message carries each owner's lowest
//! versions first, so the receiver's max version never skips one (see
//! [`reconcile`]); the rest follows in later rounds.
//!
//! **Restarts and deletes.** Versions live under the owner's generation (given at start:
//! wall-clock microseconds in the runtime, virtual ones in the simulator; it must grow
//! across restarts): a newer generation replaces a
//! replica wholesale, an older one is ignored. Tombstones are collected `tombstone_grace`
//! after a node got them, raising the owner's watermark, which digests carry: a replica
//! that missed collected deletions resyncs instead of keeping (or spreading) a deleted key.
//!
//! **Idle nodes.** A node that holds no state (its own map never written, no replica with
//! a version above 0) starts no exchange and has no deadline: a cluster that never uses
//! the state sends nothing for it. It still answers a peer's leg, and it becomes active —
//! for good — once it writes a key or hears a digest or deltas with any version above 0,
//! or the gossip "state is in use". A node that becomes active gossips that once (a leg
//! that asks nothing, rumor-mongered with the membership updates), so a cold cluster's
//! first key wakes every node within a few gossip intervals and spreads at the mode's
//! speed, not at push speed (`tests/sim_state.rs`: pull at N = 200, 7.7 s against 37.8 s
//! before). So in every mode a fresh node learns existing state: an active initiator's legs
//! reaching it (its digest in pull and push-pull, the deltas that follow the idle node's
//! answer in push) wake it, and from then on it reconciles on its own schedule.
//!
//! **Application view.** Changes learned from peers leave as
//! [`Delivery::StateChange`] (never for this node's own writes); writes and reads are
//! answered with [`Reply`]s (`StateWritten`, `StateValue`, `StateMap`).

mod component;
mod intake;
mod legs;
mod reconcile;
mod store;
mod summary;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_convergence;
#[cfg(test)]
mod tests_harness;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_summary;
mod trust;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use self::reconcile::Store;
use self::store::Replica;
use super::{
    Component, ConnId, Delivery, DisseminationInput, ExchangeId, NetOutput, Output, Reply,
    RequestId,
};
use crate::codec::{
    self, HEADER_LEN, Header, MAX_STATE_KEY_LEN, Message, PACKET_OVERHEAD, STATE_SYNC_OVERHEAD,
    StateDigest, StateKey, StateSync, StateWant,
};
use crate::config::StateMode;
use crate::error::ExchangeError;
use crate::error::StateError;
use crate::member::NodeName;
use crate::protocol::peers::PeerView;
use crate::stats::Counters;
use crate::time::Instant;

/// TCP exchanges in flight at once, at most; beyond, a leg goes as a (cut) datagram.
const MAX_IN_FLIGHT: usize = 8;
/// Bytes of a message's length and type inside a datagram.
const MESSAGE_OVERHEAD: usize = 3;

/// Settings of the key-value state (built from `Config` by `Config::state_config`).
#[derive(Clone, Debug)]
pub(crate) struct StateConfig {
    /// The cluster id frame headers carry.
    pub(crate) cluster: u64,
    /// Push, pull or push-pull.
    pub(crate) mode: StateMode,
    /// Time between exchanges started by this node.
    pub(crate) interval: Duration,
    /// Peers contacted per interval.
    pub(crate) fanout: usize,
    /// Most keys with a value a node may own; as many tombstones are kept at most (the
    /// oldest are collected early beyond that).
    pub(crate) max_keys: usize,
    /// Largest value, in bytes (at most [`MAX_STATE_VALUE_LEN`](crate::codec::MAX_STATE_VALUE_LEN)).
    pub(crate) max_value_len: usize,
    /// Most owners whose state is held (this node's included); deltas of further owners
    /// are ignored until one goes.
    pub(crate) max_owners: usize,
    /// How long a tombstone is kept after this node wrote or received it.
    pub(crate) tombstone_grace: Duration,
    /// Largest datagram (the node's MTU).
    pub(crate) mtu: usize,
    /// Largest TCP frame of one exchange leg (at most [`MAX_FRAME_LEN`](crate::codec::MAX_FRAME_LEN)).
    pub(crate) max_sync_frame: usize,
    /// Bound on one TCP exchange.
    pub(crate) sync_timeout: Duration,
}

impl Default for StateConfig {
    fn default() -> StateConfig {
        StateConfig {
            cluster: 0,
            mode: StateMode::PushPull,
            interval: Duration::from_secs(1),
            fanout: 1,
            max_keys: 1024,
            max_value_len: 1024,
            max_owners: 4096,
            tombstone_grace: Duration::from_secs(300),
            mtu: 1400,
            max_sync_frame: 4 * 1024 * 1024,
            sync_timeout: Duration::from_secs(5),
        }
    }
}

/// Inputs of the state actor.
#[derive(Debug)]
pub(crate) enum StateInput {
    /// A state message arrived in a datagram from `from`.
    Message {
        /// The datagram's source (answers go there).
        from: SocketAddr,
        /// The message.
        sync: StateSync,
    },
    /// A peer opened a TCP exchange with a state frame; answered on `conn`.
    SyncRequest {
        /// The connection to answer on.
        conn: ConnId,
        /// The peer's leg.
        sync: StateSync,
    },
    /// The answer to a TCP exchange this component started.
    SyncResponse {
        /// The exchange: the number in its [`ExchangeId::State`].
        exchange: u64,
        /// The peer's leg, or why there is none.
        result: Result<StateSync, ExchangeError>,
    },
    /// Set a key of this node's map; answered with [`Reply::StateWritten`].
    Set {
        /// The caller.
        request: RequestId,
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Delete a key of this node's map; answered with [`Reply::StateWritten`].
    Delete {
        /// The caller.
        request: RequestId,
        /// The key.
        key: String,
    },
    /// Read one key of `owner`'s map as this node knows it; answered with
    /// [`Reply::StateValue`].
    Get {
        /// The caller.
        request: RequestId,
        /// The node that owns the key (this node included).
        owner: NodeName,
        /// The key.
        key: String,
    },
    /// Read `owner`'s whole map as this node knows it; answered with [`Reply::StateMap`].
    Read {
        /// The caller.
        request: RequestId,
        /// The node whose map is read (this node included).
        owner: NodeName,
    },
}

/// A key of some owner's map changed here because of a peer (a value, or `None`: deleted);
/// delivered to the application as [`Delivery::StateChange`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateChange {
    /// The node that owns the key.
    pub(crate) owner: NodeName,
    /// The key.
    pub(crate) key: StateKey,
    /// The new value, `None` when deleted.
    pub(crate) value: Option<Arc<[u8]>>,
}

/// The key-value state component (see the module docs).
#[derive(Debug)]
pub(crate) struct KvState {
    config: StateConfig,
    header: Header,
    store: Store,
    /// Live peers (the shared view); a member's state is kept when it goes down.
    peers: PeerView,
    /// TCP exchanges started (by number), with the peer they went to and when their slot
    /// is freed, answered or not (an answer lost in a full inbox must not hold it).
    in_flight: BTreeMap<u64, (SocketAddr, Instant)>,
    /// The time of the input being handled.
    now: Instant,
    /// Number of the last exchange started.
    last_exchange: u64,
    next_round_at: Instant,
    rng: ChaCha8Rng,
    /// Where the legs this component sends are counted.
    counters: Arc<Counters>,
    outputs: VecDeque<Output>,
    /// Whether this node holds or ever held state (wrote a key, or heard a digest or
    /// deltas with a version above 0). Until then it starts no exchange and has no
    /// deadline, so a cluster that never uses the state pays nothing for it.
    active: bool,
    /// When this node started, and its generation then: its clock, for judging peers'
    /// generations (see `trust.rs`).
    started: (Instant, u64),
    /// New owners still to be checked for membership this second, and when the second
    /// ends.
    owner_checks: (u32, Instant),
    /// Where the sweep for forgotten owners resumes (after this owner).
    swept_to: Option<NodeName>,
}

/// Where the answer to a leg goes.
#[derive(Clone, Copy, Debug)]
enum Back {
    /// A new datagram or exchange to this address.
    To(SocketAddr),
    /// On this inbound connection (always answered, if only with an empty leg).
    Conn(ConnId),
}

/// The key of a write, or why it is refused.
pub(crate) fn check_key(key: &str) -> Result<StateKey, StateError> {
    if key.len() > MAX_STATE_KEY_LEN {
        return Err(StateError::KeyTooLong {
            len: key.len(),
            max: MAX_STATE_KEY_LEN,
        });
    }
    StateKey::new(key).ok_or(StateError::EmptyKey)
}

/// Whether a value of `len` bytes may be written under a limit of `max` bytes.
pub(crate) fn check_value_len(len: usize, max: usize) -> Result<(), StateError> {
    if len > max {
        return Err(StateError::ValueTooLarge { len, max });
    }
    Ok(())
}
