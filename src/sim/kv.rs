//! The replicated key-value state in the simulator: write and read any node's state, see
//! every change each node learned and when, and check that replicas agree.
//!
//! ```
//! use std::time::Duration;
//! use epidemic::sim::{NodeId, Simulation};
//!
//! let mut sim = Simulation::builder().nodes(5).seed(3).bootstrapped(true).build();
//! sim.set(NodeId(0), "log_level", b"debug".to_vec()).unwrap();
//! sim.run_for(Duration::from_secs(10)).unwrap();
//! assert_eq!(sim.get(NodeId(4), NodeId(0), "log_level").as_deref(), Some(&b"debug"[..]));
//! assert!(sim.check_state_converged().is_ok());
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use super::NodeId;
use super::engine::Simulation;
use super::node::Status;
use crate::error::StateError;
use crate::member::NodeName;
use crate::protocol::{ComponentInput, Reply, RequestId, StateChange, StateInput, check_key};

/// A key of another node's map changed at a node (what `on_state_change` receives in the
/// runtime).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChanged {
    /// When.
    pub at: Duration,
    /// The node that learned the change.
    pub node: NodeId,
    /// The node that owns the key.
    pub owner: NodeName,
    /// The key.
    pub key: String,
    /// The new value, `None` when deleted.
    pub value: Option<Vec<u8>>,
}

/// What a node sent for the replicated key-value state since its process started: the
/// cost of anti-entropy (its four counters in [`crate::Stats`]).
///
/// A leg is one message of an exchange (see [`crate::StateMode`]): a datagram leg rides in
/// one datagram (with gossip packed alongside, not counted here), a frame leg is a TCP
/// exchange's request or its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateTraffic {
    /// Legs sent in datagrams.
    pub datagram_legs: u64,
    /// Bytes of those legs: the state message with its 3-byte framing, no packet header.
    pub datagram_bytes: u64,
    /// Legs sent as TCP frames (exchanges opened and answers on them).
    pub frame_legs: u64,
    /// Bytes of those frames, frame header included.
    pub frame_bytes: u64,
}

impl StateTraffic {
    /// Legs of either kind.
    pub fn legs(&self) -> u64 {
        self.datagram_legs + self.frame_legs
    }

    /// Bytes of either kind.
    pub fn bytes(&self) -> u64 {
        self.datagram_bytes + self.frame_bytes
    }
}

impl Simulation {
    /// What `node` sent for the key-value state since its process (re)started.
    pub fn state_traffic(&self, node: NodeId) -> StateTraffic {
        self.nodes
            .get(node.0)
            .map_or_else(StateTraffic::default, |n| {
                let stats = n.counters().snapshot();
                StateTraffic {
                    datagram_legs: stats.state_datagram_legs,
                    datagram_bytes: stats.state_datagram_bytes,
                    frame_legs: stats.state_frame_legs,
                    frame_bytes: stats.state_frame_bytes,
                }
            })
    }

    /// Sets `key` of `node`'s map, as `Node::set`.
    pub fn set(&mut self, node: NodeId, key: &str, value: Vec<u8>) -> Result<(), StateError> {
        let key = key.to_string();
        self.write(node, |request| StateInput::Set {
            request,
            key,
            value,
        })
    }

    /// Deletes `key` from `node`'s map, as `Node::delete`.
    pub fn delete(&mut self, node: NodeId, key: &str) -> Result<(), StateError> {
        check_key(key)?;
        let key = key.to_string();
        self.write(node, |request| StateInput::Delete { request, key })
    }

    /// `owner`'s value of `key` as `observer` holds it (as `Node::get`).
    pub fn get(&self, observer: NodeId, owner: NodeId, key: &str) -> Option<Vec<u8>> {
        let owner = &self.nodes.get(owner.0)?.name;
        let value = self.nodes.get(observer.0)?.parts().state.get(owner, key)?;
        Some(value.to_vec())
    }

    /// `owner`'s whole map as `observer` holds it (as `Node::state`).
    pub fn state(&self, observer: NodeId, owner: NodeId) -> BTreeMap<String, Vec<u8>> {
        let (Some(observer), Some(owner)) = (self.nodes.get(observer.0), self.nodes.get(owner.0))
        else {
            return BTreeMap::new();
        };
        observer
            .parts()
            .state
            .owner_state(&owner.name)
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_vec()))
            .collect()
    }

    /// Whether `node` reconciles its state on a schedule (it holds or held state); an
    /// idle node has no state deadline and sends nothing for the state.
    pub fn state_active(&self, node: NodeId) -> bool {
        self.nodes
            .get(node.0)
            .is_some_and(|n| n.parts().state.is_active())
    }

    /// Every state change every node learned so far, in the order they happened.
    pub fn state_changes(&self) -> &[StateChanged] {
        &self.state_changes
    }

    /// Whether every running node holds every running node's map exactly as its owner
    /// does. `Err` names the first disagreement.
    pub fn check_state_converged(&self) -> Result<(), String> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].status != Status::Down)
            .collect();
        for &owner in &up {
            let truth = self.state(NodeId(owner), NodeId(owner));
            for &observer in &up {
                let held = self.state(NodeId(observer), NodeId(owner));
                if held != truth {
                    let (o, n) = (&self.nodes[owner].name, &self.nodes[observer].name);
                    return Err(format!(
                        "{n} holds {} keys of {o}'s {} (or other values)",
                        held.len(),
                        truth.len()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs in 100 ms steps until [`Simulation::check_state_converged`] holds, at most
    /// `max`; returns how long it took, or the last disagreement.
    pub fn run_until_state_converged(&mut self, max: Duration) -> Result<Duration, String> {
        let start = self.now;
        loop {
            if self.check_state_converged().is_ok() {
                return Ok(self.now.saturating_since(start));
            }
            if self.now.saturating_since(start) >= max {
                return Err(self.check_state_converged().err().unwrap_or_default());
            }
            self.run_for(Duration::from_millis(100))
                .map_err(|v| v.to_string())?;
        }
    }

    /// Records a change a node learned, and mixes it into the trace hash.
    pub(super) fn state_changed(&mut self, node: usize, change: StateChange) {
        let at = self.now();
        self.trace.mix(&at.as_micros().to_be_bytes());
        self.trace.mix(&(node as u64).to_be_bytes());
        self.trace.mix(change.owner.as_str().as_bytes());
        self.trace.mix(change.key.as_str().as_bytes());
        if let Some(value) = &change.value {
            self.trace.mix(value);
        }
        self.state_changes.push(StateChanged {
            at,
            node: NodeId(node),
            owner: change.owner,
            key: change.key.as_str().to_string(),
            value: change.value.map(|v| v.to_vec()),
        });
    }

    /// Feeds a write to `node`'s state component now and takes its answer.
    fn write(
        &mut self,
        node: NodeId,
        input: impl FnOnce(RequestId) -> StateInput,
    ) -> Result<(), StateError> {
        match self.command(node, |request| ComponentInput::State(input(request))) {
            Some(Reply::StateWritten(result)) => result,
            _ => Err(StateError::Stopped),
        }
    }
}
