//! The sealed envelope: how a datagram or a TCP frame is sealed and opened.
//!
//! ```text
//! plain:  magic "EP" | version | flags 0      | cluster (8) | body ...
//! sealed: magic "EP" | version | flags SEALED | cluster (8) | key id (4) | nonce (12)
//!         | AEAD( sent at, ms since the Unix epoch (8) | body ... ) | tag (16)
//! nonce:  prefix (8, random) | counter (4, big-endian)
//! associated data: the 28 clear bytes | transport (0 datagram, 1 frame) | cluster name
//! ```
//!
//! Sealing is a transformation of bytes at the node's edge: components write and read the
//! plain form, and the codec never sees a sealed one. What routing needs (magic, version,
//! cluster, which key) stays in the clear and is authenticated; the cluster name is the
//! label, so clusters with different names never open each other's packets even under one
//! key, and a datagram cannot be passed off as a frame.
//!
//! **Nonces never repeat under a key.** A sender draws an 8-byte random prefix when it
//! starts (from the operating system, whatever seed the node was given) and counts
//! packets under it; after 2³² packets it draws another. A nonce could repeat only if two
//! draws of a prefix under one key collided: with a million sender starts under one key,
//! a chance of 2.7 × 10⁻⁸ (2⁴⁰ / 2⁶⁵), whatever the traffic. (Random 96-bit nonces per
//! packet, memberlist's choice, reach that chance after 2²⁴ packets; NIST SP 800-38D caps
//! them at 2³² per key.)

use std::borrow::Cow;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};

use super::key::{KEY_ID_LEN, KeyId};
use super::keyring::Keyring;
use super::replay::{Refusal, ReplayGuard};
use crate::codec::{DecodeError, HEADER_LEN, MAGIC, PROTOCOL_VERSION, decode_header};

/// Header flag: the packet is sealed.
pub(crate) const SEALED: u8 = 0x01;
/// Bytes of the random part of a nonce.
pub(crate) const NONCE_PREFIX_LEN: usize = 8;
/// Bytes of the sender's time inside the sealed part (no more than the header's, which
/// `open` decrypts it over).
const TIME_LEN: usize = 8;
const _: () = assert!(TIME_LEN <= HEADER_LEN);
/// Bytes of the authentication tag.
const TAG_LEN: usize = 16;
/// Bytes in the clear after the header: key id and nonce.
const CLEAR_LEN: usize = HEADER_LEN + KEY_ID_LEN + NONCE_LEN;
/// Bytes sealing adds to a packet: key id, nonce, time and tag.
pub const SEALED_OVERHEAD: usize = KEY_ID_LEN + NONCE_LEN + TIME_LEN + TAG_LEN;

/// Which transport a packet travels on: bound into its associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Datagram = 0,
    /// A TCP frame (after its length prefix).
    Frame = 1,
}

/// Why a packet was not opened. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not sealed, and this node takes only sealed packets.
    Plaintext,
    /// Sealed, but its header is not one of ours (magic, version or flags).
    Header(DecodeError),
    /// Sealed for another cluster (the id in the clear is not ours).
    WrongCluster,
    /// Too short to hold a sealed packet.
    Truncated,
    /// Sealed with a key this node does not hold (or this node holds none).
    UnknownKey,
    /// Did not authenticate: tampered, truncated inside, forged, or sealed with a key of
    /// the same id for another label.
    Forged,
    /// Authentic, but sealed further from this node's clock than the skew allowed.
    Stale,
    /// Authentic, but taken before.
    Replayed,
    /// Authentic, from a new sender, and the table of senders is full.
    TooManySenders,
}

/// Where the random part of nonces comes from.
#[derive(Debug)]
pub enum PrefixSource {
    /// The operating system: every real node.
    Os,
    /// A seeded stream: only the simulator, whose nodes draw distinct seeds.
    Seeded(Box<ChaCha8Rng>),
}

