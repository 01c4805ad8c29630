//! Datagrams: the header, a message count and the messages of a compound packet.
//!
//! ```text
//! header (12) | count u8 (1..=255) | count × { len u16 (= 1 + body) | type u8 | body }
//! ```
//! Type codes: Ping 1, PingReq 2, Ack 3, Nack 4, Alive 5, Suspect 6, Dead 7, Left 8, User 9,
//! Aggregate 10, State 11 (body: see [`StateSync`]). Bodies hold the fields in the order
//! [`Message`]'s structs declare them;
//! an aggregate is `epoch u64 | round u32 | count u8 (0..=32) | count × entry`, an entry
//! `name (len u8, 1..=32 bytes) | value | ones | weight | min | max` (each an IEEE-754
//! `f64`, big-endian bits).

use super::error::{DecodeError, EncodeError};
use super::wire::{self, Reader, addr_len, name_len};
use super::{
    AGGREGATE_OVERHEAD, Ack, Aggregate, AggregateEntry, Alive, Dead, HEADER_LEN, Header, Left,
    MAGIC, MAX_AGGREGATES_PER_MESSAGE, MAX_MESSAGES_PER_PACKET, MAX_USER_PAYLOAD, Message, Nack,
    PACKET_OVERHEAD, PROTOCOL_VERSION, Packet, Ping, PingReq, STATE_MESSAGE_TYPE, StateSync,
    Suspect, UserMessage,
};
use crate::member::MAX_METADATA_LEN;

/// Bytes of a message before its body: the `u16` length and the type byte.
const MESSAGE_OVERHEAD: usize = 3;

impl Message {
    /// Exact number of bytes this message occupies inside a packet, including its `u16`
    /// length prefix and type byte.
    pub fn encoded_len(&self) -> usize {
        MESSAGE_OVERHEAD + self.body_len()
    }

