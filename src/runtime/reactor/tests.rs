//! Unit tests of `reactor`.

//! Loopback tests, and the harness `tcp.rs`'s tests share: a reactor whose sink forwards
//! everything to a channel the test waits on with a bounded `recv_timeout`.

use super::*;
use crate::runtime::supervisor::Supervisor;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// The longest a test waits for something that should happen.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// What the sink was told.
#[derive(Debug)]
pub(crate) enum Got {
    /// `NetSink::datagram`.
    Datagram(SocketAddr, Vec<u8>),
    /// `NetSink::request`.
    Request(ConnId, SocketAddr, Vec<u8>),
    /// `NetSink::response`.
    Response(ExchangeId, Result<Vec<u8>, ExchangeError>),
}

/// Forwards to the test; the channel is unbounded so the reactor never blocks. Admits
/// every frame but those that begin with [`REFUSED_HEAD`] (counted as another cluster's).
struct TestSink(Sender<Got>, Arc<Counters>);

/// What [`TestSink`] refuses to read on.
pub(crate) const REFUSED_HEAD: &[u8] = b"BAD";

impl NetSink for TestSink {
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        let _ = self.0.send(Got::Datagram(from, bytes.to_vec()));
    }
    fn request(&mut self, conn: ConnId, from: SocketAddr, frame: Vec<u8>) -> bool {
        let _ = self.0.send(Got::Request(conn, from, frame));
        true
    }
    fn response(&mut self, exchange: ExchangeId, result: Result<Vec<u8>, ExchangeError>) {
        let _ = self.0.send(Got::Response(exchange, result));
    }
    fn admits_frame(&self, head: &[u8]) -> Result<(), DropReason> {
        if head.starts_with(REFUSED_HEAD) {
            self.1.dropped(DropReason::WrongCluster);
            return Err(DropReason::WrongCluster);
        }
        Ok(())
    }
    fn outgoing(&mut self, net: NetOutput) -> Result<NetOutput, crate::protocol::Unsealed> {
        Ok(net)
    }
}

/// One reactor on loopback; stopped and joined on drop.
pub(crate) struct TestNode {
    pub(crate) handle: ReactorHandle,
    pub(crate) addr: SocketAddr,
    pub(crate) counters: Arc<Counters>,
    pub(crate) supervisor: Arc<Supervisor>,
    got: Receiver<Got>,
    join: Option<JoinHandle<()>>,
}

impl TestNode {
    pub(crate) fn start(limits: ReactorLimits) -> TestNode {
        let sockets = super::super::socket::bind(loopback()).expect("bind loopback");
        let addr = sockets.local_addr;
        let counters = Arc::new(Counters::default());
        let (tx, got) = crossbeam_channel::unbounded();
        let supervisor = Arc::new(Supervisor::default());
        let (handle, join) = spawn(
            format!("epidemic/test-{}/reactor", addr.port()),
            sockets,
            TestSink(tx, Arc::clone(&counters)),
            Arc::clone(&counters),
            limits,
            Arc::clone(&supervisor),
        )
        .expect("spawn reactor");
        TestNode {
            handle,
            addr,
            counters,
            supervisor,
            got,
            join: Some(join),
        }
    }

    /// The next thing the sink got, within `WAIT`.
    pub(crate) fn next(&self) -> Got {
        self.got
            .recv_timeout(WAIT)
            .expect("the sink got nothing in time")
    }