/// Why a packet could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The bytes are not a plain packet (too short, or flags already set).
    NotPlain,
    /// The operating system's random source failed (a new nonce prefix was needed).
    Random,
    /// Longer than the cipher can seal in one piece (about 64 GiB).
    TooLong,
}

/// One node's sealing state: its nonce sequence, its replay guard and its label.
#[derive(Debug)]
pub struct Envelope {
    cluster: u64,
    /// The 28 clear bytes and the transport are written in front of the label per packet.
    aad: Vec<u8>,
    prefix: [u8; NONCE_PREFIX_LEN],
    next: Option<u32>,
    source: PrefixSource,
    guard: ReplayGuard,
    require_sealed: bool,
}

impl Envelope {
    /// The envelope of a node in the cluster named `cluster` (its id and label), taking
    /// packets sealed within `max_skew_ms` of its clock from up to `max_senders` senders
    /// at once; plaintext packets are refused if `require_sealed`.
    pub fn new(
        cluster: &str,
        max_skew_ms: u64,
        max_senders: usize,
        source: PrefixSource,
        require_sealed: bool,
    ) -> Envelope {
        let mut aad = vec![0; CLEAR_LEN + 1];
        aad.extend_from_slice(cluster.as_bytes());
        Envelope {
            cluster: crate::hash::fnv1a(cluster.as_bytes()),
            aad,
            prefix: [0; NONCE_PREFIX_LEN],
            next: None,
            source,
            guard: ReplayGuard::new(max_skew_ms, max_senders),
            require_sealed,
        }
    }

    /// Whether plaintext packets are refused.
    pub fn set_require_sealed(&mut self, require: bool) {
        self.require_sealed = require;
    }

    /// Senders the replay guard remembers now.
    pub fn senders(&self) -> usize {
        self.guard.len()
    }

