//! Property tests for the wire codec: round trips, exact lengths, and no panics on any input.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use epidemic::aggregate::{AggregateName, MAX_AGGREGATE_NAME_LEN};
use epidemic::codec::{
    Ack, Aggregate, AggregateEntry, Alive, Dead, Frame, HEADER_LEN, Header, Known, Left,
    MAX_AGGREGATES_PER_MESSAGE, MAX_KNOWN_IDS, MAX_USER_PAYLOAD, MemberRecord, Message, Nack,
    PACKET_OVERHEAD, Packet, PacketWriter, Ping, PingReq, PushPull, StateDeltas, StateDigest,
    StateEntry, StateKey, StateSummary, StateSync, StateWant, Suspect, UserMessage, decode_frame,
    decode_header, decode_packet, encode_frame, encode_packet,
};
use epidemic::member::{MAX_METADATA_LEN, MAX_NAME_LEN, MemberState, NodeName};
use proptest::prelude::*;

/// The kind byte of a state frame (the byte after the header).
const STATE_FRAME_KIND: u8 = 2;

/// Names of 1 to 64 characters, ASCII and not, cut to at most 64 bytes on a char boundary.
fn name() -> impl Strategy<Value = NodeName> {
    "[a-zA-Z0-9._-]{1,64}|[a-zé日本🦀-]{1,64}".prop_map(|s| {
        let mut end = 0;
        for (i, c) in s.char_indices() {
            if i + c.len_utf8() > MAX_NAME_LEN {
                break;
            }
            end = i + c.len_utf8();
        }
        NodeName::new(&s[..end]).unwrap()
    })
}

/// Aggregate names of 1 to 32 bytes, cut on a char boundary.
fn aggregate_name() -> impl Strategy<Value = AggregateName> {
    "[a-z0-9._-]{1,32}|[a-zé日本🦀 -]{1,32}".prop_map(|s| {
        let mut end = 0;
        for (i, c) in s.char_indices() {
            if i + c.len_utf8() > MAX_AGGREGATE_NAME_LEN {
                break;
            }
            end = i + c.len_utf8();
        }
        AggregateName::new(&s[..end]).unwrap()
    })
}

/// Any float, NaN and infinities included (equality compares bits).
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), any::<u64>().prop_map(f64::from_bits)]
}

fn aggregate() -> impl Strategy<Value = Message> {
    let entry = (
        aggregate_name(),
        float(),
        float(),
        float(),
        float(),
        float(),
    )
        .prop_map(|(name, value, ones, weight, min, max)| AggregateEntry {
            name,
            value,
            ones,
            weight,
            min,
            max,
        });
    (
        any::<u64>(),
        any::<u32>(),
        prop::collection::vec(entry, 0..=MAX_AGGREGATES_PER_MESSAGE),
    )
        .prop_map(|(epoch, round, entries)| {
            Message::Aggregate(Aggregate {
                epoch,
                round,
                entries,
            })
        })
}

/// State keys of 1 to 128 bytes, cut on a char boundary.
fn state_key() -> impl Strategy<Value = StateKey> {
    "[a-z0-9/._-]{1,128}|[a-zé日本🦀 -]{1,128}".prop_map(|s| {
        let mut end = 0;
        for (i, c) in s.char_indices() {
            if i + c.len_utf8() > 128 {
                break;
            }
            end = i + c.len_utf8();
        }
        StateKey::new(&s[..end]).unwrap()
    })
}

