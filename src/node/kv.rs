//! The replicated key-value state as the application sees it: every node owns a small map
//! it writes with [`NodeHandle::set`] and [`NodeHandle::delete`]; every node holds a replica of every
//! other node's map, reconciled in the background (Scuttlebutt anti-entropy, in the mode
//! of `Config::state_mode`), and reads it with [`NodeHandle::get`] and [`NodeHandle::state`].
//!
//! ```text
//! alice.set("log_level", "debug")          alice's map: log_level = debug @ version 1
//!   ... a few state intervals later ...
//! bob:   on_state_change(alice, "log_level", Some(b"debug"))
//!        bob.get("alice", "log_level") == Ok(Some(b"debug".to_vec()))
//! ```
//!
//! Reads and writes are requests to the node's state actor (the state is never shared
//! across threads), answered in microseconds unless the node is overloaded or stopping.

use std::collections::BTreeMap;

use super::{ACTOR_REPLY_TIMEOUT, NodeBuilder, NodeHandle};
use crate::error::StateError;
use crate::member::NodeName;
use crate::protocol::{ComponentInput, Reply, RequestId, StateInput, check_key, check_value_len};
use crate::runtime::{Refused, Runtime, Unanswered};

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

impl NodeHandle {
    /// Sets `key` (1 to [`crate::MAX_STATE_KEY_LEN`] bytes) of this node's map to `value`
    /// (at most `Config::state_max_value_len` bytes); every other node learns it within a
    /// few `Config::state_interval`s. Returns once the write is done here.
    ///
    /// ```no_run
    /// # let node = epidemic::Node::builder("alice").start()?;
    /// node.set("log_level", "debug")?;
    /// assert_eq!(node.get("alice", "log_level")?.as_deref(), Some(&b"debug"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<(), StateError> {
        let value = value.into();
        check_key(key)?;
        let runtime = self.runtime().ok_or(StateError::Stopped)?;
        check_value_len(value.len(), runtime.config.state_max_value_len)?;
        let key = key.to_string();
        written(ask(&runtime, |request| StateInput::Set {
            request,
            key,
            value,
        }))
    }

    /// Deletes `key` from this node's map (other nodes report it deleted). Deleting a key
    /// that has no value is not an error and changes nothing.
    pub fn delete(&self, key: &str) -> Result<(), StateError> {
        check_key(key)?;
        let runtime = self.runtime().ok_or(StateError::Stopped)?;
        let key = key.to_string();
        written(ask(&runtime, |request| StateInput::Delete { request, key }))
    }

    /// The value of `key` in `member`'s map as this node holds it now (this node's own
    /// map when `member` is its name): `Ok(None)` when there is none (the member is
    /// unknown, has not written it, or deleted it); an error when the node could not be
    /// asked. A copy of the bytes.
    pub fn get(&self, member: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        check_key(key)?;
        let Ok(owner) = NodeName::new(member) else {
            return Ok(None); // no member has that name
        };
        let runtime = self.runtime().ok_or(StateError::Stopped)?;
        let key = key.to_string();
        let get = |request| StateInput::Get {
            request,
            owner,
            key,
        };
        match ask(&runtime, get)? {
            Reply::StateValue(value) => Ok(value.map(|v| v.to_vec())),
            _ => Err(StateError::Unconfirmed),
        }
    }

    /// Every key of `member`'s map with a value, as this node holds it now (empty when
    /// there is none or the member is unknown); an error when the node could not be asked.
    pub fn state(&self, member: &str) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
        let Ok(owner) = NodeName::new(member) else {
            return Ok(BTreeMap::new());
        };
        let runtime = self.runtime().ok_or(StateError::Stopped)?;
        match ask(&runtime, |request| StateInput::Read { request, owner })? {
            Reply::StateMap(map) => Ok(map
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_vec()))
                .collect()),
            _ => Err(StateError::Unconfirmed),
        }
    }
}

/// Sends a request to the state actor and waits for its answer.
fn ask(
    runtime: &Runtime,
    input: impl FnOnce(RequestId) -> StateInput,
) -> Result<Reply, StateError> {
    let state = |request| ComponentInput::State(input(request));
    runtime
        .ask(state, ACTOR_REPLY_TIMEOUT)
        .map_err(|unanswered| match unanswered {
            Unanswered::Refused(Refused::Stopped(_)) => StateError::Stopped,
            Unanswered::Refused(Refused::Full(_)) => StateError::Overloaded,
            Unanswered::Late => StateError::Unconfirmed,
        })
}

/// The outcome of a write.
fn written(answer: Result<Reply, StateError>) -> Result<(), StateError> {
    match answer? {
        Reply::StateWritten(result) => result,
        _ => Err(StateError::Unconfirmed),
    }
}
