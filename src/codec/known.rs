//! Feedback for rumor mongering: the [`Known`] message (type 12).
//!
//! ```text
//! A -> user(x) -> B          B had x already
//! A <- known{x} -- B         A counts B once for x; after k such peers A stops pushing x
//!
//! message   len u16 | type u8 = 12 | body
//! body      count u8 (0..=MAX_KNOWN_IDS) | count × { origin name | seq u64 }
//! ```
//! This is the "feedback, counter" variant of Demers et al. 1987 (Epidemic algorithms for
//! replicated database maintenance); see `BroadcastMode::Feedback`.

use super::error::{DecodeError, EncodeError};
use super::wire::{self, MIN_NAME_LEN, Reader, name_len};
use crate::member::NodeName;

/// The datagram message type code of [`super::Message::Known`].
pub const KNOWN_MESSAGE_TYPE: u8 = 12;
/// Most broadcast ids in one [`Known`] message. A receiver answers at most one datagram's
/// duplicates at a time, so a few dozen is plenty; more go in further messages.
pub const MAX_KNOWN_IDS: usize = 32;
/// Bytes of a [`Known`] message with no id, its length and type included.
pub const KNOWN_OVERHEAD: usize = 3 + 1;

/// Smallest encoded id (one-byte origin name).
const MIN_ID_LEN: usize = MIN_NAME_LEN + 8;

/// `B -> known{ids} -> A`: B already had these user broadcasts when A pushed them. Each id
/// is the broadcast's `(origin, seq)` (at most [`MAX_KNOWN_IDS`] of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// The broadcasts the sender already knew.
    pub ids: Vec<(NodeName, u64)>,
}

impl Known {
    /// Exact bytes of the body (what follows the message type byte).
    pub fn body_len(&self) -> usize {
        1 + self.encoded_ids().iter().map(Known::id_len).sum::<usize>()
    }

    /// Checks the id count against [`MAX_KNOWN_IDS`].
    pub fn check_limits(&self) -> Result<(), EncodeError> {
        if self.ids.len() > MAX_KNOWN_IDS {
            return Err(EncodeError::FieldTooLarge {
                what: "known ids",
                len: self.ids.len(),
                max: MAX_KNOWN_IDS,
            });
        }
        Ok(())
    }

    /// Appends the body. Infallible: ids beyond [`MAX_KNOWN_IDS`] (a contract violation,
    /// see [`Known::check_limits`]) are cut so the output still decodes.
    pub(crate) fn encode_body(&self, buf: &mut Vec<u8>) {
        let ids = self.encoded_ids();
        wire::put_u8(buf, u8::try_from(ids.len()).unwrap_or(u8::MAX));
        for (origin, seq) in ids {
            wire::put_name(buf, origin);
            wire::put_u64(buf, *seq);
        }
    }

    /// Reads a body; the caller checks that nothing follows.
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Known, DecodeError> {
        let count = usize::from(r.u8()?);
        if count > MAX_KNOWN_IDS {
            return Err(DecodeError::LengthOutOfRange {
                what: "known ids",
                len: count,
                max: MAX_KNOWN_IDS,
            });
        }
        // A lying count must not make us allocate for ids that are not there.
        if count * MIN_ID_LEN > r.remaining() {
            return Err(DecodeError::Truncated);
        }
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push((r.name()?, r.u64()?));
        }
        Ok(Known { ids })
    }

    /// Encoded bytes of one id: what adding it to a message adds to its length.
    pub fn id_len((origin, _): &(NodeName, u64)) -> usize {
        name_len(origin) + 8
    }

    fn encoded_ids(&self) -> &[(NodeName, u64)] {
        self.ids.get(..MAX_KNOWN_IDS).unwrap_or(&self.ids)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::codec::{Header, Message, PACKET_OVERHEAD, decode_packet, encode_packet};

    const HEADER: Header = Header {
        cluster: 9,
        flags: 0,
    };

    fn id(origin: &str, seq: u64) -> (NodeName, u64) {
        (NodeName::new(origin).unwrap(), seq)
    }

    /// A packet around one raw Known body.
    fn raw(body: &[u8]) -> Vec<u8> {
        let mut packet = encode_packet(&HEADER, &[Message::Known(Known { ids: vec![] })]).unwrap();
        packet.truncate(PACKET_OVERHEAD);
        let len = u16::try_from(1 + body.len()).unwrap();
        packet.extend_from_slice(&len.to_be_bytes());
        packet.push(KNOWN_MESSAGE_TYPE);
        packet.extend_from_slice(body);
        packet
    }

    #[test]
    fn round_trips_with_an_exact_length() {
        for ids in [
            vec![],
            vec![id("a", 1)],
            vec![id("nœud-7", u64::MAX), id("b", 0)],
        ] {
            let message = Message::Known(Known { ids });
            let bytes = encode_packet(&HEADER, std::slice::from_ref(&message)).unwrap();
            assert_eq!(bytes.len(), PACKET_OVERHEAD + message.encoded_len());
            assert_eq!(decode_packet(&bytes).unwrap().messages, [message]);
        }
        let empty = Message::Known(Known { ids: vec![] });
        assert_eq!(empty.encoded_len(), KNOWN_OVERHEAD);
    }

    #[test]
    fn too_many_ids_are_refused_both_ways() {
        let ids: Vec<_> = (0..=MAX_KNOWN_IDS as u64).map(|s| id("a", s)).collect();
        let over = Message::Known(Known { ids });
        assert_eq!(
            encode_packet(&HEADER, std::slice::from_ref(&over)),
            Err(EncodeError::FieldTooLarge {
                what: "known ids",
                len: MAX_KNOWN_IDS + 1,
                max: MAX_KNOWN_IDS
            })
        );
        // Encoding anyway cuts to the limit and stays exact.
        let mut buf = Vec::new();
        over.encode(&mut buf);
        assert_eq!(buf.len(), over.encoded_len());
        let mut body = vec![MAX_KNOWN_IDS as u8 + 1];
        for s in 0..=MAX_KNOWN_IDS as u64 {
            body.extend_from_slice(&[1, b'a']);
            body.extend_from_slice(&s.to_be_bytes());
        }
        assert_eq!(
            decode_packet(&raw(&body)),
            Err(DecodeError::LengthOutOfRange {
                what: "known ids",
                len: MAX_KNOWN_IDS + 1,
                max: MAX_KNOWN_IDS
            })
        );
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        // Count says 3, one id follows.
        let mut body = vec![3, 1, b'a'];
        body.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(decode_packet(&raw(&body)), Err(DecodeError::Truncated));
        // An empty origin name (with a byte to spare, so the count looks plausible).
        let mut body = vec![1, 0];
        body.extend_from_slice(&7u64.to_be_bytes());
        body.push(0);
        assert_eq!(decode_packet(&raw(&body)), Err(DecodeError::InvalidName));
        // A seq cut short.
        assert_eq!(
            decode_packet(&raw(&[1, 1, b'a', 0, 0])),
            Err(DecodeError::Truncated)
        );
        // Bytes after the last id.
        let mut body = vec![1, 1, b'a'];
        body.extend_from_slice(&7u64.to_be_bytes());
        body.push(0);
        assert_eq!(
            decode_packet(&raw(&body)),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