/// A state exchange leg with up to `owners` owners in the digest and the deltas.
fn state_sync(owners: usize, value_max: usize) -> impl Strategy<Value = StateSync> {
    let want = prop_oneof![
        Just(StateWant::Nothing),
        Just(StateWant::Deltas),
        Just(StateWant::DeltasAndDigest),
        Just(StateWant::Digest),
    ];
    let digest = (name(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(owner, generation, max_version, watermark)| StateDigest {
            owner,
            generation,
            max_version,
            watermark,
        },
    );
    let entry = (
        state_key(),
        any::<u64>(),
        prop::option::of(bytes(value_max)),
    )
        .prop_map(|(key, version, value)| StateEntry {
            key,
            version,
            value,
        });
    let deltas = (
        name(),
        any::<[u64; 5]>(),
        prop::collection::vec(entry, 0..4),
    )
        .prop_map(
            |(owner, [generation, watermark, max_version, from, to], entries)| StateDeltas {
                owner,
                generation,
                watermark,
                max_version,
                from,
                to,
                entries,
            },
        );
    let summary = prop::option::of((any::<u64>(), any::<u32>(), any::<bool>()).prop_map(
        |(fingerprint, salt, retry)| StateSummary {
            fingerprint,
            salt,
            retry,
        },
    ));
    (
        want,
        summary,
        prop::collection::vec(digest, 0..owners),
        prop::collection::vec(deltas, 0..owners),
    )
        .prop_map(|(want, summary, digest, deltas)| StateSync {
            want,
            summary,
            digest,
            deltas,
        })
}

/// IPv4 and IPv6 addresses (IPv6 flow info and scope id are not on the wire).
fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Arc<[u8]>> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Arc::from)
}

fn state() -> impl Strategy<Value = MemberState> {
    (0u8..4).prop_map(|c| MemberState::from_code(c).unwrap())
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u32>(), name(), name()).prop_map(|(seq, target, source)| Message::Ping(Ping {
            seq,
            target,
            source
        })),
        (any::<u32>(), name(), addr(), name()).prop_map(|(seq, target, target_addr, source)| {
            Message::PingReq(PingReq {
                seq,
                target,
                target_addr,
                source,
            })
        }),
        (any::<u32>(), name()).prop_map(|(seq, source)| Message::Ack(Ack { seq, source })),
        (any::<u32>(), name()).prop_map(|(seq, source)| Message::Nack(Nack { seq, source })),
        (name(), any::<u64>(), addr(), bytes(MAX_METADATA_LEN)).prop_map(
            |(name, incarnation, addr, metadata)| {
                Message::Alive(Alive {
                    name,
                    incarnation,
                    addr,
                    metadata,
                })
            }
        ),
        (name(), any::<u64>(), name()).prop_map(|(name, incarnation, from)| {
            Message::Suspect(Suspect {
                name,
                incarnation,
                from,
            })
        }),
        (name(), any::<u64>(), name()).prop_map(|(name, incarnation, from)| Message::Dead(Dead {
            name,
            incarnation,
            from
        })),
        (name(), any::<u64>())
            .prop_map(|(name, incarnation)| Message::Left(Left { name, incarnation })),
        (name(), any::<u64>(), bytes(2048)).prop_map(|(origin, seq, payload)| Message::User(
            UserMessage {
                origin,
                seq,
                payload
            }
        )),
        aggregate(),
        state_sync(4, 64).prop_map(Message::State),
        known(),
    ]
}

/// Rumor-mongering feedback: up to [`MAX_KNOWN_IDS`] broadcast ids.
fn known() -> impl Strategy<Value = Message> {
    prop::collection::vec((name(), any::<u64>()), 0..=MAX_KNOWN_IDS)
        .prop_map(|ids| Message::Known(Known { ids }))
}

fn header() -> impl Strategy<Value = Header> {
    any::<u64>().prop_map(|cluster| Header { cluster, flags: 0 })
}

fn frame() -> impl Strategy<Value = Frame> {
    let record = (
        name(),
        addr(),
        any::<u64>(),
        state(),
        bytes(MAX_METADATA_LEN),
    )
        .prop_map(|(name, addr, incarnation, state, metadata)| MemberRecord {
            name,
            addr,
            incarnation,
            state,
            metadata,
        });
    (any::<bool>(), prop::collection::vec(record, 0..20))
        .prop_map(|(join, members)| Frame::PushPull(PushPull { join, members }))
}

