//! The `tcp_reader` target: the connection's incremental frame reader, fed a byte stream in
//! pieces, stalls, interruptions and errors the fuzz bytes choose, under a fuzz-chosen
//! frame limit, byte budget and head gate, checked against a plain model of the framing.
//!
//! ```text
//! fuzz bytes: max_frame | budget | gate | scratch size | plan len | plan (a byte per read) | stream
//! plan byte % 8: 0 would block, 1 interrupted, 2 reset, else hand over up to byte / 8 + 1
//! gate: refuses a head whose first byte is below the gate byte (0: admits every head)
//! ```

use std::io::{self, Read};

use super::Input;
use std::cell::RefCell;

use crate::codec::{FRAME_HEAD_LEN, MAX_FRAME_LEN};
use crate::error::ExchangeError;
use crate::runtime::{FrameReader, ReadRules};
use crate::stats::DropReason;

/// Most calls of the reader per input (each consumes a plan step or a byte, so this is
/// never reached by a well-behaved reader; it bounds a broken one).
const MAX_CALLS: usize = 100_000;

/// A nonblocking source that follows a plan, then hands over all that is asked.
struct Scripted<'a> {
    stream: &'a [u8],
    pos: usize,
    plan: &'a [u8],
    step: usize,
    /// What the last read did: `Some(kind)` for an error.
    last_error: Option<io::ErrorKind>,
}

impl Read for Scripted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.plan.get(self.step).copied();
        self.step += 1;
        let kind = match step.map(|b| b % 8) {
            Some(0) => Some(io::ErrorKind::WouldBlock),
            Some(1) => Some(io::ErrorKind::Interrupted),
            Some(2) => Some(io::ErrorKind::ConnectionReset),
            _ => None,
        };
        self.last_error = kind;
        if let Some(kind) = kind {
            return Err(kind.into());
        }
        let limit = step.map_or(usize::MAX, |b| usize::from(b / 8) + 1);
        let rest = &self.stream[self.pos..];
        let n = buf.len().min(limit).min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads frames until the stream ends or fails; each result must be what the framing
/// says: the gate sees exactly each frame's head, the reader never reads past a frame's end
/// (nor past the head of a refused one), and the body it holds is never allocated beyond
/// the announced length or the budget.
pub fn tcp_reader(data: &[u8]) {
    let mut input = Input::new(data);
    let max_frame = [0, 1, 16, 300, 70_000, MAX_FRAME_LEN][input.below(6)];
    let budget = [0, 8, 64, 4096, usize::MAX][input.below(5)];
    let refuse_below = input.u8();
    let mut scratch = vec![0; [1, 3, 64, 1024, 65_536][input.below(5)]];
    let plan_len = usize::from(input.u8());
    let plan = input.take(plan_len);
    let stream = input.take(usize::MAX);
    let mut src = Scripted {
        stream,
        pos: 0,
        plan,
        step: 0,
        last_error: None,
    };
    let heads = RefCell::new(Vec::new());
    let gate = |head: &[u8]| {
        heads.borrow_mut().push(head.to_vec());
        match head.first() {
            Some(&b) if b < refuse_below => Err(DropReason::WrongCluster),
            _ => Ok(()),
        }
    };
    let rules = ReadRules {
        max_frame,
        budget,
        gate: &gate,
    };
    let mut reader = FrameReader::default();
    // Where the model's current frame starts, and its announced length once known.
    let mut start = 0;
    for _ in 0..MAX_CALLS {
        let result = reader.read(&mut src, &mut scratch, &rules);
        let announced = stream
            .get(start..start + 4)
            .filter(|_| src.pos >= start + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let head_end = announced.map(|len| start + 4 + len.min(FRAME_HEAD_LEN));
        assert!(reader.held() <= announced.unwrap_or(0), "over-allocated");
        // The gate is asked once per frame, about exactly its head, and only once it is in.
        match heads.borrow().as_slice() {
            [] => assert!(!reader.admitted(), "admitted without the gate"),
            [seen] => {
                let head_end = head_end.unwrap_or_else(|| panic!("a head before the length"));
                assert!(
                    src.pos >= head_end,
                    "the gate was asked before the head was in"
                );
                assert_eq!(
                    Some(seen.as_slice()),
                    stream.get(start + 4..head_end),
                    "another head"
                );
            }
            _ => panic!("the gate was asked twice about one frame"),
        }
        match result {
            Ok(None) => {
                assert_eq!(
                    src.last_error,
                    Some(io::ErrorKind::WouldBlock),
                    "idle without cause"
                );
                assert!(
                    reader.held() <= budget.max(FRAME_HEAD_LEN),
                    "over the budget"
                );
            }
            Ok(Some(frame)) => {
                let len = announced.unwrap_or_else(|| panic!("a frame before its length"));
                assert!(len <= max_frame, "a frame over the limit");
                assert_eq!(src.pos, start + 4 + len, "read past the frame's end");
                assert_eq!(frame, stream[start + 4..start + 4 + len], "wrong frame");
                let head_refused = frame.first().is_some_and(|&b| b < refuse_below);
                assert!(!head_refused, "a frame the gate refused");
                assert!(
                    len <= FRAME_HEAD_LEN || len <= budget,
                    "a body over the budget"
                );
                assert_eq!(reader.held(), 0, "the reader kept the body");
                assert!(!reader.started(), "the reader did not start afresh");
                heads.borrow_mut().clear();
                start += 4 + len;
            }
            Err(ExchangeError::Oversized(len)) => {
                assert_eq!(
                    Some(len),
                    announced,
                    "oversized, but not what was announced"
                );
                assert!(len > max_frame, "refused a frame within the limit");
                assert_eq!(
                    src.pos,
                    start + 4,
                    "read past the prefix of an oversized frame"
                );
                return;
            }
            Err(ExchangeError::Unusable(DropReason::WrongCluster)) => {
                let head_end = head_end.unwrap_or_else(|| panic!("refused before the length"));
                let first = stream.get(start + 4).copied();
                assert!(
                    first.is_some_and(|b| b < refuse_below),
                    "refused an admissible head"
                );
                assert_eq!(src.pos, head_end, "read past the head of a refused frame");
                return;
            }
            Err(ExchangeError::Overloaded) => {
                let len = announced.unwrap_or_else(|| panic!("overloaded before the length"));
                assert!(len > budget, "overloaded within the budget");
                return;
            }
            Err(ExchangeError::Closed) => {
                let reset = src.last_error == Some(io::ErrorKind::ConnectionReset);
                assert!(reset || src.pos == stream.len(), "closed with bytes left");
                return;
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    panic!("the reader made no progress in {MAX_CALLS} calls");
}