    /// The next response; panics on anything else.
    pub(crate) fn response(&self) -> (ExchangeId, Result<Vec<u8>, ExchangeError>) {
        match self.next() {
            Got::Response(id, result) => (id, result),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// True if the sink got nothing more (yet).
    pub(crate) fn quiet(&self) -> bool {
        self.got.try_recv().is_err()
    }

    /// Sends `Stop` and joins the thread.
    pub(crate) fn stop(&mut self) {
        self.handle.send(NetCommand::Stop);
        if let Some(join) = self.join.take() {
            join.join().expect("reactor thread panicked");
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub(crate) fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Exchange number `n`, as membership would number it.
pub(crate) fn id(n: u64) -> ExchangeId {
    ExchangeId::Membership(n)
}

fn exchange(a: &TestNode, b: &TestNode, n: u64, frame: Vec<u8>, reply: Vec<u8>) {
    let sent = frame.clone();
    let cmd = NetCommand::Net(NetOutput::Exchange {
        exchange: id(n),
        to: b.addr,
        frame,
        timeout: WAIT,
    });
    assert!(a.handle.send(cmd));
    let Got::Request(conn, from, got) = b.next() else {
        panic!("expected a request")
    };
    assert_eq!(from.ip(), a.addr.ip());
    assert!(got == sent, "request bytes differ");
    assert!(b.handle.send(NetCommand::Net(NetOutput::Reply {
        conn,
        frame: reply.clone()
    })));
    let (got_id, result) = a.response();
    assert_eq!(got_id, id(n));
    assert!(
        result.expect("exchange failed") == reply,
        "response bytes differ"
    );
}

#[test]
fn a_datagram_reaches_the_sink() {
    let node = TestNode::start(ReactorLimits::default());
    let peer = std::net::UdpSocket::bind(loopback()).expect("bind");
    peer.send_to(b"ping", node.addr).expect("send");
    let Got::Datagram(from, bytes) = node.next() else {
        panic!("expected a datagram")
    };
    assert_eq!(from, peer.local_addr().expect("addr"));
    assert_eq!(bytes, b"ping");
}

#[test]
fn send_to_reaches_a_udp_socket() {
    let mut node = TestNode::start(ReactorLimits::default());
    let peer = std::net::UdpSocket::bind(loopback()).expect("bind");
    peer.set_read_timeout(Some(WAIT)).expect("timeout");
    let to = peer.local_addr().expect("addr");
    assert!(node.handle.send(NetCommand::Net(NetOutput::SendTo {
        to,
        bytes: b"ack".to_vec(),
        urgent: true,
    })));
    let mut buf = [0; 16];
    let (n, from) = peer.recv_from(&mut buf).expect("datagram in time");
    assert_eq!(&buf[..n], b"ack");
    assert_eq!(from, node.addr);
    node.stop(); // joining orders the reactor's counter bumps before the reads below
    assert_eq!(load(&node.counters.packets_out), 1);
    assert_eq!(load(&node.counters.bytes_out), 3);
}

#[test]
fn exchange_between_two_reactors() {
    let mut a = TestNode::start(ReactorLimits::default());
    let mut b = TestNode::start(ReactorLimits::default());
    exchange(&a, &b, 7, b"push".to_vec(), b"pull".to_vec());
    exchange(&a, &b, 8, Vec::new(), Vec::new());
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    exchange(&a, &b, 9, big.clone(), big);
    a.stop();
    b.stop();
    // Frames in are counted by the node core's inbound path, not here.
    assert_eq!(load(&a.counters.frames_out), 3);
    assert_eq!(load(&b.counters.frames_out), 3);
}

#[test]
fn stop_joins_and_answers_pending_exchanges() {
    // A listener that never accepts: the connect completes in the backlog, no answer comes.
    let silent = std::net::TcpListener::bind(loopback()).expect("bind");
    let to = silent.local_addr().expect("addr");
    let mut node = TestNode::start(ReactorLimits::default());
    let timeout = Duration::from_secs(60);
    assert!(node.handle.send(NetCommand::Net(NetOutput::Exchange {
        exchange: id(1),
        to,
        frame: b"x".to_vec(),
        timeout
    })));
    // A datagram round trip proves the exchange command was processed before Stop.
    let probe = std::net::UdpSocket::bind(loopback()).expect("bind");
    probe.send_to(b"sync", node.addr).expect("send");
    assert!(matches!(node.next(), Got::Datagram(..)));
    node.stop();
    assert_eq!(node.response(), (id(1), Err(ExchangeError::Shutdown)));
    assert!(
        !node
            .handle
            .send(NetCommand::Net(NetOutput::Close { conn: ConnId(3) })),
        "a stopped reactor takes no commands"
    );
    assert!(matches!(
        node.got.recv_timeout(Duration::ZERO),
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn a_fatal_error_fails_the_node_and_answers_pending_exchanges() {
    use crate::health::{FailureCause, Health};

    let silent = std::net::TcpListener::bind(loopback()).expect("bind");
    let to = silent.local_addr().expect("addr");
    for cause in [
        FailureCause::Io(io::ErrorKind::PermissionDenied),
        FailureCause::Panic(String::new()),
    ] {
        let mut node = TestNode::start(ReactorLimits::default());
        assert!(node.handle.send(NetCommand::Net(NetOutput::Exchange {
            exchange: id(1),
            to,
            frame: b"x".to_vec(),
            timeout: Duration::from_secs(60),
        })));
        let panics = matches!(cause, FailureCause::Panic(_));
        assert!(node.handle.send(NetCommand::Fail(cause)));
        if let Some(join) = node.join.take() {
            join.join().expect("the reactor's panic is caught");
        }
        let Health::Failed(failure) = node.supervisor.health() else {
            panic!("not failed: {:?}", node.supervisor.health());
        };
        assert_eq!(failure.thread, "reactor");
        if !panics {
            // A fatal error shuts down in order; a panic unwinds past the goodbyes.
            assert_eq!(node.response(), (id(1), Err(ExchangeError::Shutdown)));
        }
    }
}

#[test]
fn dropping_every_handle_stops_the_reactor() {
    let sockets = super::super::socket::bind(loopback()).expect("bind loopback");
    let (tx, _got) = crossbeam_channel::unbounded();
    let counters = Arc::new(Counters::default());
    let limits = ReactorLimits::default();
    let (handle, join) = spawn(
        "epidemic/orphan/reactor".into(),
        sockets,
        TestSink(tx, Arc::clone(&counters)),
        counters,
        limits,
        Arc::default(),
    )
    .expect("spawn reactor");
    let clone = handle.clone();
    drop(handle);
    drop(clone);
    // Join on a helper thread so a reactor that never stops fails the test, not hangs it.
    let (done_tx, done) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(join.join().is_ok());
    });
    assert_eq!(done.recv_timeout(WAIT), Ok(true), "reactor did not stop");
}

#[test]
fn unknown_replies_and_closes_are_ignored() {
    let a = TestNode::start(ReactorLimits::default());
    let b = TestNode::start(ReactorLimits::default());
    assert!(b.handle.send(NetCommand::Net(NetOutput::Reply {
        conn: ConnId(12345),
        frame: b"?".to_vec()
    })));
    assert!(
        b.handle
            .send(NetCommand::Net(NetOutput::Close { conn: ConnId(0) }))
    );
    exchange(&a, &b, 1, b"still".to_vec(), b"works".to_vec());
}
