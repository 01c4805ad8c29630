//! Encryption in the simulator: each node's keyring and mode, changed between steps as an
//! operator would change a real node's (`NodeHandle::install_key` and the rest), so
//! rotations and turning encryption on can be played out deterministically.

use super::NodeId;
use super::engine::Simulation;
use crate::seal::{EncryptionError, EncryptionMode, Key, KeyId};

impl Simulation {
    /// Installs `key` on `node` (starting its keyring if it has none).
    pub fn install_key(&mut self, node: NodeId, key: Key) -> Result<(), EncryptionError> {
        self.seal_of(node)?.install(key)
    }

    /// Makes `id` the key `node` seals with.
    pub fn use_key(&mut self, node: NodeId, id: KeyId) -> Result<(), EncryptionError> {
        self.seal_of(node)?.use_key(id)
    }

    /// Removes the key `id` from `node`.
    pub fn remove_key(&mut self, node: NodeId, id: KeyId) -> Result<(), EncryptionError> {
        self.seal_of(node)?.remove(id)
    }

    /// The ids of `node`'s keys, the primary first.
    pub fn keys(&self, node: NodeId) -> Vec<KeyId> {
        self.nodes.get(node.0).map_or(Vec::new(), |n| n.seal.ids())
    }

    /// Sets `node`'s encryption mode.
    pub fn set_encryption_mode(
        &mut self,
        node: NodeId,
        mode: EncryptionMode,
    ) -> Result<(), EncryptionError> {
        self.seal_of(node)?.set_mode(mode)
    }

    /// Skews `node`'s wall clock (the time its sealed packets carry and are checked
    /// against) by `ms` milliseconds, ahead if positive, until it restarts.
    pub fn skew_clock(&mut self, node: NodeId, ms: i64) {
        if let Some(n) = self.nodes.get_mut(node.0) {
            let origin = crate::protocol::WALL_ORIGIN_MS.saturating_add_signed(ms);
            n.core.set_wall_origin(origin);
        }
    }

    fn seal_of(&self, node: NodeId) -> Result<&crate::seal::SealControl, EncryptionError> {
        self.nodes
            .get(node.0)
            .map(|n| &*n.seal)
            .ok_or(EncryptionError::Stopped)
    }
}
