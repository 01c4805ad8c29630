//! # epidemic
//!
//! Gossip protocols for synchronous Rust applications: SWIM membership and failure
//! detection (suspicion, refutation, indirect probes), piggybacked dissemination,
//! push-pull anti-entropy, push-sum aggregates and a replicated per-node key-value state
//! ([`NodeHandle::set`], [`NodeHandle::get`]), on plain OS threads with no async runtime.
//!
//! ## Architecture
//!
//! ```text
//!  network                 one thread each; bounded inboxes, an urgent lane for probe traffic
//!     ^  |
//!     |  v        Inbound (node core): size, decode, cluster, split by kind
//!  reactor (mio) ---+--> membership --Start/Confirm/Cancel--> suspicion
//!     ^   ^         |        ^  |  ^                               |
//!     |   |         |        |  |  +--------- SuspicionExpired ----+
//!     |   |         |        |  +--Probe (pings, acks) / Enqueue (updates)--+
//!     |   |         +--> dissemination <-------------------------------------+
//!     |   |         +--> aggregation --Send (push-sum shares)--> dissemination
//!     |   |         +--> state -------Send (key-value legs)----> dissemination
//!     |   |                  |
//!     |   +-- Exchange/Reply (TCP: join, push-pull, key-value legs) -- membership, state
//!     +------ SendTo (gossip packed up to the MTU) ------------------ dissemination
//!             membership, dissemination, aggregation, state --Deliver--> dispatcher --> callbacks
//! ```
//!
//! All protocol logic lives in sans-io state machines (`protocol`): they take `now` and
//! inputs, and hand back outputs and their next deadline. One node core wires them: it
//! builds and seeds them, classifies what arrives, and names each output's destination.
//! The runtime hosts each component on its own thread (`epidemic/<node>/<actor>`) and moves
//! the core's messages over channels; the deterministic simulator ([`sim`]) drives the very
//! same core on one thread with a virtual clock. Protocol state of peers (who is live,
//! who went down) is one shared view membership writes and the others read.
//!
//! ## Use
//!
//! ```no_run
//! use std::time::Duration;
//! use epidemic::{Config, Node};
//!
//! let node = Node::builder("alice")
//!     .bind("127.0.0.1:7946")
//!     .config(Config::lan())
//!     .on_join(|m| println!("{} joined", m.name()))
//!     .on_fail(|m| println!("{} failed", m.name()))
//!     .on_message(|from, bytes| println!("{from}: {}", String::from_utf8_lossy(bytes)))
//!     .start()?;
//! node.join(&["127.0.0.1:7947"])?;
//! node.broadcast(b"hello".to_vec())?;
//! for member in node.members().iter() {
//!     println!("{} {} {}", member.name, member.state, member.incarnation);
//! }
//! node.leave(Duration::from_secs(2))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aggregate;
#[cfg(feature = "unstable-internals")]
pub mod bench_support;
#[cfg(feature = "unstable-internals")]
pub mod codec;
#[cfg(not(feature = "unstable-internals"))]
mod codec;
mod config;
mod error;
mod event;
mod hash;
mod health;
pub mod member;
mod node;
pub(crate) mod protocol;
mod rate;
mod runtime;
#[cfg(feature = "unstable-internals")]
pub mod seal;
#[cfg(not(feature = "unstable-internals"))]
mod seal;
pub mod sim;
mod stats;
pub mod time;

pub use aggregate::{AggregateName, Estimate};
pub use codec::{MAX_STATE_KEY_LEN, MAX_STATE_VALUE_LEN};
pub use config::{
    BroadcastMode, Config, ConfigError, MAX_MTU, MIN_EPOCH_ROUNDS, MIN_MTU, StateMode,
};
pub use error::{
    AggregateError, BroadcastError, ExchangeError, JoinError, LeaveError, MetadataError,
    StartError, StateError,
};
pub use event::Event;
pub use health::{Failure, FailureCause, Health};
pub use member::{InvalidName, MAX_METADATA_LEN, MAX_NAME_LEN, Member, MemberState, NodeName};
pub use node::{Node, NodeBuilder, NodeHandle};
pub use seal::{
    Cipher, EncryptionError, EncryptionMode, KEY_LEN, Key, KeyError, KeyId, Keyring, KeyringError,
    MAX_KEYS,
};
pub use stats::{DropReason, LatencySummary, MemberCounts, Stats};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
