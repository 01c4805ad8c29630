//! Reading one length-prefixed frame off a nonblocking stream, refusing it as early as it
//! can be refused:
//!
//! ```text
//! length u32  ── over the frame limit? ───────────────────── refused: Oversized
//! head        ── first FRAME_HEAD_LEN bytes (or the whole frame if shorter): magic,
//!                version, flags, cluster, kind ── the gate says no? refused, counted
//! body        ── grows only with what arrives, never past the announced length nor
//!                the bytes the connection table can still lend (Overloaded)
//! ```
//! So a stranger's connection costs at most the 17 bytes of length and head until it has
//! shown it speaks this cluster's protocol, and all connections together hold at most
//! the table's byte budget.

use std::io::{self, Read};

use crate::codec::FRAME_HEAD_LEN;
use crate::error::ExchangeError;
use crate::stats::DropReason;

/// Whether a frame that begins with these bytes may be read on; `Err` says why not (and
/// has been counted).
pub(crate) type Gate<'a> = &'a dyn Fn(&[u8]) -> Result<(), DropReason>;

/// The limits one read works under.
pub(crate) struct ReadRules<'a> {
    /// The largest frame accepted.
    pub(crate) max_frame: usize,
    /// The most bytes this reader's body may hold (what the table can still lend it).
    pub(crate) budget: usize,
    /// The head check.
    pub(crate) gate: Gate<'a>,
}

/// One frame being read (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    /// The length prefix, and how many of its bytes have arrived.
    len_buf: [u8; 4],
    /// Bytes of `len_buf` filled so far.
    len_have: usize,
    /// The announced body length, valid once `len_have == 4`.
    body_len: usize,
    /// The body read so far.
    body: Vec<u8>,
    /// The head passed the gate.
    admitted: bool,
}

impl FrameReader {
    /// True once any byte of the frame arrived.
    pub(crate) fn started(&self) -> bool {
        self.len_have > 0
    }

    /// True once the head passed the gate.
    pub(crate) fn admitted(&self) -> bool {
        self.admitted
    }

    /// Bytes held for the body.
    pub(crate) fn held(&self) -> usize {
        self.body.capacity()
    }

    /// Reads until one whole frame is in (`Some`, and the reader is ready for another) or
    /// the stream has nothing more now (`None`).
    pub(crate) fn read(
        &mut self,
        stream: &mut impl Read,
        scratch: &mut [u8],
        rules: &ReadRules<'_>,
    ) -> Result<Option<Vec<u8>>, ExchangeError> {
        loop {
            if self.len_have < self.len_buf.len() {
                let Some(n) = read_some(stream, &mut self.len_buf[self.len_have..])? else {
                    return Ok(None);
                };
                self.len_have += n;
                if self.len_have == self.len_buf.len() {
                    self.start_body(rules.max_frame)?;
                }
                continue;
            }
            let head = FRAME_HEAD_LEN.min(self.body_len);
            let target = if self.admitted { self.body_len } else { head };
            let missing = target - self.body.len();
            if missing == 0 {
                if self.admitted {
                    let frame = std::mem::take(&mut self.body);
                    *self = FrameReader::default();
                    return Ok(Some(frame));
                }
                (rules.gate)(&self.body[..head]).map_err(ExchangeError::Unusable)?;
                self.admitted = true;
                continue;
            }
            let want = missing.min(scratch.len());
            let Some(n) = read_some(stream, &mut scratch[..want])? else {
                return Ok(None);
            };
            self.reserve(n, rules.budget)?;
            self.body.extend_from_slice(&scratch[..n]);
        }
    }

    /// The length prefix is in: checks it and makes room for the head.
    fn start_body(&mut self, max_frame: usize) -> Result<(), ExchangeError> {
        let len = u32::from_be_bytes(self.len_buf) as usize;
        if len > max_frame {
            return Err(ExchangeError::Oversized(len));
        }
        self.body_len = len;
        self.body = Vec::with_capacity(FRAME_HEAD_LEN.min(len));
        self.admitted = false;
        Ok(())
    }

    /// Room for `n` more bytes: doubling like `Vec` would, but never past the announced
    /// length, and never past `budget`.
    fn reserve(&mut self, n: usize, budget: usize) -> Result<(), ExchangeError> {
        if self.body.capacity() - self.body.len() >= n {
            return Ok(());
        }
        let target = (self.body.capacity() * 2)
            .max(self.body.len() + n)
            .min(self.body_len);
        if target > budget {
            return Err(ExchangeError::Overloaded);
        }
        self.body.reserve_exact(target - self.body.len());
        Ok(())
    }
}

/// One read: `Some(n)` bytes, `None` when the stream would block; a hangup is `Closed`.
fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> Result<Option<usize>, ExchangeError> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(ExchangeError::Closed),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

/// A socket error as an exchange error; a reset is the peer closing on us.
pub(super) fn io_error(e: io::Error) -> ExchangeError {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ExchangeError::Closed,
        kind => ExchangeError::Io(kind),
    }
}

#[cfg(test)]
mod tests;