    /// Appends `len u16 | type u8 | body` to `buf`.
    ///
    /// Infallible: the caller guarantees every field is within its limit (see
    /// [`Message::check_limits`]; [`PacketWriter::push`] and [`super::encode_packet`] check
    /// for you). Should a field be over its limit anyway, it is cut to the limit, so the
    /// output still decodes and [`Message::encoded_len`] stays exact.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let len = u16::try_from(1 + self.body_len()).unwrap_or(u16::MAX);
        wire::put_u16(buf, len);
        wire::put_u8(buf, self.type_code());
        match self {
            Message::Ping(m) => {
                wire::put_u32(buf, m.seq);
                wire::put_name(buf, &m.target);
                wire::put_name(buf, &m.source);
            }
            Message::PingReq(m) => {
                wire::put_u32(buf, m.seq);
                wire::put_name(buf, &m.target);
                wire::put_addr(buf, &m.target_addr);
                wire::put_name(buf, &m.source);
            }
            Message::Ack(Ack { seq, source }) | Message::Nack(Nack { seq, source }) => {
                wire::put_u32(buf, *seq);
                wire::put_name(buf, source);
            }
            Message::Alive(m) => {
                wire::put_name(buf, &m.name);
                wire::put_u64(buf, m.incarnation);
                wire::put_addr(buf, &m.addr);
                wire::put_bytes16(buf, wire::clamp(&m.metadata, MAX_METADATA_LEN));
            }
            Message::Suspect(Suspect {
                name,
                incarnation,
                from,
            })
            | Message::Dead(Dead {
                name,
                incarnation,
                from,
            }) => {
                wire::put_name(buf, name);
                wire::put_u64(buf, *incarnation);
                wire::put_name(buf, from);
            }
            Message::Left(m) => {
                wire::put_name(buf, &m.name);
                wire::put_u64(buf, m.incarnation);
            }
            Message::User(m) => {
                wire::put_name(buf, &m.origin);
                wire::put_u64(buf, m.seq);
                wire::put_bytes16(buf, wire::clamp(&m.payload, MAX_USER_PAYLOAD));
            }
            Message::Aggregate(m) => {
                let entries = aggregate_entries(m);
                wire::put_u64(buf, m.epoch);
                wire::put_u32(buf, m.round);
                wire::put_u8(buf, u8::try_from(entries.len()).unwrap_or(u8::MAX));
                for e in entries {
                    wire::put_aggregate_name(buf, &e.name);
                    for x in [e.value, e.ones, e.weight, e.min, e.max] {
                        wire::put_u64(buf, x.to_bits());
                    }
                }
            }
            Message::State(m) => m.encode_body(buf),
        }
    }

    /// Checks the fields with limits the type does not enforce: metadata at most
    /// [`MAX_METADATA_LEN`] bytes, user payloads at most [`MAX_USER_PAYLOAD`] bytes,
    /// aggregates at most [`MAX_AGGREGATES_PER_MESSAGE`] entries.
    pub fn check_limits(&self) -> Result<(), EncodeError> {
        let (what, len, max) = match self {
            Message::Alive(m) => ("metadata", m.metadata.len(), MAX_METADATA_LEN),
            Message::User(m) => ("user payload", m.payload.len(), MAX_USER_PAYLOAD),
            Message::Aggregate(m) => ("aggregates", m.entries.len(), MAX_AGGREGATES_PER_MESSAGE),
            Message::State(m) => {
                m.check_limits()?;
                let max = usize::from(u16::MAX) - 1;
                ("state message", m.body_len(), max)
            }
            _ => return Ok(()),
        };
        if len > max {
            return Err(EncodeError::FieldTooLarge { what, len, max });
        }
        Ok(())
    }

    /// The wire type code.
    fn type_code(&self) -> u8 {
        match self {
            Message::Ping(_) => 1,
            Message::PingReq(_) => 2,
            Message::Ack(_) => 3,
            Message::Nack(_) => 4,
            Message::Alive(_) => 5,
            Message::Suspect(_) => 6,
            Message::Dead(_) => 7,
            Message::Left(_) => 8,
            Message::User(_) => 9,
            Message::Aggregate(_) => 10,
            Message::State(_) => STATE_MESSAGE_TYPE,
        }
    }

    /// Bytes of the body (after the type byte).
    fn body_len(&self) -> usize {
        match self {
            Message::Ping(m) => 4 + name_len(&m.target) + name_len(&m.source),
            Message::PingReq(m) => {
                4 + name_len(&m.target) + addr_len(&m.target_addr) + name_len(&m.source)
            }
            Message::Ack(Ack { source, .. }) | Message::Nack(Nack { source, .. }) => {
                4 + name_len(source)
            }
            Message::Alive(m) => {
                name_len(&m.name)
                    + 8
                    + addr_len(&m.addr)
                    + 2
                    + m.metadata.len().min(MAX_METADATA_LEN)
            }
            Message::Suspect(Suspect { name, from, .. })
            | Message::Dead(Dead { name, from, .. }) => name_len(name) + 8 + name_len(from),
            Message::Left(m) => name_len(&m.name) + 8,
            Message::User(m) => name_len(&m.origin) + 8 + 2 + m.payload.len().min(MAX_USER_PAYLOAD),
            Message::Aggregate(m) => {
                let entries = aggregate_entries(m);
                AGGREGATE_OVERHEAD - MESSAGE_OVERHEAD
                    + entries
                        .iter()
                        .map(AggregateEntry::encoded_len)
                        .sum::<usize>()
            }
            Message::State(m) => m.body_len(),
        }
    }

    /// Reads one `len | type | body` message; `len` must match the body exactly.
    fn decode(r: &mut Reader<'_>) -> Result<Message, DecodeError> {
        let len = usize::from(r.u16()?);
        if r.remaining() < len {
            return Err(DecodeError::Truncated);
        }
        let start = r.position();
        let message = match r.u8()? {
            1 => Message::Ping(Ping {
                seq: r.u32()?,
                target: r.name()?,
                source: r.name()?,
            }),
            2 => Message::PingReq(PingReq {
                seq: r.u32()?,
                target: r.name()?,
                target_addr: r.addr()?,
                source: r.name()?,
            }),
            3 => Message::Ack(Ack {
                seq: r.u32()?,
                source: r.name()?,
            }),
            4 => Message::Nack(Nack {
                seq: r.u32()?,
                source: r.name()?,
            }),
            5 => Message::Alive(Alive {
                name: r.name()?,
                incarnation: r.u64()?,
                addr: r.addr()?,
                metadata: r.bytes16("metadata", MAX_METADATA_LEN)?,
            }),
            6 => Message::Suspect(Suspect {
                name: r.name()?,
                incarnation: r.u64()?,
                from: r.name()?,
            }),
            7 => Message::Dead(Dead {
                name: r.name()?,
                incarnation: r.u64()?,
                from: r.name()?,
            }),
            8 => Message::Left(Left {
                name: r.name()?,
                incarnation: r.u64()?,
            }),
            9 => Message::User(UserMessage {
                origin: r.name()?,
                seq: r.u64()?,
                payload: r.bytes16("user payload", MAX_USER_PAYLOAD)?,
            }),
            10 => Message::Aggregate(decode_aggregate(r)?),
            STATE_MESSAGE_TYPE => Message::State(StateSync::decode_body(r)?),
            other => return Err(DecodeError::UnknownMessageType(other)),
        };
        let used = r.position() - start;
        if used > len {
            return Err(DecodeError::LengthOutOfRange {
                what: "message",
                len: used,
                max: len,
            });
        }
        if used < len {
            return Err(DecodeError::TrailingBytes(len - used));
        }
        Ok(message)
    }
}

