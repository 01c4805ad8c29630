//! Unit tests of `tcp`.

//! TCP paths on loopback, against reactors and plain std sockets playing a peer.

use std::io::{Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::thread;

use super::super::reactor::NetCommand;
use super::super::reactor::tests::{Got, REFUSED_HEAD, TestNode, WAIT, id, load, loopback};
use super::*;
use crate::protocol::NetOutput;

/// A std client connected to `node`, with bounded reads.
fn client(node: &TestNode) -> StdStream {
    let stream = StdStream::connect_timeout(&node.addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream
}

/// Reads until the reactor closes the connection; panics if it stays open past `WAIT`.
fn assert_closed(stream: &mut StdStream) {
    let mut buf = [0; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not closed in time: {e}"),
        }
    }
}

/// A peer that accepts one connection, reads the request, writes `answer` raw and closes.
fn serve_once(answer: Vec<u8>) -> SocketAddr {
    let listener = StdListener::bind(loopback()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(WAIT)).expect("read timeout");
        let mut len = [0; 4];
        stream.read_exact(&mut len).expect("request length");
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).expect("request body");
        stream.write_all(&answer).expect("answer");
        // Dropping the stream closes it: a short answer is then a truncated one.
    });
    addr
}

fn exchange(n: u64, to: SocketAddr, timeout: Duration) -> NetCommand {
    NetCommand::Net(NetOutput::Exchange {
        exchange: id(n),
        to,
        frame: b"req".to_vec(),
        timeout,
    })
}

#[test]
fn exchange_to_a_closed_port_fails_promptly() {
    let node = TestNode::start(ReactorLimits::default());
    let to = StdListener::bind(loopback())
        .expect("bind")
        .local_addr()
        .expect("addr");
    // The timeout is far longer than WAIT: a Timeout here would fail the test.
    assert!(node.handle.send(exchange(1, to, Duration::from_secs(60))));
    let (got, result) = node.response();
    assert_eq!(got, id(1));
    assert!(
        matches!(result, Err(ExchangeError::Connect(_))),
        "{result:?}"
    );
}

#[test]
fn exchange_to_a_silent_listener_times_out() {
    let node = TestNode::start(ReactorLimits::default());
    let silent = StdListener::bind(loopback()).expect("bind");
    let to = silent.local_addr().expect("addr");
    assert!(
        node.handle
            .send(exchange(2, to, Duration::from_millis(200)))
    );
    assert_eq!(node.response(), (id(2), Err(ExchangeError::Timeout)));
}

#[test]
fn an_oversized_response_fails_the_exchange() {
    let node = TestNode::start(ReactorLimits {
        max_frame: 1024,
        ..ReactorLimits::default()
    });
    let to = serve_once(2048u32.to_be_bytes().to_vec());
    assert!(node.handle.send(exchange(3, to, WAIT)));
    assert_eq!(
        node.response(),
        (id(3), Err(ExchangeError::Oversized(2048)))
    );
}

#[test]
fn a_peer_closing_early_fails_the_exchange() {
    let node = TestNode::start(ReactorLimits::default());
    let mut truncated = 10u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(b"only");
    let to = serve_once(truncated);
    assert!(node.handle.send(exchange(4, to, WAIT)));
    // serve_once hangs up once the reactor does, or when its read times out.
    let (got, result) = node.response();
    assert_eq!(got, id(4));
    assert!(
        matches!(result, Err(ExchangeError::Closed | ExchangeError::Timeout)),
        "{result:?}"
    );
}

#[test]
fn an_oversized_request_is_closed_and_counted() {
    let mut node = TestNode::start(ReactorLimits {
        max_frame: 1024,
        ..ReactorLimits::default()
    });
    let mut stream = client(&node);
    stream.write_all(&2048u32.to_be_bytes()).expect("write");
    assert_closed(&mut stream);
    node.stop();
    assert_eq!(load(&node.counters.dropped_oversized), 1);
    assert_eq!(load(&node.counters.frames_in), 0);
    assert!(node.quiet(), "an oversized request must not reach the sink");
}

#[test]
fn a_slow_request_is_closed_at_the_inbound_timeout() {
    let limits = ReactorLimits {
        head_timeout: Duration::from_millis(200),
        inbound_timeout: Duration::from_millis(200),
        ..ReactorLimits::default()
    };
    let node = TestNode::start(limits);
    let mut stream = client(&node);
    stream.write_all(&[0, 0]).expect("write half a length");
    assert_closed(&mut stream);
    assert!(node.quiet());
}

#[test]
fn close_drops_an_inbound_connection_and_later_replies_are_ignored() {
    let node = TestNode::start(ReactorLimits::default());
    let mut stream = client(&node);
    let mut frame = 5u32.to_be_bytes().to_vec();
    frame.extend_from_slice(b"hello");
    stream.write_all(&frame).expect("write");
    let Got::Request(conn, _, body) = node.next() else {
        panic!("expected a request")
    };
    assert_eq!(body, b"hello");
    assert!(node.handle.send(NetCommand::Net(NetOutput::Close { conn })));
    assert_closed(&mut stream);
    assert!(node.handle.send(NetCommand::Net(NetOutput::Reply {
        conn,
        frame: b"late".to_vec()
    })));
    assert!(node.handle.send(NetCommand::Net(NetOutput::Close { conn })));
    // Still serving: a new request arrives under a new id.
    let mut again = client(&node);
    again.write_all(&frame).expect("write");
    let Got::Request(next, _, _) = node.next() else {
        panic!("expected a request")
    };
    assert!(next > conn, "connection ids are never reused");
}

