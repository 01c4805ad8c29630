//! Authenticated encryption of every datagram and frame: keys, the keyring, the sealed
//! envelope and its replay guard.
//!
//! - [`Key`] (`key.rs`): one 256-bit key, from bytes, hex, base64 or a key file, or
//!   generated; named on the wire by its [`KeyId`].
//! - [`Keyring`] (`keyring.rs`): the primary key seals, every installed key opens; the
//!   [`Cipher`] is AES-256-GCM or ChaCha20-Poly1305 (from `ring`).
//! - `Envelope` (`envelope.rs`): the sealed wire format, nonces that never repeat, and
//!   the typed reasons a packet is refused.
//! - `ReplayGuard` (`replay.rs`): a captured packet sent again is refused.
//! - [`EncryptionMode`] and `SealControl` (`control.rs`): what the application changes
//!   while the node runs.
//!
//! The envelope is public only with the `unstable-internals` feature (for the benches
//! and fuzz targets); applications use keys and keyrings.
#![cfg_attr(
    not(feature = "unstable-internals"),
    allow(unused_imports, dead_code, unreachable_pub)
)]

mod control;
mod envelope;
mod key;
mod keyring;
mod replay;

pub(crate) use control::SealControl;
pub use control::{EncryptionError, EncryptionMode};
pub(crate) use envelope::SEALED;
pub use envelope::{Envelope, OpenError, PrefixSource, SEALED_OVERHEAD, SealError, Transport};
pub use key::{KEY_ID_LEN, KEY_LEN, Key, KeyError, KeyId};
pub use keyring::{Cipher, Keyring, KeyringError, MAX_KEYS};