impl AggregateEntry {
    /// Exact number of bytes this entry occupies inside an [`Aggregate`] message.
    pub fn encoded_len(&self) -> usize {
        wire::aggregate_name_len(&self.name) + 5 * 8
    }
}

/// The entries that are encoded: at most [`MAX_AGGREGATES_PER_MESSAGE`] (more is a
/// contract violation; the rest are cut so the output still decodes).
fn aggregate_entries(m: &Aggregate) -> &[AggregateEntry] {
    m.entries
        .get(..MAX_AGGREGATES_PER_MESSAGE)
        .unwrap_or(&m.entries)
}

/// Reads an aggregate's body (after the type byte).
fn decode_aggregate(r: &mut Reader<'_>) -> Result<Aggregate, DecodeError> {
    let epoch = r.u64()?;
    let round = r.u32()?;
    let count = usize::from(r.u8()?);
    if count > MAX_AGGREGATES_PER_MESSAGE {
        return Err(DecodeError::LengthOutOfRange {
            what: "aggregates",
            len: count,
            max: MAX_AGGREGATES_PER_MESSAGE,
        });
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.aggregate_name()?;
        let mut x = [0.0; 5];
        for v in &mut x {
            *v = f64::from_bits(r.u64()?);
        }
        let [value, ones, weight, min, max] = x;
        entries.push(AggregateEntry {
            name,
            value,
            ones,
            weight,
            min,
            max,
        });
    }
    Ok(Aggregate {
        epoch,
        round,
        entries,
    })
}

/// Checks and reads the 12-byte header at the start of `bytes` (a datagram or frame);
/// the bytes after it are not looked at.
///
/// Fails on wrong magic, a version other than [`PROTOCOL_VERSION`], or non-zero flags.
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    read_header(&mut Reader::new(bytes))
}

/// Reads and checks a header.
pub(crate) fn read_header(r: &mut Reader<'_>) -> Result<Header, DecodeError> {
    if r.take(MAGIC.len())? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = r.u8()?;
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let flags = r.u8()?;
    if flags != 0 {
        return Err(DecodeError::UnsupportedFlags(flags));
    }
    Ok(Header {
        cluster: r.u64()?,
        flags,
    })
}

