//! Unit tests of `state`.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::codec::{
    Frame, HEADER_LEN, Header, Message, decode_frame, decode_packet, encode_frame, encode_packet,
};

const HEADER: Header = Header {
    cluster: 9,
    flags: 0,
};

fn sample() -> StateSync {
    let owner = NodeName::new("nœud").unwrap();
    StateSync {
        want: StateWant::DeltasAndDigest,
        summary: None,
        digest: vec![StateDigest {
            owner: owner.clone(),
            generation: 1,
            max_version: 3,
            watermark: 1,
        }],
        deltas: vec![StateDeltas {
            owner,
            generation: 1,
            watermark: 1,
            max_version: 3,
            from: 0,
            to: 3,
            entries: vec![
                StateEntry {
                    key: StateKey::new("config/日本").unwrap(),
                    version: 2,
                    value: Some(Arc::from(&b"on"[..])),
                },
                StateEntry {
                    key: StateKey::new("k").unwrap(),
                    version: 3,
                    value: None,
                },
            ],
        }],
    }
}

#[test]
fn round_trips_as_frame_and_message() {
    let sync = sample();
    let as_frame = Frame::State(sync.clone());
    let frame = encode_frame(&HEADER, &as_frame).unwrap();
    assert_eq!(frame.len(), as_frame.encoded_len());
    assert_eq!(frame[HEADER_LEN], 2, "state frames are kind 2");
    assert_eq!(decode_frame(&frame), Ok((HEADER, as_frame)));
    let message = Message::State(sync);
    let packet = encode_packet(&HEADER, std::slice::from_ref(&message)).unwrap();
    assert_eq!(
        packet.len(),
        crate::codec::PACKET_OVERHEAD + message.encoded_len()
    );
    assert_eq!(decode_packet(&packet).unwrap().messages, vec![message]);
    for cut in 0..frame.len() {
        assert_eq!(decode_frame(&frame[..cut]), Err(DecodeError::Truncated));
    }
}

#[test]
fn bad_fields_are_refused() {
    let frame = encode_frame(&HEADER, &Frame::State(sample())).unwrap();
    let body = HEADER_LEN + 1;
    let mut bad = frame.clone();
    bad[body] = 4;
    assert_eq!(decode_frame(&bad), Err(DecodeError::UnknownStateWant(4)));
    // The first key's length byte: after want, digest and the deltas header.
    let key = body + 1 + 4 + (6 + 24) + 4 + (6 + 40 + 4);
    let mut bad = frame.clone();
    bad[key] = 0;
    assert!(matches!(
        decode_frame(&bad),
        Err(DecodeError::LengthOutOfRange {
            what: "state key",
            ..
        })
    ));
    let tag = key + 1 + "config/日本".len() + 8;
    let mut bad = frame.clone();
    bad[tag] = 2;
    assert_eq!(decode_frame(&bad), Err(DecodeError::InvalidBool(2)));
    let mut bad = frame;
    bad[body + 1..body + 5].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(decode_frame(&bad).is_err());
    assert_eq!(StateKey::new(""), None);
    assert_eq!(StateKey::new(&"k".repeat(129)), None);
}

#[test]
fn limits_are_checked_before_encoding() {
    let mut sync = sample();
    sync.deltas[0].entries[0].value = Some(Arc::from(vec![0; MAX_STATE_VALUE_LEN + 1]));
    assert!(matches!(
        encode_frame(&HEADER, &Frame::State(sync)),
        Err(EncodeError::FieldTooLarge {
            what: "state value",
            ..
        })
    ));
    // Within each value's limit, but more than one datagram message can hold.
    let mut sync = sample();
    let entry = StateEntry {
        key: StateKey::new("v").unwrap(),
        version: 9,
        value: Some(Arc::from(vec![0; MAX_STATE_VALUE_LEN])),
    };
    sync.deltas[0].entries = vec![entry; 5];
    let message = Message::State(sync.clone());
    assert!(matches!(
        message.check_limits(),
        Err(EncodeError::FieldTooLarge {
            what: "state message",
            ..
        })
    ));
    assert!(
        encode_frame(&HEADER, &Frame::State(sync)).is_ok(),
        "a frame holds it"
    );
}
