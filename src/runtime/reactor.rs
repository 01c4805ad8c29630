//! The network reactor: one mio thread per node owns the UDP socket, the TCP listener and every
//! TCP connection. It moves bytes and never decodes them.
//!
//! ```text
//!  actors ──ReactorHandle::send(NetCommand)──> bounded channel ──Waker──┐
//!                                                                      v
//!  UDP socket ──recv_from──> NetSink::datagram(from, bytes)      ┌─ reactor thread ─┐
//!  NetOutput::SendTo ──send_to (lossy: WouldBlock = dropped)     │ poll(deadline)   │
//!  listener ──accept──> Conn(Inbound) ──frame──> NetSink::request(conn, from, frame)
//!  NetOutput::Reply{conn} ──> Conn writes the reply, then closes
//!  NetOutput::Exchange{exchange} ──> Conn(Outbound): connect, write, read one frame
//!                                      ──> NetSink::response(exchange, Ok | Err)
//! ```
//!
//! The loop sleeps in `poll` until a socket is ready, a command arrives (the waker), or the
//! nearest connection deadline passes; an idle node with no connections blocks with no timeout
//! and uses no CPU. Everything is bounded: the command queue, the number of connections, the
//! frame size, and the time a connection may live. TCP connections live in `tcp.rs`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::queue::{self, LaneReceiver};
use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::RwLock;

pub(crate) use self::handle::ReactorHandle;
use self::handle::Shared;
use super::socket::Sockets;
use super::supervisor::Supervisor;
use super::tcp::Conns;
use crate::error::ExchangeError;
use crate::health::{Failure, FailureCause};
use crate::protocol::{ConnId, ExchangeId, NetOutput, Unsealed};
use crate::stats::{Counters, DropReason};

mod handle;
mod limits;

pub(crate) use self::limits::ReactorLimits;

/// The waker's token: commands are waiting.
const WAKER: Token = Token(0);
/// The UDP socket's token.
const UDP: Token = Token(1);
/// The TCP listener's token.
const LISTENER: Token = Token(2);
/// The first connection token; later ones only grow, so a stale id never hits a new connection.
const FIRST_CONN: usize = 3;
/// Capacity of the command queue's urgent lane (probe datagrams).
const URGENT_COMMANDS: usize = 1024;
/// Large enough for any UDP datagram, so none is ever truncated.
const RECV_BUF: usize = 65_536;
/// Events taken per `poll`; more simply wait for the next turn.
const EVENTS: usize = 256;
/// Datagrams read per turn at most: under a flood the reactor still turns, and serves its
/// commands (an ack to send), every this many datagrams.
const READ_BATCH: usize = 64;
/// Commands served per turn at most, urgent ones first, so a burst of sends does not hold
/// up reading.
const COMMAND_BATCH: usize = 256;

/// What other threads ask the reactor to do.
#[derive(Debug)]
pub(crate) enum NetCommand {
    /// A node core's network output: send a datagram, open an exchange (exactly one
    /// `NetSink::response` follows, whatever happens), answer or close an inbound
    /// connection (unknown or closed connections are ignored).
    Net(NetOutput),
    /// Stop the thread: every pending exchange gets `Err(Shutdown)`, all sockets are dropped.
    Stop,
    /// Fail as the reactor would on this injected fault, to test supervision (see
    /// `Node::inject_failure`).
    #[cfg(any(test, feature = "unstable-internals"))]
    Fail(FailureCause),
}

/// Where the reactor hands what arrives. Called on the reactor thread; must not block.
pub(crate) trait NetSink: Send + 'static {
    /// A datagram arrived on the UDP socket.
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]);
    /// An inbound connection delivered its request; it will be answered with `Reply` or
    /// `Close` on `conn`. False: unusable, the reactor closes the connection now.
    fn request(&mut self, conn: ConnId, from: SocketAddr, frame: Vec<u8>) -> bool;
    /// An `Exchange` ended: the response frame, or why there is none.
    fn response(&mut self, exchange: ExchangeId, result: Result<Vec<u8>, ExchangeError>);
    /// Whether a TCP frame that begins with `head` (see `codec::check_frame_head`) may be
    /// read on; `Err` says why not, counted.
    fn admits_frame(&self, head: &[u8]) -> Result<(), DropReason>;
    /// A network output about to leave, sealed as the node's encryption mode says; `Err`:
    /// it could not be, and is not sent (an exchange it opened is owed its answer).
    fn outgoing(&mut self, net: NetOutput) -> Result<NetOutput, Unsealed>;
}

