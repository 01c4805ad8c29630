//! Datagrams: the header, a message count and the messages of a compound packet.
//!
//! ```text
//! header (12) | count u8 (1..=255) | count × { len u16 (= 1 + body) | type u8 | body }
//! ```
//! Type codes: Ping 1, PingReq 2, Ack 3, Nack 4, Alive 5, Suspect 6, Dead 7, Left 8, User 9,
//! Aggregate 10, State 11 (body: see [`StateSync`]), Known 12 (body: see [`Known`]). Bodies
//! hold the fields in the order [`Message`]'s structs declare them;
//! an aggregate is `epoch u64 | round u32 | count u8 (0..=32) | count × entry`, an entry
//! `name (len u8, 1..=32 bytes) | value | ones | weight | min | max` (each an IEEE-754
//! `f64`, big-endian bits).

use super::error::{DecodeError, EncodeError};
use super::wire::{self, Reader, addr_len, name_len};
use super::{
    AGGREGATE_OVERHEAD, Ack, Aggregate, AggregateEntry, Alive, Dead, Header, KNOWN_MESSAGE_TYPE,
    Known, Left, MAGIC, MAX_AGGREGATES_PER_MESSAGE, MAX_USER_PAYLOAD, Message, Nack,
    PROTOCOL_VERSION, Packet, Ping, PingReq, STATE_MESSAGE_TYPE, StateSync, Suspect, UserMessage,
};
use crate::member::MAX_METADATA_LEN;

/// Bytes of a message before its body: the `u16` length and the type byte.
const MESSAGE_OVERHEAD: usize = 3;

impl Message {
    /// Whether it is probe traffic: a ping, ping-req, ack or nack.
    pub fn is_probe(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::PingReq(_) | Message::Ack(_) | Message::Nack(_)
        )
    }

    /// Exact number of bytes this message occupies inside a packet, including its `u16`
    /// length prefix and type byte.
    pub fn encoded_len(&self) -> usize {
        MESSAGE_OVERHEAD + self.body_len()
    }

    /// Appends `len u16 | type u8 | body` to `buf`.
    ///
    /// Infallible: the caller guarantees every field is within its limit (see
    /// [`Message::check_limits`]; [`PacketWriter::push`](super::PacketWriter::push) and [`super::encode_packet`] check
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
            Message::Known(m) => m.encode_body(buf),
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
            Message::Known(m) => return m.check_limits(),
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
            Message::Known(_) => KNOWN_MESSAGE_TYPE,
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
            Message::Known(m) => m.body_len(),
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
            KNOWN_MESSAGE_TYPE => Message::Known(Known::decode_body(r)?),
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

#[cfg(test)]
mod tests;
