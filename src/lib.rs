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
//!            UDP/TCP                    crossbeam channels
//!  network <---------> reactor (mio) ------------------------> membership ----> suspicion
//!                         ^    |                                  |  ^             |
//!                         |    +--> dissemination <---------------+  +--- expired -+
//!                         +--------- (packs gossip up to the MTU)
//!                                    membership / dissemination --> dispatcher --> your callbacks
//! ```
//!
//! All protocol logic lives in sans-io state machines (`protocol`): they take `now` and
//! inputs, and hand back outputs and their next deadline. The runtime hosts each one on its
//! own thread (`epidemic/<node>/<actor>`); a deterministic simulator can drive the very same
//! code on one thread with a virtual clock.
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
pub mod member;
mod node;
pub(crate) mod protocol;
mod runtime;
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
pub use member::{InvalidName, MAX_METADATA_LEN, MAX_NAME_LEN, Member, MemberState, NodeName};
pub use node::{Node, NodeBuilder, NodeHandle};
pub use stats::{DropReason, LatencySummary, MemberCounts, Stats};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
