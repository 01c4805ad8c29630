//! Encoding whole datagrams: at once ([`encode_packet`]), or message by message up to the
//! MTU ([`PacketWriter`], which dissemination packs piggybacked gossip with).

use super::error::EncodeError;
use super::packet::put_header;
use super::wire;
use super::{HEADER_LEN, Header, MAX_MESSAGES_PER_PACKET, Message, PACKET_OVERHEAD};

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
    /// that decoders reject ([`DecodeError::NoMessages`](super::DecodeError::NoMessages)); check [`PacketWriter::is_empty`].
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(count) = self.buf.get_mut(HEADER_LEN) {
            *count = self.count;
        }
        self.buf
    }
}
