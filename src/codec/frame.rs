//! TCP frames: the content after the reactor's `u32` length prefix.
//!
//! ```text
//! frame     header (12) | kind u8 (1 = PushPull, 2 = State) | body
//! PushPull  join u8 (0/1) | count u32 (<= MAX_MEMBERS_PER_SYNC) | count × record
//! record    name | addr | incarnation u64 | state u8 | metadata (len u16 <= 512)
//! State     see `kv.rs`
//! ```

use super::error::{DecodeError, EncodeError};
use super::packet::{put_header, read_header};
use super::wire::{self, MIN_ADDR_LEN, MIN_NAME_LEN, Reader, addr_len, name_len};
use super::{
    Frame, HEADER_LEN, Header, MAX_FRAME_LEN, MAX_MEMBERS_PER_SYNC, MemberRecord, PushPull,
    StateSync,
};
use crate::member::{MAX_METADATA_LEN, MemberState};

/// Frame kind code of [`Frame::PushPull`].
const KIND_PUSH_PULL: u8 = 1;
/// Frame kind code of [`Frame::State`].
const KIND_STATE: u8 = 2;
/// Smallest encoded member record: name, IPv4 address, incarnation, state, empty metadata.
const MIN_RECORD_LEN: usize = MIN_NAME_LEN + MIN_ADDR_LEN + 8 + 1 + 2;

impl Frame {
    /// Exact length of [`encode_frame`]'s output for this frame, header included (the
    /// reactor's `u32` length prefix is not).
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + 1
            + match self {
                Frame::PushPull(p) => 1 + 4 + p.members.iter().map(record_len).sum::<usize>(),
                Frame::State(sync) => sync.body_len(),
            }
    }
}

/// Encoded length of a member record.
fn record_len(m: &MemberRecord) -> usize {
    name_len(&m.name) + addr_len(&m.addr) + 8 + 1 + 2 + m.metadata.len()
}

/// Encodes a frame: header, kind and body, without the length prefix.
///
/// Fails with nothing written if a field is over its limit (more than
/// [`MAX_MEMBERS_PER_SYNC`] members, a member's metadata over [`MAX_METADATA_LEN`] bytes, a
/// state leg over the state limits) or the frame would exceed [`MAX_FRAME_LEN`] bytes.
pub fn encode_frame(header: &Header, frame: &Frame) -> Result<Vec<u8>, EncodeError> {
    match frame {
        Frame::PushPull(p) => check_push_pull(p)?,
        Frame::State(sync) => sync.check_limits()?,
    }
    let len = frame.encoded_len();
    if len > MAX_FRAME_LEN {
        return Err(EncodeError::FrameTooLarge(len));
    }
    let mut buf = Vec::with_capacity(len);
    put_header(&mut buf, header);
    match frame {
        Frame::PushPull(p) => {
            wire::put_u8(&mut buf, KIND_PUSH_PULL);
            put_push_pull(&mut buf, p);
        }
        Frame::State(sync) => {
            wire::put_u8(&mut buf, KIND_STATE);
            sync.encode_body(&mut buf);
        }
    }
    Ok(buf)
}

/// The limits of a push-pull body.
fn check_push_pull(p: &PushPull) -> Result<(), EncodeError> {
    let count = p.members.len();
    if count > MAX_MEMBERS_PER_SYNC {
        return Err(EncodeError::FieldTooLarge {
            what: "members",
            len: count,
            max: MAX_MEMBERS_PER_SYNC,
        });
    }
    if let Some(m) = p
        .members
        .iter()
        .find(|m| m.metadata.len() > MAX_METADATA_LEN)
    {
        return Err(EncodeError::FieldTooLarge {
            what: "metadata",
            len: m.metadata.len(),
            max: MAX_METADATA_LEN,
        });
    }
    Ok(())
}

/// Writes a push-pull body (its limits checked).
fn put_push_pull(buf: &mut Vec<u8>, p: &PushPull) {
    wire::put_u8(buf, u8::from(p.join));
    wire::put_u32(buf, u32::try_from(p.members.len()).unwrap_or(u32::MAX));
    for m in &p.members {
        wire::put_name(buf, &m.name);
        wire::put_addr(buf, &m.addr);
        wire::put_u64(buf, m.incarnation);
        wire::put_u8(buf, m.state.code());
        wire::put_bytes16(buf, &m.metadata);
    }
}

