//! Encryption at run time: the keyring and the [`EncryptionMode`], changed on a running
//! node with no restart. A cluster-wide key rotation is three rounds of calls, each
//! finished on every node before the next begins:
//!
//! 1. [`install_key`](NodeHandle::install_key) the new key everywhere (every node now
//!    opens both keys);
//! 2. [`use_key`](NodeHandle::use_key) it everywhere (nodes seal with it; those not yet
//!    switched still open it);
//! 3. [`remove_key`](NodeHandle::remove_key) the old one everywhere.
//!
//! Turning encryption on in a plaintext cluster is the same shape with the mode: install
//! a key and set [`EncryptionMode::Opening`] everywhere, then `Sealing` everywhere, then
//! `Required` everywhere.

use super::NodeHandle;
use crate::seal::{EncryptionError, EncryptionMode, Key, KeyId};

impl NodeHandle {
    /// Installs `key` for opening; on a node without a keyring, starts one with `key`
    /// as its primary (the mode stays as it was). Installing a key twice changes nothing.
    pub fn install_key(&self, key: Key) -> Result<(), EncryptionError> {
        self.seal_control()?.install(key)
    }

    /// Makes the installed key `id` the one this node seals with.
    pub fn use_key(&self, id: KeyId) -> Result<(), EncryptionError> {
        self.seal_control()?.use_key(id)
    }

    /// Removes the installed key `id` (not the primary: [`use_key`](Self::use_key)
    /// another first).
    pub fn remove_key(&self, id: KeyId) -> Result<(), EncryptionError> {
        self.seal_control()?.remove(id)
    }

    /// The ids of the installed keys, the primary first (empty without a keyring, or once
    /// the node is gone).
    pub fn keys(&self) -> Vec<KeyId> {
        self.seal_control().map_or(Vec::new(), |c| c.ids())
    }

    /// The encryption mode now (`Off` once the node is gone).
    pub fn encryption_mode(&self) -> EncryptionMode {
        self.seal_control()
            .map_or(EncryptionMode::Off, |c| c.mode())
    }

    /// Changes the encryption mode; any mode but `Off` needs a keyring.
    pub fn set_encryption_mode(&self, mode: EncryptionMode) -> Result<(), EncryptionError> {
        self.seal_control()?.set_mode(mode)
    }

    fn seal_control(&self) -> Result<std::sync::Arc<crate::seal::SealControl>, EncryptionError> {
        Ok(self.runtime().ok_or(EncryptionError::Stopped)?.seal.clone())
    }
}
