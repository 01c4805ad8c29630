//! One TCP connection: a small state machine over a nonblocking stream, carrying exactly
//! one request and one response (see the parent module for the picture).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use super::frame_reader::FrameReader;
use crate::error::ExchangeError;
use crate::protocol::{ConnId, ExchangeId};
use crate::stats::{Counters, DropReason};

/// Which side opened the connection, and the id the sink knows it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Accepted from a peer; `conn` is the id given to `NetSink::request`.
    Inbound {
        /// The connection id (the mio token's value).
        conn: ConnId,
    },
    /// Opened by `NetOutput::Exchange`.
    Outbound {
        /// The exchange, echoed in `NetSink::response`.
        exchange: ExchangeId,
    },
}

/// Where a connection is in its single request/response exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Outbound: the nonblocking connect has not completed yet.
    Connecting,
    /// Writing `out` (the request, or the reply).
    Sending,
    /// Reading one length-prefixed frame.
    Receiving,
    /// Inbound: the request went to the sink; waiting for `Reply` or `Close`.
    Waiting,
}

/// What the reactor must do after driving a connection.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Nothing to report; keep the connection.
    Pending,
    /// Inbound: a whole request arrived; hand it to the sink and keep the connection.
    Request(Vec<u8>),
    /// Outbound: the exchange ended; report it and drop the connection.
    Response(Result<Vec<u8>, ExchangeError>),
    /// Inbound: finished or failed; drop the connection without a word.
    Close,
}

/// One TCP connection and its buffers.
pub(super) struct Conn {
    /// The nonblocking stream, registered with the reactor's poll.
    pub(super) stream: TcpStream,
    /// The peer's address, for the sink and for logs.
    pub(super) peer: SocketAddr,
    /// Inbound or outbound, with the id to report.
    pub(super) kind: Kind,
    /// When the connection is given up; swept by the reactor.
    pub(super) deadline: Instant,
    /// Where the exchange is.
    state: State,
    /// The frame being read (request or response).
    reader: FrameReader,
    /// The frame being written, length prefix included.
    out: Vec<u8>,
    /// Bytes of `out` already written.
    written: usize,
}

impl Conn {
    /// An outbound connection that will send `frame` once the connect completes.
    ///
    /// The caller has checked `frame.len()` against the frame limit.
    pub(super) fn outbound(
        stream: TcpStream,
        peer: SocketAddr,
        exchange: ExchangeId,
        frame: &[u8],
        deadline: Instant,
    ) -> Self {
        let mut conn = Self::new(
            stream,
            peer,
            Kind::Outbound { exchange },
            deadline,
            State::Connecting,
        );
        conn.out = prefixed(frame);
        conn
    }

    /// An accepted connection that waits for a request.
    pub(super) fn inbound(
        stream: TcpStream,
        peer: SocketAddr,
        conn: ConnId,
        deadline: Instant,
    ) -> Self {
        Self::new(
            stream,
            peer,
            Kind::Inbound { conn },
            deadline,
            State::Receiving,
        )
    }

