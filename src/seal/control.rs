//! What a node's application can change about sealing while the node runs: the keyring and
//! the [`EncryptionMode`]. Shared between the node's handle and the thread that seals and
//! opens (the reactor; in the simulator, the node core).

use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::RwLock;

use super::key::{Key, KeyId};
use super::keyring::{Cipher, Keyring, KeyringError};

/// What a node does with sealed and plaintext packets. Changing it one step at a time
/// across a cluster turns encryption on (or off) with no downtime: every node can always
/// read what every other sends.
///
/// | mode | sends | takes sealed | takes plaintext |
/// |---|---|---|---|
/// | `Off` | plaintext | no | yes |
/// | `Opening` | plaintext | yes | yes |
/// | `Sealing` | sealed | yes | yes |
/// | `Required` | sealed | yes | no |
///
/// Turning it on: give every node a keyring in `Opening`, then switch every node to
/// `Sealing`, then every node to `Required` (memberlist's `GossipVerifyIncoming` and
/// `GossipVerifyOutgoing` as one setting that changes at run time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncryptionMode {
    /// No encryption: plaintext out, sealed input refused as [`crate::DropReason::UnknownKey`].
    #[default]
    Off,
    /// Opens sealed input, sends plaintext: the first step of turning encryption on.
    Opening,
    /// Sends sealed, still takes plaintext: the second step.
    Sealing,
    /// Sends sealed, refuses plaintext ([`crate::DropReason::Plaintext`]): encryption on.
    Required,
}

impl EncryptionMode {
    fn code(self) -> u8 {
        match self {
            EncryptionMode::Off => 0,
            EncryptionMode::Opening => 1,
            EncryptionMode::Sealing => 2,
            EncryptionMode::Required => 3,
        }
    }

    fn from_code(code: u8) -> EncryptionMode {
        match code {
            1 => EncryptionMode::Opening,
            2 => EncryptionMode::Sealing,
            3 => EncryptionMode::Required,
            _ => EncryptionMode::Off,
        }
    }

    /// Whether packets leave sealed.
    pub(crate) fn seals(self) -> bool {
        matches!(self, EncryptionMode::Sealing | EncryptionMode::Required)
    }

    /// Whether plaintext input is refused.
    pub(crate) fn requires_sealed(self) -> bool {
        self == EncryptionMode::Required
    }
}

/// Why an encryption setting was refused. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptionError {
    /// The node has no keyring: install a key first.
    NoKeyring,
    /// The node has stopped (or not started yet).
    Stopped,
    /// The keyring refused the change.
    Keyring(KeyringError),
}

impl std::fmt::Display for EncryptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncryptionError::NoKeyring => write!(f, "the node has no keyring: install a key"),
            EncryptionError::Stopped => write!(f, "the node has stopped"),
            EncryptionError::Keyring(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EncryptionError {}

impl From<KeyringError> for EncryptionError {
    fn from(e: KeyringError) -> EncryptionError {
        EncryptionError::Keyring(e)
    }
}

/// A node's keyring and mode, changed by the application, read per packet.
#[derive(Debug, Default)]
pub(crate) struct SealControl {
    keyring: RwLock<Option<Keyring>>,
    mode: AtomicU8,
}

impl SealControl {
    /// Control over a node starting with `keyring` (if any) in `mode`.
    pub(crate) fn new(keyring: Option<Keyring>, mode: EncryptionMode) -> SealControl {
        SealControl {
            keyring: RwLock::new(keyring),
            mode: AtomicU8::new(mode.code()),
        }
    }

    /// The mode now.
    pub(crate) fn mode(&self) -> EncryptionMode {
        EncryptionMode::from_code(self.mode.load(Ordering::Acquire))
    }

    /// Sets the mode; any mode but `Off` needs a keyring.
    pub(crate) fn set_mode(&self, mode: EncryptionMode) -> Result<(), EncryptionError> {
        let keyring = self.keyring.read();
        if mode != EncryptionMode::Off && keyring.is_none() {
            return Err(EncryptionError::NoKeyring);
        }
        self.mode.store(mode.code(), Ordering::Release);
        Ok(())
    }

    /// The keyring, to seal or open with (`None`: no keys).
    pub(crate) fn keyring(&self) -> parking_lot::RwLockReadGuard<'_, Option<Keyring>> {
        self.keyring.read()
    }

    /// Installs `key`; on a node without a keyring, starts one (AES-256-GCM) with it as
    /// the primary. The mode is not changed.
    pub(crate) fn install(&self, key: Key) -> Result<(), EncryptionError> {
        let mut keyring = self.keyring.write();
        match keyring.as_mut() {
            Some(ring) => Ok(ring.install(key)?),
            None => {
                *keyring = Some(Keyring::with_cipher(Cipher::default(), key));
                Ok(())
            }
        }
    }

    /// Makes `id` the primary key.
    pub(crate) fn use_key(&self, id: KeyId) -> Result<(), EncryptionError> {
        let mut keyring = self.keyring.write();
        let ring = keyring.as_mut().ok_or(EncryptionError::NoKeyring)?;
        Ok(ring.use_key(id)?)
    }

    /// Removes `id`, which must not be the primary.
    pub(crate) fn remove(&self, id: KeyId) -> Result<(), EncryptionError> {
        let mut keyring = self.keyring.write();
        let ring = keyring.as_mut().ok_or(EncryptionError::NoKeyring)?;
        Ok(ring.remove(id)?)
    }

    /// The installed keys' ids, the primary first (none without a keyring).
    pub(crate) fn ids(&self) -> Vec<KeyId> {
        self.keyring
            .read()
            .as_ref()
            .map_or(Vec::new(), Keyring::ids)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn modes_need_a_keyring_and_keys_start_one() {
        let control = SealControl::default();
        assert_eq!(control.mode(), EncryptionMode::Off);
        assert_eq!(
            control.set_mode(EncryptionMode::Sealing),
            Err(EncryptionError::NoKeyring)
        );
        let key = Key::from_bytes(&[1; 32]).unwrap();
        assert_eq!(control.use_key(key.id()), Err(EncryptionError::NoKeyring));
        control.install(key.clone()).unwrap();
        assert_eq!(control.ids(), vec![key.id()]);
        for mode in [
            EncryptionMode::Opening,
            EncryptionMode::Sealing,
            EncryptionMode::Required,
            EncryptionMode::Off,
        ] {
            control.set_mode(mode).unwrap();
            assert_eq!(control.mode(), mode);
        }
        let primary = key.id();
        assert_eq!(
            control.remove(primary),
            Err(EncryptionError::Keyring(KeyringError::Primary(primary)))
        );
    }
}