/// Checks a frame's size, reads its header and kind, and returns a reader at its body.
fn open_frame(bytes: &[u8]) -> Result<(Header, u8, Reader<'_>), DecodeError> {
    if bytes.len() > MAX_FRAME_LEN {
        return Err(DecodeError::LengthOutOfRange {
            what: "frame",
            len: bytes.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let mut r = Reader::new(bytes);
    let header = read_header(&mut r)?;
    let kind = r.u8()?;
    Ok((header, kind, r))
}

/// Bytes at the start of every frame that [`check_frame_head`] looks at: the header and
/// the kind.
pub const FRAME_HEAD_LEN: usize = HEADER_LEN + 1;

/// Checks the first [`FRAME_HEAD_LEN`] bytes of a frame (magic, version, flags, a known
/// kind) and returns its header, so a reader can refuse a frame before buffering its
/// body. The rest of `head`, if any, is not looked at.
pub fn check_frame_head(head: &[u8]) -> Result<Header, DecodeError> {
    let mut r = Reader::new(head);
    let header = read_header(&mut r)?;
    match r.u8()? {
        KIND_PUSH_PULL | KIND_STATE => Ok(header),
        kind => Err(DecodeError::UnknownFrameKind(kind)),
    }
}

/// Decodes a frame (the bytes after the length prefix). Never panics on any input, and
/// allocates only in proportion to the input's length.
pub fn decode_frame(bytes: &[u8]) -> Result<(Header, Frame), DecodeError> {
    let (header, kind, mut r) = open_frame(bytes)?;
    let frame = match kind {
        KIND_PUSH_PULL => Frame::PushPull(read_push_pull(&mut r)?),
        KIND_STATE => Frame::State(StateSync::decode_body(&mut r)?),
        kind => return Err(DecodeError::UnknownFrameKind(kind)),
    };
    r.finish()?;
    Ok((header, frame))
}

/// Reads a push-pull body.
fn read_push_pull(r: &mut Reader<'_>) -> Result<PushPull, DecodeError> {
    let join = match r.u8()? {
        0 => false,
        1 => true,
        other => return Err(DecodeError::InvalidBool(other)),
    };
    let count = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    if count > MAX_MEMBERS_PER_SYNC {
        return Err(DecodeError::LengthOutOfRange {
            what: "members",
            len: count,
            max: MAX_MEMBERS_PER_SYNC,
        });
    }
    // Never allocate from an untrusted count: each record takes at least MIN_RECORD_LEN.
    if count.saturating_mul(MIN_RECORD_LEN) > r.remaining() {
        return Err(DecodeError::Truncated);
    }
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        members.push(read_record(r)?);
    }
    Ok(PushPull { join, members })
}

/// Reads one member record.
fn read_record(r: &mut Reader<'_>) -> Result<MemberRecord, DecodeError> {
    let name = r.name()?;
    let addr = r.addr()?;
    let incarnation = r.u64()?;
    let code = r.u8()?;
    let state = MemberState::from_code(code).ok_or(DecodeError::UnknownState(code))?;
    let metadata = r.bytes16("metadata", MAX_METADATA_LEN)?;
    Ok(MemberRecord {
        name,
        addr,
        incarnation,
        state,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::member::NodeName;

    const HEADER: Header = Header {
        cluster: 42,
        flags: 0,
    };

    fn record(i: usize) -> MemberRecord {
        MemberRecord {
            name: NodeName::new(&format!("node-{i}")).unwrap(),
            addr: if i % 2 == 0 {
                "10.0.0.1:7946"
            } else {
                "[::1]:7946"
            }
            .parse()
            .unwrap(),
            incarnation: i as u64,
            state: MemberState::from_code((i % 4) as u8).unwrap(),
            metadata: Arc::from(vec![i as u8; i % 20]),
        }
    }

    fn frame(n: usize) -> Frame {
        Frame::PushPull(PushPull {
            join: true,
            members: (0..n).map(record).collect(),
        })
    }

    #[test]
    fn round_trip_and_exact_len() {
        for n in [0, 1, 5, 50] {
            let f = frame(n);
            let bytes = encode_frame(&HEADER, &f).unwrap();
            assert_eq!(bytes.len(), f.encoded_len());
            assert_eq!(decode_frame(&bytes), Ok((HEADER, f)));
        }
    }

    #[test]
    fn truncated_at_every_offset_and_trailing() {
        let mut bytes = encode_frame(&HEADER, &frame(3)).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(
                decode_frame(&bytes[..cut]),
                Err(DecodeError::Truncated),
                "cut at {cut}"
            );
        }
        bytes.push(0);
        assert_eq!(decode_frame(&bytes), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn decode_errors() {
        let good = encode_frame(&HEADER, &frame(1)).unwrap();
        let kind = HEADER_LEN;
        let join = kind + 1;
        let count = join + 1;
        let mut bad = good.clone();
        bad[kind] = 3;
        assert_eq!(decode_frame(&bad), Err(DecodeError::UnknownFrameKind(3)));
        let mut bad = good.clone();
        bad[join] = 2;
        assert_eq!(decode_frame(&bad), Err(DecodeError::InvalidBool(2)));
        let mut bad = good.clone();
        bad[count..count + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_frame(&bad),
            Err(DecodeError::LengthOutOfRange {
                what: "members",
                ..
            })
        ));
        // A count that is allowed but cannot fit in the input is refused before allocating.
        bad[count..count + 4].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(decode_frame(&bad), Err(DecodeError::Truncated));
        // node-0 | tag 4 ... : the state byte sits after name (7), addr (7), incarnation (8).
        let state = count + 4 + 7 + 7 + 8;
        let mut bad = good.clone();
        bad[state] = 9;
        assert_eq!(decode_frame(&bad), Err(DecodeError::UnknownState(9)));
        let mut bad = good.clone();
        bad[0] = 0;
        assert_eq!(decode_frame(&bad), Err(DecodeError::BadMagic));
        let huge = vec![0u8; MAX_FRAME_LEN + 1];
        assert!(matches!(
            decode_frame(&huge),
            Err(DecodeError::LengthOutOfRange { what: "frame", .. })
        ));
    }

    #[test]
    fn the_head_alone_tells_a_frame_to_read_on() {
        let good = encode_frame(&HEADER, &frame(2)).unwrap();
        assert_eq!(check_frame_head(&good[..FRAME_HEAD_LEN]), Ok(HEADER));
        assert_eq!(check_frame_head(&good), Ok(HEADER), "the rest is not read");
        for cut in 0..FRAME_HEAD_LEN {
            assert_eq!(check_frame_head(&good[..cut]), Err(DecodeError::Truncated));
        }
        let mut bad = good.clone();
        bad[HEADER_LEN] = 0;
        assert_eq!(
            check_frame_head(&bad),
            Err(DecodeError::UnknownFrameKind(0))
        );
        bad = good.clone();
        bad[1] ^= 1;
        assert_eq!(check_frame_head(&bad), Err(DecodeError::BadMagic));
    }

    #[test]
    fn encode_limits() {
        let mut big = record(1);
        big.metadata = Arc::from(vec![0u8; MAX_METADATA_LEN + 1]);
        let f = Frame::PushPull(PushPull {
            join: false,
            members: vec![big],
        });
        let err = EncodeError::FieldTooLarge {
            what: "metadata",
            len: 513,
            max: 512,
        };
        assert_eq!(encode_frame(&HEADER, &f), Err(err));
        let mut fat = record(1);
        fat.metadata = Arc::from(vec![0u8; MAX_METADATA_LEN]);
        let members = vec![fat; MAX_MEMBERS_PER_SYNC];
        let f = Frame::PushPull(PushPull {
            join: false,
            members,
        });
        assert_eq!(
            encode_frame(&HEADER, &f),
            Err(EncodeError::FrameTooLarge(f.encoded_len()))
        );
        let Frame::PushPull(mut p) = f else {
            unreachable!()
        };
        p.members.push(record(0));
        let f = Frame::PushPull(p);
        assert!(matches!(
            encode_frame(&HEADER, &f),
            Err(EncodeError::FieldTooLarge {
                what: "members",
                ..
            })
        ));
    }
}