/// Appends a header (flags are written as given).
pub(crate) fn put_header(buf: &mut Vec<u8>, header: &Header) {
    buf.extend_from_slice(&MAGIC);
    wire::put_u8(buf, PROTOCOL_VERSION);
    wire::put_u8(buf, header.flags);
    wire::put_u64(buf, header.cluster);
}

/// Decodes a whole datagram. Never panics on any input.
pub fn decode_packet(bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut r = Reader::new(bytes);
    let header = read_header(&mut r)?;
    let count = usize::from(r.u8()?);
    if count == 0 {
        return Err(DecodeError::NoMessages);
    }
    let mut messages = Vec::with_capacity(count);
    for _ in 0..count {
        messages.push(Message::decode(&mut r)?);
    }
    r.finish()?;
    Ok(Packet { header, messages })
}

/// Encodes a whole datagram, with no size budget (see [`PacketWriter`] for that).
///
/// Fails with nothing written on 0 or more than [`MAX_MESSAGES_PER_PACKET`] messages, or a
/// field over its limit.
pub fn encode_packet(header: &Header, messages: &[Message]) -> Result<Vec<u8>, EncodeError> {
    if messages.is_empty() || messages.len() > MAX_MESSAGES_PER_PACKET {
        return Err(EncodeError::TooManyMessages(messages.len()));
    }
    let mut len = PACKET_OVERHEAD;
    for message in messages {
        message.check_limits()?;
        len += message.encoded_len();
    }
    let mut buf = Vec::with_capacity(len);
    put_header(&mut buf, header);
    wire::put_u8(&mut buf, u8::try_from(messages.len()).unwrap_or(u8::MAX));
    for message in messages {
        message.encode(&mut buf);
    }
    Ok(buf)
}

/// Assembles a compound datagram up to a byte budget (the MTU).
///
/// ```text
/// let mut w = PacketWriter::new(&header, mtu);
/// w.push(&ping);                      // the probe first
/// while w.push(&next_update) { .. }   // then piggybacked gossip until it no longer fits
/// socket.send(&w.finish());
/// ```
#[derive(Debug)]
pub struct PacketWriter {
    buf: Vec<u8>,
    mtu: usize,
    count: u8,
}

impl PacketWriter {
    /// An empty packet for `header` that will hold at most `mtu` bytes.
    pub fn new(header: &Header, mtu: usize) -> PacketWriter {
        let mut buf = Vec::with_capacity(mtu.clamp(PACKET_OVERHEAD, 64 * 1024));
        put_header(&mut buf, header);
        wire::put_u8(&mut buf, 0);
        PacketWriter { buf, mtu, count: 0 }
    }

    /// Bytes still free: the MTU minus the bytes written so far (0 if the MTU is smaller
    /// than [`PACKET_OVERHEAD`]).
    pub fn remaining(&self) -> usize {
        self.mtu.saturating_sub(self.buf.len())
    }

    /// Number of messages in the packet so far.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no message was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `message` if it fits in the remaining budget, the packet holds fewer than
    /// [`MAX_MESSAGES_PER_PACKET`] messages and every field is within its limit. Returns
    /// whether it was added; when not, the packet is unchanged.
    pub fn push(&mut self, message: &Message) -> bool {
        if usize::from(self.count) >= MAX_MESSAGES_PER_PACKET
            || message.check_limits().is_err()
            || message.encoded_len() > self.remaining()
        {
            return false;
        }
        message.encode(&mut self.buf);
        self.count += 1;
        true
    }

