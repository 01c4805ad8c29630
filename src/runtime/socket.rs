//! Binding a node's sockets: UDP for the gossip datagrams and a TCP listener for state
//! exchanges, both on the same port so that one address names a node.
//!
//! ```text
//! bind("127.0.0.1:0")
//!   -> UDP on an ephemeral port P        (the kernel picks P)
//!   -> TCP listener on the same P         (taken? drop both, try a new P; at most 16 times)
//!   -> Sockets { udp, tcp, local_addr: 127.0.0.1:P }
//! ```
//!
//! Everything goes through socket2 so the options are set before `bind`: nonblocking (mio
//! requires it), `SO_REUSEADDR` on the listener (a restarted node can take its port back while
//! old connections sit in TIME_WAIT), and large UDP buffers (a burst of gossip is not dropped by
//! the kernel before the reactor drains it).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// How many ephemeral ports `bind` tries before giving up when the port is 0.
const BIND_ATTEMPTS: usize = 16;
/// The UDP receive and send buffers requested; the kernel may grant less.
const UDP_BUFFER: usize = 4 * 1024 * 1024;
/// The listener's accept backlog.
const LISTEN_BACKLOG: i32 = 1024;

/// The bound sockets of one node: UDP and TCP on the same port.
pub(crate) struct Sockets {
    /// The gossip socket: probes, acks and piggybacked updates.
    pub(crate) udp: mio::net::UdpSocket,
    /// The listener for inbound state exchanges.
    pub(crate) tcp: mio::net::TcpListener,
    /// The address both are bound to (with the real port when 0 was asked for).
    pub(crate) local_addr: SocketAddr,
}

/// Binds UDP and TCP on `addr`, nonblocking, IPv4 or IPv6.
///
/// With port 0 the UDP socket takes an ephemeral port first and the listener then binds that
/// same port; if another process holds it on TCP, both are dropped and a new ephemeral port is
/// tried, up to 16 times. With a fixed port there is one attempt and its error is returned.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<Sockets> {
    if addr.port() != 0 {
        let udp = bind_udp(addr)?;
        let tcp = bind_tcp(addr)?;
        return Ok(sockets(udp, tcp, addr));
    }
    let mut last_err = None;
    for attempt in 0..BIND_ATTEMPTS {
        let udp = bind_udp(addr)?;
        let local = udp.local_addr()?;
        match bind_tcp(local) {
            Ok(tcp) => return Ok(sockets(udp, tcp, local)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                log::debug!(
                    "tcp port {} taken (attempt {}), trying another",
                    local.port(),
                    attempt
                );
                last_err = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

/// Wraps the two std sockets for mio.
fn sockets(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    local_addr: SocketAddr,
) -> Sockets {
    Sockets {
        udp: mio::net::UdpSocket::from_std(udp),
        tcp: mio::net::TcpListener::from_std(tcp),
        local_addr,
    }
}

/// A nonblocking UDP socket with large buffers, bound to `addr`.
fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    // Too small a grant only means more kernel drops under bursts; the node still works.
    if let Err(e) = socket.set_recv_buffer_size(UDP_BUFFER) {
        log::debug!("udp recv buffer of {UDP_BUFFER} bytes refused: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(UDP_BUFFER) {
        log::debug!("udp send buffer of {UDP_BUFFER} bytes refused: {e}");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A nonblocking TCP listener with `SO_REUSEADDR`, bound to `addr` and listening.
fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gives_the_same_port_for_udp_and_tcp() {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        let s = bind(addr).expect("bind on loopback");
        let udp = s.udp.local_addr().expect("udp addr");
        let tcp = s.tcp.local_addr().expect("tcp addr");
        assert_ne!(s.local_addr.port(), 0);
        assert_eq!(udp, s.local_addr);
        assert_eq!(tcp, s.local_addr);
    }

    #[test]
    fn ipv6_loopback_binds_when_available() {
        let addr: SocketAddr = "[::1]:0".parse().expect("literal address");
        match bind(addr) {
            Ok(s) => {
                assert!(s.local_addr.is_ipv6());
                assert_eq!(s.tcp.local_addr().expect("tcp addr"), s.local_addr);
            }
            // Containers without IPv6 cannot run this; that is not a bug in `bind`.
            Err(e) => eprintln!("skipping: no IPv6 loopback here ({e})"),
        }
    }

    #[test]
    fn a_fixed_port_in_use_is_an_error() {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        let first = bind(addr).expect("bind on loopback");
        assert!(bind(first.local_addr).is_err());
    }
}
