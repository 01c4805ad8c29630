//! The fuzz targets' logic (`fuzz/fuzz_targets/*.rs` are one-line calls of these), shared
//! with `tests/fuzz_corpus.rs`, which replays every committed corpus on stable Rust.
//!
//! | target | entry | what it feeds | what must hold |
//! |---|---|---|---|
//! | `packet` | [`packet`] | raw datagram bytes | no panic; what decodes re-encodes to the same bytes |
//! | `message` | [`message`] | a datagram body behind a valid header | as `packet` |
//! | `frame` | [`frame`] | raw TCP frame bytes | no panic; what decodes re-encodes to the same bytes |
//! | `state` | [`state`] | a key-value body, as a frame and as a message | both decode alike, as `frame` |
//! | `roundtrip` | [`roundtrip`] | messages and frames built from the bytes | `decode(encode(m)) == m`, `encoded_len` exact |
//! | `tcp_reader` | [`tcp_reader`] | a byte stream in fuzz-chosen pieces | frames as announced, never read past, bounded memory |
//! | `node` | [`node`] | a script of datagrams, requests, responses and time, plain or sealed | no panic; the node's invariants; what it sends while sealing opens |
//! | `open` | [`open`] | a script of packets sealed, changed, replayed, forged or raw | opens exactly what is genuine and fresh, once; agrees with a model of the replay guard |
//!
//! Any input is valid for every entry: bad input must give a typed error or a counted
//! drop, so a panic is a bug.

mod input;
mod node;
mod open;
mod tcp_reader;

pub use self::input::{Cast, Input};
pub use self::node::{FuzzNode, node};
pub use self::open::open;
pub use self::tcp_reader::tcp_reader;

use crate::codec::{
    self, Frame, HEADER_LEN, Header, Message, PACKET_OVERHEAD, STATE_MESSAGE_TYPE, decode_frame,
    decode_header, decode_packet, encode_frame, encode_packet,
};

/// The header the entries that skip it put in front of the fuzz bytes.
const HEADER: Header = Header {
    cluster: 0x5EED,
    flags: 0,
};

/// Frame kind code of a key-value state frame.
const KIND_STATE: u8 = 2;

/// Decodes a datagram; what decodes must re-encode to exactly the same bytes.
pub fn packet(data: &[u8]) {
    let header = decode_header(data);
    match decode_packet(data) {
        Ok(packet) => {
            assert_eq!(header, Ok(packet.header), "header and packet disagree");
            let len: usize = packet.messages.iter().map(Message::encoded_len).sum();
            assert_eq!(
                PACKET_OVERHEAD + len,
                data.len(),
                "encoded_len is not exact"
            );
            let again = encode_packet(&packet.header, &packet.messages);
            assert_eq!(
                again.as_deref(),
                Ok(data),
                "decode then encode changed the bytes"
            );
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string());
        }
    }
}

/// The fuzz bytes as a datagram's count and messages, behind a valid header.
pub fn message(data: &[u8]) {
    let mut bytes = Vec::with_capacity(HEADER_LEN + data.len());
    put_header(&mut bytes, &HEADER);
    bytes.extend_from_slice(data);
    packet(&bytes);
}

/// Decodes a TCP frame (after the length prefix); what decodes must re-encode to exactly
/// the same bytes.
pub fn frame(data: &[u8]) {
    match decode_frame(data) {
        Ok((header, frame)) => {
            assert_eq!(frame.encoded_len(), data.len(), "encoded_len is not exact");
            let again = encode_frame(&header, &frame);
            assert_eq!(
                again.as_deref(),
                Ok(data),
                "decode then encode changed the bytes"
            );
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string());
        }
    }
}

/// The fuzz bytes as a key-value body, both as a frame (kind 2) and as a datagram message
/// (type 11): the two decoders must agree.
pub fn state(data: &[u8]) {
    let mut as_frame = Vec::with_capacity(HEADER_LEN + 1 + data.len());
    put_header(&mut as_frame, &HEADER);
    as_frame.push(KIND_STATE);
    as_frame.extend_from_slice(data);
    frame(&as_frame);
    let Ok(len) = u16::try_from(1 + data.len()) else {
        return;
    };
    let mut as_packet = Vec::with_capacity(PACKET_OVERHEAD + 3 + data.len());
    put_header(&mut as_packet, &HEADER);
    as_packet.push(1);
    as_packet.extend_from_slice(&len.to_be_bytes());
    as_packet.push(STATE_MESSAGE_TYPE);
    as_packet.extend_from_slice(data);
    packet(&as_packet);
    let from_frame = match decode_frame(&as_frame) {
        Ok((_, Frame::State(sync))) => Some(sync),
        _ => None,
    };
    let from_packet = decode_packet(&as_packet)
        .ok()
        .and_then(|mut p| match p.messages.pop() {
            Some(Message::State(sync)) => Some(sync),
            _ => None,
        });
    assert_eq!(
        from_frame, from_packet,
        "frame and message decode the body differently"
    );
}

/// Messages and frames built from the fuzz bytes: whatever encodes decodes to the same
/// value, in exactly `encoded_len` bytes.
pub fn roundtrip(data: &[u8]) {
    let cast = Cast::new(3);
    let mut input = Input::new(data);
    while !input.is_empty() {
        match input.u8() % 3 {
            0 => {
                let messages: Vec<Message> = (0..1 + input.below(6))
                    .map(|_| cast.message(&mut input, &[7]))
                    .collect();
                let Ok(bytes) = encode_packet(&HEADER, &messages) else {
                    continue;
                };
                let len: usize = messages.iter().map(Message::encoded_len).sum();
                assert_eq!(
                    bytes.len(),
                    PACKET_OVERHEAD + len,
                    "encoded_len is not exact"
                );
                let packet = decode_packet(&bytes).map(|p| p.messages);
                assert_eq!(packet, Ok(messages), "a packet did not round-trip");
            }
            kind => {
                let frame = if kind == 1 {
                    Frame::PushPull(cast.push_pull(&mut input))
                } else {
                    Frame::State(cast.state(&mut input))
                };
                let Ok(bytes) = encode_frame(&HEADER, &frame) else {
                    continue;
                };
                assert_eq!(bytes.len(), frame.encoded_len(), "encoded_len is not exact");
                assert_eq!(decode_frame(&bytes), Ok((HEADER, frame)), "no round trip");
            }
        }
    }
}

/// Appends `header` as the codec writes it.
fn put_header(buf: &mut Vec<u8>, header: &Header) {
    buf.extend_from_slice(&codec::MAGIC);
    buf.push(codec::PROTOCOL_VERSION);
    buf.push(header.flags);
    buf.extend_from_slice(&header.cluster.to_be_bytes());
}
