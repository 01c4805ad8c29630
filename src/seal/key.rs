//! One 256-bit cluster key: made from bytes, hex, base64 or a key file, or generated from
//! the operating system's randomness; named on the wire by a [`KeyId`] that reveals
//! nothing about it.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// Bytes in a key: both ciphers offered (AES-256-GCM, ChaCha20-Poly1305) take 256 bits.
pub const KEY_LEN: usize = 32;

/// Bytes in a [`KeyId`] on the wire.
pub const KEY_ID_LEN: usize = 4;

/// A 256-bit secret shared by every member of a cluster. Its `Debug` shows only its
/// [`KeyId`], never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; KEY_LEN],
}

/// The public name of a [`Key`]: the first four bytes of SHA-256 over a domain tag and the
/// key. Every sealed packet carries it in the clear, so a receiver tries only the key (or,
/// in a rare collision, the keys) it names. It identifies a key; it does not help guess one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not 32 bytes long (its length is given).
    Length(usize),
    /// The text is neither 64 hex digits nor base64 of 32 bytes.
    Encoding,
    /// The key file could not be read (the kind of the I/O error).
    File(std::io::ErrorKind),
    /// The operating system's random source failed.
    Random,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Length(n) => write!(f, "a key is {KEY_LEN} bytes, not {n}"),
            KeyError::Encoding => {
                write!(f, "a key is 64 hex digits or the base64 of {KEY_LEN} bytes")
            }
            KeyError::File(kind) => write!(f, "the key file could not be read: {kind}"),
            KeyError::Random => write!(f, "the operating system's random source failed"),
        }
    }
}

impl std::error::Error for KeyError {}

impl Key {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, KeyError> {
        let bytes = <[u8; KEY_LEN]>::try_from(bytes).map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Key { bytes })
    }

    /// A key from 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Key, KeyError> {
        let digits = text.as_bytes();
        if digits.len() != 2 * KEY_LEN {
            return Err(if digits.iter().all(u8::is_ascii_hexdigit) {
                KeyError::Length(digits.len() / 2)
            } else {
                KeyError::Encoding
            });
        }
        let mut bytes = [0; KEY_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Key { bytes })
    }

    /// A key from the standard base64 of its 32 bytes (with padding).
    pub fn from_base64(text: &str) -> Result<Key, KeyError> {
        let bytes = BASE64.decode(text).map_err(|_| KeyError::Encoding)?;
        Key::from_bytes(&bytes)
    }

    /// A key from text in either encoding: 64 hex digits, else base64. Surrounding
    /// whitespace is ignored.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        let text = text.trim();
        if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Key::from_hex(text)
        } else {
            Key::from_base64(text)
        }
    }

    /// A key from a file holding its hex or base64 text (a trailing newline is fine), or
    /// exactly its 32 raw bytes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Key, KeyError> {
        let content = std::fs::read(path).map_err(|e| KeyError::File(e.kind()))?;
        match std::str::from_utf8(&content) {
            // Text first; 32 raw bytes that happen to be UTF-8 are still a key.
            Ok(text) => Key::parse(text).or_else(|e| Key::from_bytes(&content).map_err(|_| e)),
            Err(_) => Key::from_bytes(&content),
        }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Key, KeyError> {
        let mut bytes = [0; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyError::Random)?;
        Ok(Key { bytes })
    }

    /// The key's name on the wire.
    pub fn id(&self) -> KeyId {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"epidemic key id v1\0");
        context.update(&self.bytes);
        let hash = context.finish();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&hash.as_ref()[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// The key as 64 lower-case hex digits (for a key file).
    pub fn to_hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key as standard base64 (for a key file).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.bytes)
    }

    /// The key's bytes, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn hex_digit(c: u8) -> Result<u8, KeyError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(KeyError::Encoding),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn counting() -> Key {
        let bytes: Vec<u8> = (0..32).collect();
        Key::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn every_encoding_gives_the_same_key() {
        let key = counting();
        assert_eq!(Key::from_hex(HEX).unwrap(), key);
        assert_eq!(Key::from_hex(&HEX.to_uppercase()).unwrap(), key);
        assert_eq!(key.to_hex(), HEX);
        assert_eq!(Key::from_base64(&key.to_base64()).unwrap(), key);
        assert_eq!(Key::parse(&format!("  {HEX}\n")).unwrap(), key);
        assert_eq!(Key::parse(&key.to_base64()).unwrap(), key);
    }

    #[test]
    fn bad_keys_say_why() {
        assert_eq!(Key::from_bytes(&[0; 16]), Err(KeyError::Length(16)));
        assert_eq!(Key::from_hex(&HEX[..32]), Err(KeyError::Length(16)));
        assert_eq!(
            Key::from_hex(&HEX.replace('0', "g")),
            Err(KeyError::Encoding)
        );
        assert_eq!(Key::from_base64("not base64!"), Err(KeyError::Encoding));
        assert_eq!(Key::from_base64("AAAA"), Err(KeyError::Length(3)));
        assert_eq!(Key::parse(""), Err(KeyError::Length(0)));
        let missing = Key::from_file("/nonexistent/epidemic.key");
        assert_eq!(missing, Err(KeyError::File(std::io::ErrorKind::NotFound)));
    }

    #[test]
    fn key_files_hold_text_or_raw_bytes() {
        let dir = std::env::temp_dir().join(format!("epidemic-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = counting();
        for (file, content) in [
            ("hex", format!("{HEX}\n").into_bytes()),
            ("base64", key.to_base64().into_bytes()),
            ("raw", key.bytes().to_vec()),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, content).unwrap();
            assert_eq!(Key::from_file(&path).unwrap(), key, "{file}");
        }
        // 32 raw bytes that happen to be printable are still raw.
        let printable = Key::from_bytes(&[b'a'; KEY_LEN]).unwrap();
        std::fs::write(dir.join("printable"), [b'a'; KEY_LEN]).unwrap();
        assert_eq!(Key::from_file(dir.join("printable")).unwrap(), printable);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generated_keys_differ_and_ids_name_them_without_showing_them() {
        let (a, b) = (Key::generate().unwrap(), Key::generate().unwrap());
        assert_ne!(a, b);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), a.clone().id());
        let shown = format!("{a:?}");
        assert_eq!(shown, format!("Key({})", a.id()));
        assert!(!shown.contains(&a.to_hex()[..8]));
    }
}
