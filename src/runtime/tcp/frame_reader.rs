//! The incremental reader of one length-prefixed frame: `len u32 (big-endian) | len bytes`,
//! read from a nonblocking source in whatever pieces it hands over.
//!
//! ```text
//! prefix: 0..4 bytes in --4th byte--> len > max_frame? -> Err(Oversized(len))
//! body:   reads of at most min(missing, scratch) bytes --len bytes in--> Ok(Some(frame))
//! WouldBlock at any point -> Ok(None), resumed by the next call; EOF -> Err(Closed)
//! ```
//!
//! Plain over any [`Read`], so the fuzz targets drive the very code a connection runs
//! (`bench_support::fuzz_tcp_reader`).

use std::io::{self, Read};

use super::conn::io_error;
use crate::error::ExchangeError;

/// Where one frame's read is: the prefix so far, then the body so far.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    /// The length prefix being read.
    len_buf: [u8; 4],
    /// Bytes of `len_buf` filled so far.
    len_have: usize,
    /// The announced body length, valid once `len_have == 4`.
    body_len: usize,
    /// The body read so far; never allocated beyond `body_len`.
    body: Vec<u8>,
}

impl FrameReader {
    /// A reader at the start of a frame.
    pub(crate) fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Whether some byte of the current frame has arrived (a close now cuts it short).
    pub(crate) fn started(&self) -> bool {
        self.len_have > 0
    }

    /// Bytes allocated for the body being read (never more than its announced length).
    #[cfg(feature = "unstable-internals")]
    pub(crate) fn body_capacity(&self) -> usize {
        self.body.capacity()
    }

    /// Reads from `src` until one whole frame is in (`Some`, and the reader is back at the
    /// start of the next) or `src` would block (`None`).
    ///
    /// Reads never go past the end of the frame, and the body grows with what actually
    /// arrives (capped at the checked length), so a peer announcing 16 MiB and sending
    /// nothing costs nothing. `scratch` must not be empty.
    pub(crate) fn read_from(
        &mut self,
        src: &mut impl Read,
        scratch: &mut [u8],
        max_frame: usize,
    ) -> Result<Option<Vec<u8>>, ExchangeError> {
        loop {
            if self.len_have < self.len_buf.len() {
                let n = match src.read(&mut self.len_buf[self.len_have..]) {
                    Ok(0) => return Err(ExchangeError::Closed),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_error(e)),
                };
                self.len_have += n;
                if self.len_have == self.len_buf.len() {
                    let len = u32::from_be_bytes(self.len_buf) as usize;
                    if len > max_frame {
                        return Err(ExchangeError::Oversized(len));
                    }
                    self.body_len = len;
                    self.body = Vec::new();
                }
                continue;
            }
            let missing = self.body_len - self.body.len();
            if missing == 0 {
                self.len_have = 0;
                return Ok(Some(std::mem::take(&mut self.body)));
            }
            let want = missing.min(scratch.len());
            match src.read(&mut scratch[..want]) {
                Ok(0) => return Err(ExchangeError::Closed),
                Ok(n) => {
                    if self.body.capacity() - self.body.len() < n {
                        // Double like Vec would, but never past the announced length.
                        let target = (self.body.capacity() * 2)
                            .max(self.body.len() + n)
                            .min(self.body_len);
                        self.body.reserve_exact(target - self.body.len());
                    }
                    self.body.extend_from_slice(&scratch[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}
