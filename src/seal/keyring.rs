//! The keyring: one primary key that seals, up to [`MAX_KEYS`] that open. Rotation is
//! three steps across the cluster — install the new key everywhere, make it primary
//! everywhere, remove the old one — and at every moment each node can open what any other
//! seals, so nothing is dropped on the way (README, "Security").

use std::fmt;

use ring::aead::{self, LessSafeKey, UnboundKey};

use super::key::{Key, KeyId};

/// Keys a keyring holds at most: a rotation needs two; the rest leaves room for keys
/// installed ahead of time.
pub const MAX_KEYS: usize = 8;

/// The AEAD that seals and opens. Both take a 256-bit key, a 96-bit nonce and give a
/// 128-bit tag; every node of a cluster must use the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cipher {
    /// AES-256 in Galois/Counter Mode: the fastest where the CPU has AES and carry-less
    /// multiply instructions (every x86-64 and ARMv8 server of the last decade).
    #[default]
    Aes256Gcm,
    /// ChaCha20-Poly1305: constant-time in software, for CPUs without AES instructions.
    ChaCha20Poly1305,
}

impl Cipher {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
            Cipher::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }
}

/// Why a keyring operation was refused. Each leaves the keyring as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// The keyring already holds [`MAX_KEYS`] keys.
    Full,
    /// No key with this id is installed.
    Unknown(KeyId),
    /// The primary key cannot be removed: make another primary first.
    Primary(KeyId),
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Full => write!(f, "the keyring holds {MAX_KEYS} keys already"),
            KeyringError::Unknown(id) => write!(f, "no key {id} is installed"),
            KeyringError::Primary(id) => {
                write!(f, "key {id} is the primary: make another primary first")
            }
        }
    }
}

impl std::error::Error for KeyringError {}

/// One installed key, with its cipher's key schedule computed once.
struct Slot {
    id: KeyId,
    key: Key,
    aead: LessSafeKey,
}

/// The keys of one node: the primary seals, every key opens.
pub struct Keyring {
    cipher: Cipher,
    /// The primary first.
    slots: Vec<Slot>,
}

impl Keyring {
    /// A keyring sealing with `primary` under AES-256-GCM.
    pub fn new(primary: Key) -> Keyring {
        Keyring::with_cipher(Cipher::default(), primary)
    }

    /// A keyring sealing with `primary` under `cipher`.
    pub fn with_cipher(cipher: Cipher, primary: Key) -> Keyring {
        Keyring {
            cipher,
            slots: vec![slot(cipher, primary)],
        }
    }

    /// The cipher every key is used with.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The id of the key that seals.
    pub fn primary(&self) -> KeyId {
        self.slots[0].id
    }

    /// The ids of every installed key, the primary first.
    pub fn ids(&self) -> Vec<KeyId> {
        self.slots.iter().map(|s| s.id).collect()
    }

    /// Whether `id` is installed.
    pub fn contains(&self, id: KeyId) -> bool {
        self.slots.iter().any(|s| s.id == id)
    }

    /// Installs `key` for opening (installing it again changes nothing).
    pub fn install(&mut self, key: Key) -> Result<(), KeyringError> {
        if self.slots.iter().any(|s| s.key == key) {
            return Ok(());
        }
        if self.slots.len() >= MAX_KEYS {
            return Err(KeyringError::Full);
        }
        self.slots.push(slot(self.cipher, key));
        Ok(())
    }

    /// Makes the installed key `id` the one that seals.
    pub fn use_key(&mut self, id: KeyId) -> Result<(), KeyringError> {
        let at = self.position(id)?;
        let chosen = self.slots.remove(at);
        self.slots.insert(0, chosen);
        Ok(())
    }

    /// Removes the key `id`, which must not be the primary.
    pub fn remove(&mut self, id: KeyId) -> Result<(), KeyringError> {
        match self.position(id)? {
            0 => Err(KeyringError::Primary(id)),
            at => {
                self.slots.remove(at);
                Ok(())
            }
        }
    }

    /// The primary key's id and cipher state, to seal with.
    pub(crate) fn sealing(&self) -> (KeyId, &LessSafeKey) {
        (self.slots[0].id, &self.slots[0].aead)
    }

    /// The cipher states of the keys named `id` (one, but for a 32-bit id collision).
    pub(crate) fn opening(&self, id: KeyId) -> impl Iterator<Item = &LessSafeKey> {
        self.slots
            .iter()
            .filter(move |s| s.id == id)
            .map(|s| &s.aead)
    }

    fn position(&self, id: KeyId) -> Result<usize, KeyringError> {
        self.slots
            .iter()
            .position(|s| s.id == id)
            .ok_or(KeyringError::Unknown(id))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("cipher", &self.cipher)
            .field("keys", &self.ids())
            .finish()
    }
}

fn slot(cipher: Cipher, key: Key) -> Slot {
    let unbound = UnboundKey::new(cipher.algorithm(), key.bytes())
        .expect("both ciphers take a 256-bit key, and a Key is 256 bits");
    Slot {
        id: key.id(),
        key,
        aead: LessSafeKey::new(unbound),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(n: u8) -> Key {
        Key::from_bytes(&[n; 32]).unwrap()
    }

    #[test]
    fn a_rotation_installs_switches_and_removes() {
        let mut ring = Keyring::new(key(1));
        assert_eq!(ring.ids(), vec![key(1).id()]);
        ring.install(key(2)).unwrap();
        ring.install(key(2)).unwrap();
        assert_eq!(ring.ids(), vec![key(1).id(), key(2).id()], "once each");
        assert_eq!(ring.primary(), key(1).id());
        ring.use_key(key(2).id()).unwrap();
        assert_eq!(ring.primary(), key(2).id());
        assert_eq!(ring.sealing().0, key(2).id());
        ring.remove(key(1).id()).unwrap();
        assert_eq!(ring.ids(), vec![key(2).id()]);
        assert!(!ring.contains(key(1).id()));
        assert_eq!(ring.opening(key(1).id()).count(), 0);
        assert_eq!(ring.opening(key(2).id()).count(), 1);
    }

    #[test]
    fn refusals_leave_the_keyring_as_it_was() {
        let mut ring = Keyring::with_cipher(Cipher::ChaCha20Poly1305, key(0));
        for n in 1..MAX_KEYS as u8 {
            ring.install(key(n)).unwrap();
        }
        let before = ring.ids();
        assert_eq!(ring.install(key(99)), Err(KeyringError::Full));
        let stranger = key(98).id();
        assert_eq!(ring.use_key(stranger), Err(KeyringError::Unknown(stranger)));
        assert_eq!(ring.remove(stranger), Err(KeyringError::Unknown(stranger)));
        let primary = ring.primary();
        assert_eq!(ring.remove(primary), Err(KeyringError::Primary(primary)));
        assert_eq!(ring.ids(), before);
        assert_eq!(ring.cipher(), Cipher::ChaCha20Poly1305);
        assert!(!format!("{ring:?}").contains(&key(0).to_hex()));
    }
}
