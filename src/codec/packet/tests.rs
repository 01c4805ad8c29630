//! Unit tests of `packet`.

#![allow(clippy::unwrap_used)]
use std::sync::Arc;

use super::*;
use crate::aggregate::AggregateName;
use crate::codec::{
    HEADER_LEN, MAX_MESSAGES_PER_PACKET, PACKET_OVERHEAD, PacketWriter, encode_packet,
};
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
        Message::Known(Known {
            ids: vec![(name("a"), 9), (name("nœud"), u64::MAX)],
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