/// Spawns the reactor thread named `thread_name` over `sockets`.
///
/// Errors come from creating the poll, the waker or the thread; nothing is left running then.
pub(crate) fn spawn(
    thread_name: String,
    sockets: Sockets,
    sink: impl NetSink,
    counters: Arc<Counters>,
    mut limits: ReactorLimits,
    supervisor: Arc<Supervisor>,
) -> io::Result<(ReactorHandle, JoinHandle<()>)> {
    let Sockets {
        mut udp,
        tcp: mut listener,
        local_addr,
    } = sockets;
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    poll.registry()
        .register(&mut udp, UDP, Interest::READABLE)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    limits.max_frame = limits.max_frame.min(u32::MAX as usize);
    let (tx, rx) = queue::lanes(URGENT_COMMANDS, limits.command_queue.max(1));
    let shared = Arc::new(Shared {
        waker,
        stopped: RwLock::new(false),
        wake_pending: AtomicBool::new(false),
    });
    let reactor = Reactor {
        poll,
        udp,
        listener,
        conns: Conns::new(FIRST_CONN, limits, Arc::clone(&counters)),
        buf: vec![0; RECV_BUF],
        sink,
        counters,
        rx,
        udp_backlog: false,
        command_backlog: false,
        shared: Arc::clone(&shared),
        supervisor: Arc::clone(&supervisor),
    };
    log::debug!("reactor {thread_name} on {local_addr}");
    let join = thread::Builder::new()
        .name(thread_name)
        .spawn(move || supervisor.guard("reactor", || reactor.run()))?;
    Ok((ReactorHandle::new(tx, shared), join))
}

/// The reactor thread's state.
struct Reactor<S> {
    /// The poll every socket is registered with.
    poll: Poll,
    /// The gossip socket.
    udp: UdpSocket,
    /// The exchange listener.
    listener: TcpListener,
    /// Every TCP connection, with its deadline.
    conns: Conns,
    /// The datagram receive buffer, allocated once.
    buf: Vec<u8>,
    /// Where arrivals go.
    sink: S,
    /// The node's counters.
    counters: Arc<Counters>,
    /// The command queue.
    rx: LaneReceiver<NetCommand>,
    /// Datagrams may be waiting: the last turn stopped reading at [`READ_BATCH`].
    udp_backlog: bool,
    /// Commands may be waiting: the last turn stopped serving at [`COMMAND_BATCH`].
    command_backlog: bool,
    /// Shared with the handles.
    shared: Arc<Shared>,
    /// Told of a fatal error.
    supervisor: Arc<Supervisor>,
}

