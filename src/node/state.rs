//! The replicated key-value state as the application sees it: every node owns a small map
//! it writes with [`Node::set`] and [`Node::delete`]; every node holds a replica of every
//! other node's map, reconciled in the background (Scuttlebutt anti-entropy, in the mode
//! of `Config::state_mode`), and reads it with [`Node::get`] and [`Node::state`].
//!
//! ```text
//! alice.set("log_level", "debug")          alice's map: log_level = debug @ version 1
//!   ... a few state intervals later ...
//! bob:   on_state_change(alice, "log_level", Some(b"debug"))
//!        bob.get("alice", "log_level") == Some(b"debug".to_vec())
//! ```
//!
//! Reads and writes are requests to the node's state actor (the state is never shared
//! across threads), answered in microseconds unless the node is overloaded or stopping.

use std::collections::BTreeMap;

use super::{ACTOR_REPLY_TIMEOUT, Node, NodeBuilder};
use crate::error::StateError;
use crate::member::NodeName;
use crate::protocol::{ComponentInput, Reply, RequestId, StateInput, check_key, check_value_len};

impl NodeBuilder {
    /// Called when a key of another node's map changes here: the owner, the key, and the
    /// new value (`None` when the key was deleted). Called once per change this node
    /// learns, on the dispatcher thread, in the order the changes arrived; never for this
    /// node's own writes. When an owner restarted (a new `Node` under the same name), its
    /// old keys are reported deleted before its new ones arrive.
    pub fn on_state_change(
        mut self,
        f: impl FnMut(&NodeName, &str, Option<&[u8]>) + Send + 'static,
    ) -> NodeBuilder {
        self.callbacks.on_state_change.push(Box::new(f));
        self
    }
}

impl Node {
    /// Sets `key` (1 to [`crate::codec::MAX_STATE_KEY_LEN`] bytes) of this node's map to
    /// `value` (at most `Config::state_max_value_len` bytes); every other node learns it
    /// within a few `Config::state_interval`s. Returns once the write is done here.
    ///
    /// ```no_run
    /// # let node = epidemic::Node::builder("alice").start()?;
    /// node.set("log_level", "debug")?;
    /// assert_eq!(node.get("alice", "log_level").as_deref(), Some(&b"debug"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<(), StateError> {
        let value = value.into();
        check_key(key)?;
        check_value_len(value.len(), self.config.state_max_value_len)?;
        let key = key.to_string();
        self.write(|request| StateInput::Set {
            request,
            key,
            value,
        })
    }

    /// Deletes `key` from this node's map (other nodes report it deleted). Deleting a key
    /// that has no value is not an error and changes nothing.
    pub fn delete(&self, key: &str) -> Result<(), StateError> {
        check_key(key)?;
        let key = key.to_string();
        self.write(|request| StateInput::Delete { request, key })
    }

    /// The value of `key` in `member`'s map as this node holds it now (this node's own
    /// map when `member` is its name). `None` when there is none, the member is unknown or
    /// has not written it yet, or the node is stopped. A copy of the bytes.
    pub fn get(&self, member: &str, key: &str) -> Option<Vec<u8>> {
        let owner = NodeName::new(member).ok()?;
        let key = key.to_string();
        let reply = self.ask(|request| StateInput::Get {
            request,
            owner,
            key,
        })?;
        match reply {
            Reply::StateValue(value) => value.map(|v| v.to_vec()),
            _ => None,
        }
    }

    /// Every key of `member`'s map with a value, as this node holds it now (empty when
    /// there is none, the member is unknown, or the node is stopped).
    pub fn state(&self, member: &str) -> BTreeMap<String, Vec<u8>> {
        let Ok(owner) = NodeName::new(member) else {
            return BTreeMap::new();
        };
        match self.ask(|request| StateInput::Read { request, owner }) {
            Some(Reply::StateMap(map)) => map
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_vec()))
                .collect(),
            _ => BTreeMap::new(),
        }
    }

    /// Sends a write to the state actor and waits for its answer.
    fn write(&self, input: impl FnOnce(RequestId) -> StateInput) -> Result<(), StateError> {
        match self.ask(input) {
            Some(Reply::StateWritten(result)) => result,
            _ => Err(StateError::Stopped),
        }
    }

    /// Sends a request to the state actor; its reply, or `None` if the node is stopped
    /// (or the actor did not answer within [`ACTOR_REPLY_TIMEOUT`]).
    fn ask(&self, input: impl FnOnce(RequestId) -> StateInput) -> Option<Reply> {
        let replies = &self.runtime.router.replies;
        let (request, reply) = replies.register();
        if !self.runtime.send(ComponentInput::State(input(request))) {
            replies.cancel(request);
            return None;
        }
        let answer = reply.recv_timeout(ACTOR_REPLY_TIMEOUT).ok();
        if answer.is_none() {
            replies.cancel(request);
        }
        answer
    }
}