    /// Shared constructor.
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        kind: Kind,
        deadline: Instant,
        state: State,
    ) -> Self {
        // One request, one response: Nagle would only delay the last partial segment.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("tcp {peer}: TCP_NODELAY refused: {e}");
        }
        Conn {
            stream,
            peer,
            kind,
            deadline,
            state,
            reader: FrameReader::new(),
            out: Vec::new(),
            written: 0,
        }
    }

    /// True while an inbound request waits for the application's answer.
    pub(super) fn is_waiting(&self) -> bool {
        self.state == State::Waiting
    }

    /// Queues the reply of an inbound connection; the caller then drives it with `ready`.
    ///
    /// The caller has checked `frame.len()` against the frame limit.
    pub(super) fn start_reply(&mut self, frame: &[u8], deadline: Instant) {
        self.out = prefixed(frame);
        self.written = 0;
        self.deadline = deadline;
        self.state = State::Sending;
    }

    /// Drives the connection as far as the socket allows, after a poll event or a new reply.
    ///
    /// `scratch` is the table's read buffer, lent to avoid an allocation per connection.
    pub(super) fn ready(
        &mut self,
        scratch: &mut [u8],
        max_frame: usize,
        counters: &Counters,
    ) -> Outcome {
        match self.step(scratch, max_frame, counters) {
            Ok(outcome) => outcome,
            Err(err) => match self.kind {
                Kind::Outbound { .. } => Outcome::Response(Err(err)),
                Kind::Inbound { conn } => {
                    let partial = self.state == State::Receiving && self.reader.started();
                    if matches!(err, ExchangeError::Oversized(_)) {
                        counters.dropped(DropReason::Oversized);
                    } else if partial {
                        // A request cut short (hangup or error mid-frame) is a truncated
                        // frame; a clean close before any byte is not counted.
                        counters.dropped(DropReason::Malformed);
                    }
                    log::debug!("tcp {} (conn {}): closing: {err}", self.peer, conn.0);
                    Outcome::Close
                }
            },
        }
    }

    /// The state machine proper; an `Err` ends the connection.
    fn step(
        &mut self,
        scratch: &mut [u8],
        max_frame: usize,
        counters: &Counters,
    ) -> Result<Outcome, ExchangeError> {
        loop {
            match self.state {
                State::Connecting => {
                    if !self.connected()? {
                        return Ok(Outcome::Pending);
                    }
                    self.state = State::Sending;
                }
                State::Sending => {
                    if !self.flush()? {
                        return Ok(Outcome::Pending);
                    }
                    Counters::bump(&counters.frames_out);
                    self.out = Vec::new();
                    match self.kind {
                        Kind::Outbound { .. } => self.state = State::Receiving,
                        Kind::Inbound { .. } => return Ok(Outcome::Close),
                    }
                }
                State::Receiving => {
                    let read = self
                        .reader
                        .read_from(&mut self.stream, scratch, max_frame)?;
                    let Some(frame) = read else {
                        return Ok(Outcome::Pending);
                    };
                    return Ok(match self.kind {
                        Kind::Outbound { .. } => Outcome::Response(Ok(frame)),
                        Kind::Inbound { .. } => {
                            self.state = State::Waiting;
                            Outcome::Request(frame)
                        }
                    });
                }
                State::Waiting => {
                    self.check_hangup(scratch)?;
                    return Ok(Outcome::Pending);
                }
            }
        }
    }

    /// Whether the nonblocking connect has completed, following the steps in mio's docs:
    /// `take_error` reports a failed connect, `peer_addr` tells done from still in progress.
    fn connected(&mut self) -> Result<bool, ExchangeError> {
        match self.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Err(ExchangeError::Connect(e.kind())),
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected || e.raw_os_error() == EINPROGRESS =>
            {
                Ok(false)
            }
            Err(e) => Err(ExchangeError::Connect(e.kind())),
        }
    }

    /// Writes `out` until done (`true`) or the socket is full (`false`).
    fn flush(&mut self) -> Result<bool, ExchangeError> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(ExchangeError::Closed),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(true)
    }

    /// While waiting for the reply: a peer that hangs up or sends more is given up on.
    fn check_hangup(&mut self, scratch: &mut [u8]) -> Result<(), ExchangeError> {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return Err(ExchangeError::Closed),
                Ok(n) => {
                    log::debug!("tcp {}: {n} unexpected bytes after the request", self.peer);
                    return Err(ExchangeError::Io(io::ErrorKind::InvalidData));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}

/// `frame` behind its u32 big-endian length, in one buffer so it leaves in one write.
///
/// Callers check the length against the frame limit (at most `u32::MAX`) first.
fn prefixed(frame: &[u8]) -> Vec<u8> {
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
    out
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

/// `EINPROGRESS`, which `peer_addr` may report for a connect still under way (mio's docs);
/// `io::ErrorKind::InProgress` is not stable yet, so the raw code it is.
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: Option<i32> = Some(115);
/// `EINPROGRESS` on the BSDs and Apple systems.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
const EINPROGRESS: Option<i32> = Some(36);
/// `WSAEINPROGRESS`.
#[cfg(windows)]
const EINPROGRESS: Option<i32> = Some(10036);
/// Elsewhere only `NotConnected` means still connecting.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    windows
)))]
const EINPROGRESS: Option<i32> = None;