impl<S: NetSink> Reactor<S> {
    /// The event loop; returns on `Stop`, when every handle is gone, or on a fatal error
    /// of the poll or the UDP socket (the node fails then).
    fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS);
        loop {
            // With a backlog, only look for new events; otherwise sleep until one.
            let timeout = if self.udp_backlog || self.command_backlog {
                Some(Duration::ZERO)
            } else {
                self.conns.next_timeout(read_clock())
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return self.fail(e.kind());
            }
            // One clock read per turn: deadlines set a few microseconds early are harmless.
            let now = read_clock();
            let mut commands = self.command_backlog;
            let mut udp = self.udp_backlog;
            for event in events.iter() {
                match event.token() {
                    WAKER => commands = true,
                    UDP => udp = true,
                    LISTENER => self.conns.accept(&self.listener, self.poll.registry(), now),
                    token => self
                        .conns
                        .ready(self.poll.registry(), &mut self.sink, token, now),
                }
            }
            // Commands first (an ack waiting to go out), then at most one batch of reads.
            if commands {
                match self.commands(now) {
                    Turn::Go => {}
                    Turn::Stop => return self.shutdown(),
                    #[cfg(any(test, feature = "unstable-internals"))]
                    Turn::Fail(kind) => return self.fail(kind),
                }
            }
            if udp {
                match self.recv_datagrams() {
                    Ok(backlog) => self.udp_backlog = backlog,
                    Err(kind) => return self.fail(kind),
                }
            }
            self.conns
                .release_held(self.poll.registry(), &mut self.sink, now);
            self.conns.sweep(self.poll.registry(), &mut self.sink, now);
        }
    }

    /// Serves up to [`COMMAND_BATCH`] commands, urgent first.
    fn commands(&mut self, now: Instant) -> Turn {
        self.shared.wake_pending.swap(false, Ordering::AcqRel);
        self.command_backlog = true;
        for _ in 0..COMMAND_BATCH {
            let cmd = match self.rx.try_recv() {
                Ok(cmd) => cmd,
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    self.command_backlog = false;
                    return Turn::Go;
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => return Turn::Stop,
            };
            match cmd {
                NetCommand::Net(net) => self.net(net, now),
                NetCommand::Stop => return Turn::Stop,
                #[cfg(any(test, feature = "unstable-internals"))]
                NetCommand::Fail(FailureCause::Io(kind)) => return Turn::Fail(kind),
                #[cfg(any(test, feature = "unstable-internals"))]
                NetCommand::Fail(_) => panic!("injected panic"),
            }
        }
        Turn::Go
    }

    /// Carries out one network output.
    fn net(&mut self, net: NetOutput, now: Instant) {
        let net = match self.sink.outgoing(net) {
            Ok(net) => net,
            Err(unsealed) => {
                if let Some((exchange, error)) = unsealed.answer() {
                    self.sink.response(exchange, Err(error));
                }
                return;
            }
        };
        let registry = self.poll.registry();
        match net {
            NetOutput::SendTo { to, bytes, .. } => self.send_to(to, &bytes),
            NetOutput::Exchange {
                exchange,
                to,
                frame,
                timeout,
            } => {
                if let Err(err) = self
                    .conns
                    .open(registry, exchange, to, &frame, timeout, now)
                {
                    self.sink.response(exchange, Err(err));
                }
            }
            NetOutput::Reply { conn, frame } => {
                self.conns
                    .reply(registry, &mut self.sink, conn, &frame, now);
            }
            NetOutput::Close { conn } => self.conns.close(registry, conn),
        }
    }

    /// Sends one datagram at once; UDP is lossy, so a full socket drops it (counted).
    fn send_to(&mut self, to: SocketAddr, bytes: &[u8]) {
        match self.udp.send_to(bytes, to) {
            Ok(n) => {
                Counters::bump(&self.counters.packets_out);
                Counters::add(&self.counters.bytes_out, n);
            }
            Err(e) => {
                self.counters.dropped(DropReason::SendFailed);
                log::debug!("udp send of {} bytes to {to} failed: {e}", bytes.len());
            }
        }
    }

    /// Reads up to [`READ_BATCH`] datagrams; true if the socket may hold more (mio is
    /// edge-triggered: no new event comes for what is already waiting). An error other
    /// than the few a UDP socket reports in normal life means the socket is broken: the
    /// node could no longer hear anyone, so it fails rather than live on deaf.
    fn recv_datagrams(&mut self) -> Result<bool, io::ErrorKind> {
        for _ in 0..READ_BATCH {
            match self.udp.recv_from(&mut self.buf) {
                Ok((n, from)) => self.sink.datagram(from, &self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                // ICMP errors from earlier sends surface here; each is consumed, keep reading.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    log::error!("udp recv failed: {e}");
                    return Err(e.kind());
                }
            }
        }
        Ok(true)
    }

    /// A fatal error: the node fails (see `supervisor.rs`), then the reactor stops.
    fn fail(self, kind: io::ErrorKind) {
        self.supervisor.fail(Failure {
            thread: "reactor",
            cause: FailureCause::Io(kind),
        });
        self.shutdown();
    }

    /// Refuses further commands, then answers every pending or queued exchange `Shutdown`.
    fn shutdown(mut self) {
        // Under the write lock no handle is between its check and its push, so after this
        // the queue only shrinks.
        *self.shared.stopped.write() = true;
        while let Ok(cmd) = self.rx.try_recv() {
            if let NetCommand::Net(NetOutput::Exchange { exchange, .. }) = cmd {
                self.sink.response(exchange, Err(ExchangeError::Shutdown));
            }
        }
        self.conns.shutdown(&mut self.sink);
        log::debug!("reactor stopped");
    }
}

/// What the reactor does after serving commands.
enum Turn {
    /// Carry on.
    Go,
    /// Stop: asked to, or every handle is gone.
    Stop,
    /// Fail with this error (only ever injected: a command cannot fail the reactor).
    #[cfg(any(test, feature = "unstable-internals"))]
    Fail(io::ErrorKind),
}

/// The reactor's clock: deadlines of TCP connections are real time.
#[allow(clippy::disallowed_methods)] // runtime/ is where the OS clock is read, by design.
fn read_clock() -> Instant {
    Instant::now()
}

#[cfg(test)]
pub(super) mod tests;