proptest! {
    #[test]
    fn packet_round_trips(header in header(), messages in prop::collection::vec(message(), 1..20)) {
        let bytes = encode_packet(&header, &messages).unwrap();
        let total: usize = messages.iter().map(Message::encoded_len).sum();
        prop_assert_eq!(bytes.len(), PACKET_OVERHEAD + total);
        prop_assert_eq!(decode_header(&bytes), Ok(header));
        prop_assert_eq!(decode_packet(&bytes), Ok(Packet { header, messages }));
    }

    #[test]
    fn message_encoded_len_is_exact(message in message()) {
        let mut buf = Vec::new();
        message.encode(&mut buf);
        prop_assert_eq!(buf.len(), message.encoded_len());
        prop_assert!(message.encoded_len() <= 3 + 1 + MAX_NAME_LEN + 8 + 2 + MAX_USER_PAYLOAD);
    }

    #[test]
    fn writer_fills_to_the_mtu(
        header in header(),
        messages in prop::collection::vec(message(), 1..40),
        mtu in 0usize..4000,
    ) {
        let mut w = PacketWriter::new(&header, mtu);
        let mut pushed = Vec::new();
        for m in &messages {
            let fits = m.encoded_len() <= w.remaining();
            prop_assert_eq!(w.push(m), fits);
            if fits {
                pushed.push(m.clone());
            }
        }
        prop_assert_eq!(w.len(), pushed.len());
        let total: usize = pushed.iter().map(Message::encoded_len).sum();
        let bytes = w.finish();
        prop_assert_eq!(bytes.len(), PACKET_OVERHEAD + total);
        if !pushed.is_empty() {
            prop_assert!(bytes.len() <= mtu);
            prop_assert_eq!(decode_packet(&bytes), Ok(Packet { header, messages: pushed }));
        }
    }

    #[test]
    fn known_round_trips_alone_with_an_exact_length(message in known()) {
        let header = Header { cluster: 3, flags: 0 };
        let bytes = encode_packet(&header, std::slice::from_ref(&message)).unwrap();
        prop_assert_eq!(bytes.len(), PACKET_OVERHEAD + message.encoded_len());
        prop_assert_eq!(decode_packet(&bytes), Ok(Packet { header, messages: vec![message] }));
    }

    #[test]
    fn frame_round_trips(header in header(), frame in frame()) {
        let bytes = encode_frame(&header, &frame).unwrap();
        prop_assert_eq!(bytes.len(), frame.encoded_len());
        prop_assert_eq!(decode_frame(&bytes), Ok((header, frame)));
    }

    #[test]
    fn state_frame_round_trips(header in header(), sync in state_sync(12, 2048)) {
        let frame = Frame::State(sync);
        let bytes = encode_frame(&header, &frame).unwrap();
        prop_assert_eq!(bytes.len(), frame.encoded_len());
        prop_assert_eq!(bytes[HEADER_LEN], STATE_FRAME_KIND);
        prop_assert_eq!(decode_frame(&bytes), Ok((header, frame)));
    }

    #[test]
    fn state_message_encoded_len_is_exact(sync in state_sync(8, 512)) {
        let message = Message::State(sync);
        let mut buf = Vec::new();
        message.encode(&mut buf);
        prop_assert_eq!(buf.len(), message.encoded_len());
    }

    #[test]
    fn flipped_state_frames_never_panic(
        sync in state_sync(6, 256),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = Header { cluster: 1, flags: 0 };
        let mut bytes = encode_frame(&header, &Frame::State(sync)).unwrap();
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        let _ = decode_frame(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = decode_packet(&bytes);
        let _ = decode_frame(&bytes);
        let _ = decode_header(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        kind in any::<u8>(),
        tail in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut bytes = vec![b'E', b'P', 1, 0, 0, 0, 0, 0, 0, 0, 0, 7, kind];
        bytes.extend_from_slice(&tail);
        let _ = decode_packet(&bytes);
        let _ = decode_frame(&bytes);
        bytes[HEADER_LEN] = STATE_FRAME_KIND;
        let _ = decode_frame(&bytes);
    }

    #[test]
    fn flipped_packets_never_panic(
        messages in prop::collection::vec(message(), 1..10),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = encode_packet(&Header { cluster: 1, flags: 0 }, &messages).unwrap();
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        let _ = decode_packet(&bytes);
        let _ = decode_header(&bytes);
    }

    #[test]
    fn flipped_frames_never_panic(
        frame in frame(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = encode_frame(&Header { cluster: 1, flags: 0 }, &frame).unwrap();
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        let _ = decode_frame(&bytes);
    }
}
