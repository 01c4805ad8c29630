//! Wire format: stateless bytes <-> messages. Exact `encoded_len()`, never panics on input.
//!
//! Datagram layout (all integers big-endian):
//! ```text
//! header: magic "EP" | version u8 = 1 | flags u8 = 0 | cluster u64
//! count u8 (1..=255)
//! count × { len u16 | type u8 | body (len - 1 bytes) }
//! ```
//! TCP frames are `header | kind u8 | body`; the reactor adds a `u32` length prefix.
//!
//! Public only with the `unstable-internals` feature (the crate's benches, fuzz targets
//! and wire-level tests use it). Without it the node uses part of it, and the rest (the
//! encoder of whole packets, some limits and error variants only a peer can produce) is
//! still compiled and unit-tested, so it is not dead.
#![cfg_attr(
    not(feature = "unstable-internals"),
    allow(unused_imports, dead_code, unreachable_pub)
)]

mod error;
mod frame;
mod known;
mod kv;
mod message;
mod packet;
mod wire;
mod writer;

pub use error::{DecodeError, EncodeError};
pub use frame::{FRAME_HEAD_LEN, check_frame_head, decode_frame, encode_frame};
pub use known::{KNOWN_MESSAGE_TYPE, KNOWN_OVERHEAD, Known, MAX_KNOWN_IDS};
pub use kv::{
    MAX_STATE_ENTRIES, MAX_STATE_KEY_LEN, MAX_STATE_OWNERS, MAX_STATE_VALUE_LEN,
    STATE_MESSAGE_TYPE, STATE_SUMMARY_LEN, STATE_SYNC_OVERHEAD, StateDeltas, StateDigest,
    StateEntry, StateKey, StateSummary, StateSync, StateWant,
};
pub use message::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Frame, Header, Left, MemberRecord, Message, Nack,
    Packet, Ping, PingReq, PushPull, Suspect, UserMessage,
};
pub use packet::{decode_header, decode_packet};
pub use writer::{PacketWriter, encode_packet};

/// Magic bytes at the start of every datagram and frame.
pub const MAGIC: [u8; 2] = *b"EP";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 12;
/// Bytes of a packet before its first message: header and message count.
pub const PACKET_OVERHEAD: usize = HEADER_LEN + 1;
/// Most messages in one datagram.
pub const MAX_MESSAGES_PER_PACKET: usize = 255;
/// Largest user broadcast payload the codec accepts.
pub const MAX_USER_PAYLOAD: usize = 16 * 1024;
/// Largest TCP frame (after the length prefix).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Most aggregates in one [`Aggregate`] message.
pub const MAX_AGGREGATES_PER_MESSAGE: usize = 32;
/// Bytes of an [`Aggregate`] message with no entry, its length and type included.
pub const AGGREGATE_OVERHEAD: usize = 3 + 8 + 4 + 1;
/// Most members in one full-state exchange.
pub const MAX_MEMBERS_PER_SYNC: usize = 100_000;