    /// The finished datagram: header, count and messages, exactly
    /// `PACKET_OVERHEAD + Σ encoded_len` bytes. A writer with no messages yields a packet
    /// that decoders reject ([`DecodeError::NoMessages`]); check [`PacketWriter::is_empty`].
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(count) = self.buf.get_mut(HEADER_LEN) {
            *count = self.count;
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::AggregateName;
    use crate::member::NodeName;

    const HEADER: Header = Header {
        cluster: 0x0102_0304_0506_0708,
        flags: 0,
    };

    fn name(s: &str) -> NodeName {
        NodeName::new(s).unwrap()
    }

    fn one_of_each() -> Vec<Message> {
        let v4 = "10.0.0.1:7946".parse().unwrap();
        let v6 = "[fe80::1]:7946".parse().unwrap();
        vec![
            Message::Ping(Ping {
                seq: 7,
                target: name("b"),
                source: name("a"),
            }),
            Message::PingReq(PingReq {
                seq: 8,
                target: name("b"),
                target_addr: v6,
                source: name("a"),
            }),
            Message::Ack(Ack {
                seq: 7,
                source: name("b"),
            }),
            Message::Nack(Nack {
                seq: 8,
                source: name("c"),
            }),
            Message::Alive(Alive {
                name: name("nœud"),
                incarnation: 3,
                addr: v4,
                metadata: Arc::from(&b"zone=eu"[..]),
            }),
            Message::Suspect(Suspect {
                name: name("b"),
                incarnation: 4,
                from: name("a"),
            }),
            Message::Dead(Dead {
                name: name("b"),
                incarnation: 5,
                from: name("c"),
            }),
            Message::Left(Left {
                name: name("d"),
                incarnation: u64::MAX,
            }),
            Message::User(UserMessage {
                origin: name("a"),
                seq: 9,
                payload: Arc::from(&[1u8; 100][..]),
            }),
            Message::Aggregate(Aggregate {
                epoch: 12,
                round: 3,
                entries: vec![
                    AggregateEntry {
                        name: AggregateName::new("load").unwrap(),
                        value: 0.1,
                        ones: 0.5,
                        weight: 0.0,
                        min: f64::INFINITY,
                        max: f64::NEG_INFINITY,
                    },
                    AggregateEntry {
                        name: AggregateName::new("disque libre").unwrap(),
                        value: -3.5e9,
                        ones: 2.0f64.powi(-40),
                        weight: 1.0,
                        min: -0.0,
                        max: f64::NAN,
                    },
                ],
            }),
        ]
    }

    fn valid_packet() -> Vec<u8> {
        encode_packet(&HEADER, &one_of_each()).unwrap()
    }

    /// A packet around one raw message `len | type | body`.
    fn raw(len: u16, body: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        put_header(&mut buf, &HEADER);
        buf.push(1);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(body);
        buf
    }

    #[test]
    fn round_trip_and_exact_len() {
        let messages = one_of_each();
        let bytes = encode_packet(&HEADER, &messages).unwrap();
        let total: usize = messages.iter().map(Message::encoded_len).sum();
        assert_eq!(bytes.len(), PACKET_OVERHEAD + total);
        let packet = decode_packet(&bytes).unwrap();
        assert_eq!(
            packet,
            Packet {
                header: HEADER,
                messages
            }
        );
        assert_eq!(decode_header(&bytes), Ok(HEADER));
    }

    #[test]
    fn header_errors() {
        let good = valid_packet();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(decode_packet(&bad), Err(DecodeError::BadMagic));
        let mut bad = good.clone();
        bad[2] = 2;
        assert_eq!(decode_packet(&bad), Err(DecodeError::UnsupportedVersion(2)));
        assert_eq!(
            decode_header(&bad).unwrap_err().reason(),
            crate::stats::DropReason::WrongVersion
        );
        let mut bad = good.clone();
        bad[3] = 0x80;
        assert_eq!(
            decode_packet(&bad),
            Err(DecodeError::UnsupportedFlags(0x80))
        );
        assert_eq!(
            decode_header(&good[..HEADER_LEN - 1]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(decode_header(&[]), Err(DecodeError::Truncated));
    }

    #[test]
    fn truncated_at_every_offset() {
        let good = valid_packet();
        for cut in 0..good.len() {
            assert_eq!(
                decode_packet(&good[..cut]),
                Err(DecodeError::Truncated),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn trailing_bytes_and_counts() {
        let mut bytes = valid_packet();
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(decode_packet(&bytes), Err(DecodeError::TrailingBytes(2)));
        let mut empty = Vec::new();
        put_header(&mut empty, &HEADER);
        empty.push(0);
        assert_eq!(decode_packet(&empty), Err(DecodeError::NoMessages));
        assert_eq!(
            encode_packet(&HEADER, &[]),
            Err(EncodeError::TooManyMessages(0))
        );
        let many = vec![one_of_each()[2].clone(); 256];
        assert_eq!(
            encode_packet(&HEADER, &many),
            Err(EncodeError::TooManyMessages(256))
        );
        assert_eq!(
            decode_packet(&encode_packet(&HEADER, &many[..255]).unwrap())
                .unwrap()
                .messages
                .len(),
            255
        );
    }

    #[test]
    fn message_errors() {
        assert_eq!(
            decode_packet(&raw(1, &[42])),
            Err(DecodeError::UnknownMessageType(42))
        );
        // Ack: seq u32 | name.
        let ack = [3, 0, 0, 0, 7, 1, b'b'];
        assert!(decode_packet(&raw(7, &ack)).is_ok());
        assert_eq!(
            decode_packet(&raw(6, &ack)),
            Err(DecodeError::LengthOutOfRange {
                what: "message",
                len: 7,
                max: 6
            })
        );
        let mut longer = ack.to_vec();
        longer.push(0);
        assert_eq!(
            decode_packet(&raw(8, &longer)),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            decode_packet(&raw(7, &[3, 0, 0, 0, 7, 0, b'b'])),
            Err(DecodeError::InvalidName)
        );
        assert_eq!(
            decode_packet(&raw(7, &[3, 0, 0, 0, 7, 1, 0xff])),
            Err(DecodeError::InvalidUtf8)
        );
        // PingReq with a bad address tag.
        let req = [2, 0, 0, 0, 1, 1, b'b', 9, 0, 0, 0, 0, 0, 0, 1, b'a'];
        assert_eq!(
            decode_packet(&raw(16, &req)),
            Err(DecodeError::InvalidAddress(9))
        );
        // Alive with 513 bytes of metadata.
        let mut alive = vec![
            5, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 1, 4, 10, 0, 0, 1, 0, 80, 0x02, 0x01,
        ];
        alive.extend_from_slice(&[0; 513]);
        let len = u16::try_from(alive.len()).unwrap();
        assert_eq!(
            decode_packet(&raw(len, &alive)),
            Err(DecodeError::LengthOutOfRange {
                what: "metadata",
                len: 513,
                max: MAX_METADATA_LEN
            })
        );
    }

    #[test]
    fn aggregate_limits() {
        // epoch u64 | round u32 | count 33
        let mut body = vec![10];
        body.extend_from_slice(&[0; 12]);
        body.push(33);
        let len = u16::try_from(body.len()).unwrap();
        assert_eq!(
            decode_packet(&raw(len, &body)),
            Err(DecodeError::LengthOutOfRange {
                what: "aggregates",
                len: 33,
                max: MAX_AGGREGATES_PER_MESSAGE
            })
        );
        // One entry with an empty name.
        let mut body = vec![10];
        body.extend_from_slice(&[0; 12]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&[0; 40]);
        let len = u16::try_from(body.len()).unwrap();
        assert!(matches!(
            decode_packet(&raw(len, &body)),
            Err(DecodeError::LengthOutOfRange {
                what: "aggregate name",
                ..
            })
        ));
        // No entries is fine.
        let empty = Message::Aggregate(Aggregate {
            epoch: 1,
            round: 2,
            entries: Vec::new(),
        });
        assert_eq!(empty.encoded_len(), AGGREGATE_OVERHEAD);
        let bytes = encode_packet(&HEADER, std::slice::from_ref(&empty)).unwrap();
        assert_eq!(decode_packet(&bytes).unwrap().messages, vec![empty]);
        // Too many entries are refused before encoding.
        let Message::Aggregate(mut many) = one_of_each()[9].clone() else {
            unreachable!()
        };
        many.entries = vec![many.entries[0].clone(); MAX_AGGREGATES_PER_MESSAGE + 1];
        let many = Message::Aggregate(many);
        assert!(matches!(
            encode_packet(&HEADER, std::slice::from_ref(&many)),
            Err(EncodeError::FieldTooLarge {
                what: "aggregates",
                ..
            })
        ));
        // Encoding anyway cuts to the limit and stays exact.
        let mut buf = Vec::new();
        many.encode(&mut buf);
        assert_eq!(buf.len(), many.encoded_len());
    }

    #[test]
    fn limits_are_checked_before_encoding() {
        let big = Message::Alive(Alive {
            name: name("a"),
            incarnation: 1,
            addr: "10.0.0.1:1".parse().unwrap(),
            metadata: Arc::from(vec![0u8; MAX_METADATA_LEN + 1]),
        });
        let err = EncodeError::FieldTooLarge {
            what: "metadata",
            len: 513,
            max: 512,
        };
        assert_eq!(encode_packet(&HEADER, std::slice::from_ref(&big)), Err(err));
        let mut w = PacketWriter::new(&HEADER, 65_000);
        assert!(!w.push(&big));
        assert!(w.is_empty());
        let user = Message::User(UserMessage {
            origin: name("a"),
            seq: 1,
            payload: Arc::from(vec![0u8; MAX_USER_PAYLOAD + 1]),
        });
        assert!(encode_packet(&HEADER, std::slice::from_ref(&user)).is_err());
        assert!(!w.push(&user));
        // Encoding anyway (a contract violation) cuts the field and still decodes.
        let mut buf = Vec::new();
        user.encode(&mut buf);
        assert_eq!(buf.len(), user.encoded_len());
        let max = Message::User(UserMessage {
            origin: name("a"),
            seq: 1,
            payload: Arc::from(vec![0u8; MAX_USER_PAYLOAD]),
        });
        assert!(w.push(&max));
        assert_eq!(decode_packet(&w.finish()).unwrap().messages, vec![max]);
    }

    #[test]
    fn writer_respects_the_mtu_exactly() {
        for mtu in [0, PACKET_OVERHEAD, 100, 508, 1400, 9000] {
            let mut w = PacketWriter::new(&HEADER, mtu);
            let mut pushed = Vec::new();
            let sample = one_of_each();
            let mut i = 0;
            loop {
                let m = &sample[i % sample.len()];
                let before = w.remaining();
                if !w.push(m) {
                    assert!(m.encoded_len() > before || w.len() == MAX_MESSAGES_PER_PACKET);
                    break;
                }
                assert_eq!(w.remaining(), before - m.encoded_len());
                pushed.push(m.clone());
                i += 1;
            }
            assert_eq!(w.len(), pushed.len());
            let total: usize = pushed.iter().map(Message::encoded_len).sum();
            let bytes = w.finish();
            assert_eq!(bytes.len(), PACKET_OVERHEAD + total);
            if pushed.is_empty() {
                assert_eq!(decode_packet(&bytes), Err(DecodeError::NoMessages));
            } else {
                assert!(bytes.len() <= mtu);
                assert_eq!(decode_packet(&bytes).unwrap().messages, pushed);
            }
        }
    }

    #[test]
    fn writer_stops_at_255_messages() {
        let ack = one_of_each()[2].clone();
        let mut w = PacketWriter::new(&HEADER, usize::MAX);
        while w.push(&ack) {}
        assert_eq!(w.len(), MAX_MESSAGES_PER_PACKET);
        assert_eq!(decode_packet(&w.finish()).unwrap().messages.len(), 255);
    }
}