    /// Seals the plain packet `plain` (header first) with `keyring`'s primary key, as sent
    /// at `now_ms` (ms since the Unix epoch).
    pub fn seal(
        &mut self,
        keyring: &Keyring,
        transport: Transport,
        plain: &[u8],
        now_ms: u64,
    ) -> Result<Vec<u8>, SealError> {
        if plain.len() < HEADER_LEN || plain[3] != 0 {
            return Err(SealError::NotPlain);
        }
        let nonce = self.next_nonce()?;
        let (id, key) = keyring.sealing();
        let mut out = Vec::with_capacity(plain.len() + SEALED_OVERHEAD);
        out.extend_from_slice(&plain[..HEADER_LEN]);
        out[3] = SEALED;
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&now_ms.to_be_bytes());
        out.extend_from_slice(&plain[HEADER_LEN..]);
        let aad = self.aad_for(&out[..CLEAR_LEN], transport);
        let secret = &mut out[CLEAR_LEN..];
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), aad, secret)
            .map_err(|_| SealError::TooLong)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens `bytes` received on `transport` at `now_ms`: the plain packet (header first,
    /// flags 0) to decode, borrowed as it came if it was not sealed and plaintext is
    /// allowed. `keyring` is `None` on a node without keys.
    pub fn open<'a>(
        &mut self,
        keyring: Option<&Keyring>,
        transport: Transport,
        bytes: &'a [u8],
        now_ms: u64,
    ) -> Result<Cow<'a, [u8]>, OpenError> {
        // Only what starts as one of ours can be sealed; anything else is left to the
        // codec, which says why it is not a packet.
        let ours = bytes.get(..3) == Some(&[MAGIC[0], MAGIC[1], PROTOCOL_VERSION][..]);
        let sealed = ours && bytes.get(3).is_some_and(|flags| flags & SEALED != 0);
        if !sealed {
            return match self.require_sealed {
                true => Err(OpenError::Plaintext),
                false => Ok(Cow::Borrowed(bytes)),
            };
        }
        let header = self.clear_header(bytes)?;
        if bytes.len() < CLEAR_LEN + TIME_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        let id = KeyId(fixed(&bytes[HEADER_LEN..HEADER_LEN + KEY_ID_LEN]));
        let nonce: [u8; NONCE_LEN] = fixed(&bytes[HEADER_LEN + KEY_ID_LEN..CLEAR_LEN]);
        // One copy: the plaintext (time, body) is decrypted into place `TIME_LEN` bytes
        // before the header's end, so the body lands right after the header.
        let start = HEADER_LEN - TIME_LEN;
        let mut tried = false;
        let mut opened = None;
        for key in keyring.into_iter().flat_map(|k| k.opening(id)) {
            tried = true;
            let mut buf = bytes.to_vec();
            let aad = self.aad_for(&bytes[..CLEAR_LEN], transport);
            let nonce = Nonce::assume_unique_for_key(nonce);
            if let Ok(plain) = key.open_within(nonce, aad, &mut buf[start..], CLEAR_LEN - start..) {
                let len = plain.len();
                buf.truncate(start + len);
                opened = Some(buf);
                break;
            }
        }
        let Some(mut plain) = opened else {
            return Err(if tried {
                OpenError::Forged
            } else {
                OpenError::UnknownKey
            });
        };
        let sent_ms = u64::from_be_bytes(fixed(&plain[start..HEADER_LEN]));
        let prefix = fixed(&nonce[..NONCE_PREFIX_LEN]);
        let counter = u32::from_be_bytes(fixed(&nonce[NONCE_PREFIX_LEN..]));
        self.guard
            .accept(prefix, counter, sent_ms, now_ms)
            .map_err(|refusal| match refusal {
                Refusal::Stale => OpenError::Stale,
                Refusal::Replayed => OpenError::Replayed,
                Refusal::TooManySenders => OpenError::TooManySenders,
            })?;
        plain[..HEADER_LEN].copy_from_slice(&header);
        Ok(Cow::Owned(plain))
    }

    /// The plain header of a sealed packet (flags cleared), checked to be ours.
    fn clear_header(&self, bytes: &[u8]) -> Result<[u8; HEADER_LEN], OpenError> {
        if bytes.len() < HEADER_LEN {
            return Err(OpenError::Truncated);
        }
        let mut header: [u8; HEADER_LEN] = fixed(&bytes[..HEADER_LEN]);
        if header[3] != SEALED {
            return Err(OpenError::Header(DecodeError::UnsupportedFlags(header[3])));
        }
        header[3] = 0;
        let decoded = decode_header(&header).map_err(OpenError::Header)?;
        if decoded.cluster != self.cluster {
            return Err(OpenError::WrongCluster);
        }
        Ok(header)
    }

    /// The associated data of a packet whose clear bytes are `clear`.
    fn aad_for(&mut self, clear: &[u8], transport: Transport) -> Aad<&[u8]> {
        self.aad[..CLEAR_LEN].copy_from_slice(clear);
        self.aad[CLEAR_LEN] = transport as u8;
        Aad::from(&self.aad[..])
    }

    /// The next nonce: this prefix's next counter, or a new prefix when it has none left.
    fn next_nonce(&mut self) -> Result<[u8; NONCE_LEN], SealError> {
        let counter = match self.next {
            Some(counter) => counter,
            None => {
                match &mut self.source {
                    PrefixSource::Os => SystemRandom::new()
                        .fill(&mut self.prefix)
                        .map_err(|_| SealError::Random)?,
                    PrefixSource::Seeded(rng) => rng.fill_bytes(&mut self.prefix),
                }
                0
            }
        };
        self.next = counter.checked_add(1);
        let mut nonce = [0; NONCE_LEN];
        nonce[..NONCE_PREFIX_LEN].copy_from_slice(&self.prefix);
        nonce[NONCE_PREFIX_LEN..].copy_from_slice(&counter.to_be_bytes());
        Ok(nonce)
    }
}

/// The first `N` bytes of `bytes`, whose length the caller checked.
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests;
