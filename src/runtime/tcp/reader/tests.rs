#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::collections::VecDeque;

use super::*;

/// A stream that hands out scripted chunks, then would block (or hangs up, if `eof`).
struct Script {
    chunks: VecDeque<Vec<u8>>,
    eof: bool,
}

impl Script {
    fn new(chunks: &[&[u8]]) -> Script {
        Script {
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            eof: false,
        }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(chunk) = self.chunks.front_mut() else {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        Ok(n)
    }
}

/// A frame: length prefix, then `head_byte` for the head and `body` after it.
fn frame(head_byte: u8, rest: usize) -> Vec<u8> {
    let mut body = vec![head_byte; FRAME_HEAD_LEN];
    body.extend(std::iter::repeat_n(7, rest));
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend(body);
    bytes
}

/// Admits heads of `1`s, refuses anything else as another cluster's; counts its calls.
fn gate(calls: &Cell<usize>) -> impl Fn(&[u8]) -> Result<(), DropReason> + '_ {
    move |head| {
        calls.set(calls.get() + 1);
        assert!(head.len() <= FRAME_HEAD_LEN);
        if head.iter().all(|&b| b == 1) && head.len() == FRAME_HEAD_LEN {
            Ok(())
        } else {
            Err(DropReason::WrongCluster)
        }
    }
}

fn rules<'a>(gate: Gate<'a>, budget: usize) -> ReadRules<'a> {
    ReadRules {
        max_frame: 1 << 20,
        budget,
        gate,
    }
}

#[test]
fn a_frame_in_pieces_is_read_whole_and_the_reader_starts_over() {
    let calls = Cell::new(0);
    let gate = gate(&calls);
    let bytes = frame(1, 100);
    let mut reader = FrameReader::default();
    let mut scratch = [0; 16];
    // Byte by byte: every read returns at most one byte.
    let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
    let mut stream = Script::new(&pieces);
    let got = reader.read(&mut stream, &mut scratch, &rules(&gate, 1 << 20));
    assert_eq!(got.unwrap().unwrap().len(), FRAME_HEAD_LEN + 100);
    assert_eq!(calls.get(), 1);
    assert!(!reader.started());

    let mut stream = Script::new(&[&bytes[..10]]);
    assert_eq!(
        reader.read(&mut stream, &mut scratch, &rules(&gate, 1 << 20)),
        Ok(None)
    );
    assert!(reader.started() && !reader.admitted());
}

#[test]
fn a_refused_head_ends_the_read_before_any_body_is_buffered() {
    let calls = Cell::new(0);
    let gate = gate(&calls);
    // Announces 1 MiB; the head is another cluster's.
    let mut bytes = frame(2, 0);
    bytes[..4].copy_from_slice(&(1u32 << 20).to_be_bytes());
    bytes.extend(vec![0; 4096]);
    let mut reader = FrameReader::default();
    let mut stream = Script::new(&[&bytes]);
    let got = reader.read(&mut stream, &mut [0; 4096], &rules(&gate, 1 << 30));
    assert_eq!(got, Err(ExchangeError::Unusable(DropReason::WrongCluster)));
    assert!(reader.held() <= FRAME_HEAD_LEN, "held {}", reader.held());
}

#[test]
fn frames_shorter_than_a_head_go_to_the_gate_whole() {
    for len in [0_u32, 1, 12] {
        let calls = Cell::new(0);
        let gate = gate(&calls);
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend(vec![1; len as usize]);
        let mut stream = Script::new(&[&bytes]);
        let got = FrameReader::default().read(&mut stream, &mut [0; 64], &rules(&gate, 1024));
        assert_eq!(
            got,
            Err(ExchangeError::Unusable(DropReason::WrongCluster)),
            "{len}"
        );
        assert_eq!(calls.get(), 1);
    }
}

#[test]
fn limits_of_length_and_budget() {
    let calls = Cell::new(0);
    let gate = gate(&calls);
    let big = frame(1, 5000);
    let mut stream = Script::new(&[&big]);
    let mut tight = rules(&gate, 1 << 20);
    tight.max_frame = 1000;
    let got = FrameReader::default().read(&mut stream, &mut [0; 64], &tight);
    assert_eq!(got, Err(ExchangeError::Oversized(FRAME_HEAD_LEN + 5000)));
    assert_eq!(calls.get(), 0, "refused on its length alone");

    let mut stream = Script::new(&[&big]);
    let got = FrameReader::default().read(&mut stream, &mut [0; 64], &rules(&gate, 2048));
    assert_eq!(got, Err(ExchangeError::Overloaded));
}

#[test]
fn a_hangup_mid_frame_is_closed() {
    let calls = Cell::new(0);
    let gate = gate(&calls);
    let bytes = frame(1, 10);
    let mut stream = Script::new(&[&bytes[..20]]);
    stream.eof = true;
    let mut reader = FrameReader::default();
    let got = reader.read(&mut stream, &mut [0; 64], &rules(&gate, 1024));
    assert_eq!(got, Err(ExchangeError::Closed));
    assert!(reader.admitted());
}