#[test]
fn a_reply_reaches_a_plain_client() {
    let node = TestNode::start(ReactorLimits::default());
    let mut stream = client(&node);
    stream.write_all(&[0, 0, 0, 0]).expect("an empty request");
    let Got::Request(conn, _, body) = node.next() else {
        panic!("expected a request")
    };
    assert!(body.is_empty());
    assert!(node.handle.send(NetCommand::Net(NetOutput::Reply {
        conn,
        frame: b"pong".to_vec()
    })));
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reply, then close");
    assert_eq!(reply, [&4u32.to_be_bytes()[..], b"pong"].concat());
}

#[test]
fn outbound_slots_are_their_own() {
    let node = TestNode::start(ReactorLimits {
        max_outbound: 1,
        max_inbound: 1,
        ..ReactorLimits::default()
    });
    let silent = StdListener::bind(loopback()).expect("bind");
    let to = silent.local_addr().expect("addr");
    // An idle stranger holds the only inbound slot: exchanges do not care.
    let _idle = client(&node);
    // The first exchange holds the only outbound slot; commands run in order.
    assert!(node.handle.send(exchange(1, to, Duration::from_secs(60))));
    assert!(node.handle.send(exchange(2, to, Duration::from_secs(60))));
    assert_eq!(node.response(), (id(2), Err(ExchangeError::Overloaded)));
}

#[test]
fn a_full_inbound_table_evicts_the_oldest_unfinished_request() {
    let node = TestNode::start(ReactorLimits {
        max_inbound: 2,
        ..ReactorLimits::default()
    });
    let mut idle = client(&node);
    // Wait until the reactor holds it: a request behind it shows it was accepted first.
    let mut answered = client(&node);
    answered.write_all(&[0, 0, 0, 0]).expect("an empty request");
    let Got::Request(..) = node.next() else {
        panic!("expected a request")
    };
    // Both slots taken: a newcomer evicts the idle stranger, not the one being answered.
    let mut newcomer = client(&node);
    newcomer.write_all(&[0, 0, 0, 1, 7]).expect("a request");
    let Got::Request(_, _, body) = node.next() else {
        panic!("expected the newcomer's request")
    };
    assert_eq!(body, [7]);
    assert_closed(&mut idle);
    assert_eq!(load(&node.counters.dropped_tcp_limit), 1);
    // Now both are being answered: one more is refused.
    let mut refused = client(&node);
    assert_closed(&mut refused);
    assert_eq!(load(&node.counters.dropped_tcp_limit), 2);
}

#[test]
fn a_stranger_must_show_a_head_in_time_and_a_bad_one_is_never_buffered() {
    let mut node = TestNode::start(ReactorLimits {
        head_timeout: Duration::from_millis(200),
        ..ReactorLimits::default()
    });
    let mut silent = client(&node);
    assert_closed(&mut silent);
    // 16 MiB announced, a head the sink refuses: closed at once, counted by its reason.
    let mut bad = client(&node);
    let mut bytes = (16u32 << 20).to_be_bytes().to_vec();
    bytes.extend_from_slice(REFUSED_HEAD);
    bytes.extend_from_slice(&[0; 10]);
    bad.write_all(&bytes).expect("write");
    assert_closed(&mut bad);
    node.stop();
    assert_eq!(load(&node.counters.dropped_wrong_cluster), 1);
    assert!(node.quiet());
}

#[test]
fn requests_over_the_rate_and_frames_over_the_byte_budget_are_closed() {
    let node = TestNode::start(ReactorLimits {
        requests_per_sec: 1,
        max_buffered: 64,
        max_held: 0,
        ..ReactorLimits::default()
    });
    // A bucket of two: the third request in a burst is closed unanswered.
    for _ in 0..2 {
        let mut stream = client(&node);
        stream.write_all(&[0, 0, 0, 0]).expect("write");
        let Got::Request(..) = node.next() else {
            panic!("expected a request")
        };
    }
    let mut third = client(&node);
    third.write_all(&[0, 0, 0, 0]).expect("write");
    assert_closed(&mut third);
    assert_eq!(load(&node.counters.dropped_tcp_limit), 1);
    // 100 bytes do not fit the 64 the table may hold.
    let mut big = client(&node);
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[1; 100]);
    big.write_all(&bytes).expect("write");
    assert_closed(&mut big);
    assert_eq!(load(&node.counters.dropped_tcp_limit), 2);
    assert!(node.quiet());
}

/// Requests over the rate wait for a token rather than being closed, up to the share of
/// their source; beyond it they are closed (counted).
#[test]
fn requests_over_the_rate_wait_for_a_token_up_to_their_share() {
    let node = TestNode::start(ReactorLimits {
        requests_per_sec: 4,
        max_held_per_source: 2,
        ..ReactorLimits::default()
    });
    // The bucket holds a burst of eight; two more are held, the eleventh is closed.
    let mut streams = Vec::new();
    for _ in 0..11 {
        let mut stream = client(&node);
        stream.write_all(&[0, 0, 0, 0]).expect("write");
        streams.push(stream);
    }
    let mut requests = 0;
    while requests < 10 {
        let Got::Request(..) = node.next() else {
            panic!("expected a request")
        };
        requests += 1;
    }
    assert_eq!(load(&node.counters.dropped_tcp_limit), 1);
    let closed = streams.iter_mut().map(closed_now).filter(|&c| c).count();
    assert_eq!(closed, 1, "only the request beyond the share is closed");
    assert!(node.quiet());
}

/// Whether the reactor has closed `stream` (reads an end of file without waiting).
fn closed_now(stream: &mut StdStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0; 8];
    let closed = matches!(stream.read(&mut buf), Ok(0))
        || matches!(stream.read(&mut buf), Err(e) if e.kind() == io::ErrorKind::ConnectionReset);
    stream.set_nonblocking(false).expect("blocking");
    closed
}
