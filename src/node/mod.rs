//! [`Node`]: the running node an application owns; [`NodeHandle`]: what any thread or
//! callback may do with it; [`NodeBuilder`]: settings and callbacks before the start.
//!
//! ```text
//! Node::builder(name) ─ .bind .config .on_join .. .handle() ─ .start() ─> Node
//!                                           │                              │ derefs to
//!                                           └── NodeHandle (clone freely) <┘
//! Node: leave(), stop(), drop = stop        NodeHandle: members, broadcast, set/get, ..
//! ```

mod aggregate;
mod builder;
mod handle;
mod keys;
mod kv;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;

pub use self::builder::NodeBuilder;
pub use self::handle::NodeHandle;
use crate::config::Config;
use crate::error::LeaveError;
use crate::event::Event;
use crate::member::NodeName;
use crate::protocol::{ComponentInput, MembershipInput, Reply};
use crate::runtime::{Callbacks, Runtime};

/// How long `broadcast`, `publish` and the state's reads and writes wait for their actor
/// to answer; it answers in microseconds unless the node is badly overloaded.
const ACTOR_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A running member of a gossip cluster, owned by the application.
///
/// It derefs to its [`NodeHandle`], which has every call but the two that end it
/// ([`Node::leave`], [`Node::stop`]); hand [`Node::handle`] to other threads. Dropping the
/// node stops it silently (as a crash looks to others) and joins its threads; call
/// [`Node::leave`] first to leave gracefully. Handles do not keep it running.
pub struct Node {
    runtime: Arc<Runtime>,
    handle: NodeHandle,
}

impl Node {
    /// Starts configuring a node named `name` (UTF-8, 1–64 bytes, unique in the cluster).
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            bind: "127.0.0.1:7946".into(),
            advertise: None,
            config: Config::lan(),
            metadata: Vec::new(),
            seed: None,
            callbacks: Callbacks::default(),
            handle: NodeHandle::default(),
            keyring: None,
            encryption: None,
        }
    }

    /// The node `start` just made; `handle` (and every clone of it) now reaches it.
    fn new(runtime: Arc<Runtime>, handle: NodeHandle) -> Node {
        handle.attach(&runtime);
        Node { runtime, handle }
    }

    /// A handle for other threads and callbacks; cheap to clone.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// This node's name.
    pub fn name(&self) -> &NodeName {
        &self.runtime.name
    }

    /// The address other members reach this node at (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.runtime.local_addr
    }

    /// The settings this node runs with.
    pub fn config(&self) -> &Config {
        &self.runtime.config
    }

    /// A channel of membership events. It holds the most recent
    /// `Config::dispatcher_queue` events; older unread ones are discarded. Every call
    /// returns a handle to the same channel.
    pub fn events(&self) -> Receiver<Event> {
        self.runtime.events.clone()
    }

    /// Leaves gracefully: gossips `left`, waits (at most `timeout`) until it has been sent
    /// to a few members, then stops. Others report a leave, never a failure.
    pub fn leave(&self, timeout: Duration) -> Result<(), LeaveError> {
        if self.runtime.is_stopped() {
            return Err(LeaveError::Stopped);
        }
        let leave = |request| ComponentInput::Membership(MembershipInput::Leave { request });
        let sent = matches!(self.runtime.ask(leave, timeout), Ok(Reply::LeaveSent));
        self.runtime.shutdown();
        if sent {
            Ok(())
        } else {
            Err(LeaveError::Timeout)
        }
    }

    /// Stops silently, as a crash looks to others, and joins every thread.
    pub fn stop(&self) {
        self.runtime.shutdown();
    }
}

impl Deref for Node {
    type Target = NodeHandle;

    fn deref(&self) -> &NodeHandle {
        &self.handle
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.runtime.shutdown();
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.runtime.name)
            .field("addr", &self.runtime.local_addr)
            .finish_non_exhaustive()
    }
}
