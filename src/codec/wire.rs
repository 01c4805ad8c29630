//! Primitive fields: a bounds-checked [`Reader`] over received bytes and `put_*` writers
//! appending to a `Vec<u8>`. All integers are big-endian.
//!
//! ```text
//! name      len u8 (1..=64) | UTF-8
//! bytes16   len u16 | bytes          (metadata, user payloads)
//! addr      tag u8 = 4 | IPv4 (4) | port u16
//!           tag u8 = 6 | IPv6 (16) | port u16
//! ```
//! IPv6 flow info and scope id are not carried; decoded addresses have them at 0.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use super::error::DecodeError;
use crate::aggregate::{AggregateName, MAX_AGGREGATE_NAME_LEN};
use crate::member::{MAX_NAME_LEN, NodeName};

/// Address family tag for IPv4.
const TAG_V4: u8 = 4;
/// Address family tag for IPv6.
const TAG_V6: u8 = 6;

/// Encoded size of a name.
pub(crate) fn name_len(name: &NodeName) -> usize {
    1 + name.as_str().len()
}

/// Encoded size of an aggregate name.
pub(crate) fn aggregate_name_len(name: &AggregateName) -> usize {
    1 + name.as_str().len()
}

/// Encoded size of an address.
pub(crate) fn addr_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 1 + 4 + 2,
        SocketAddr::V6(_) => 1 + 16 + 2,
    }
}

/// Smallest possible encoded address (IPv4).
pub(crate) const MIN_ADDR_LEN: usize = 1 + 4 + 2;
/// Smallest possible encoded name (one byte).
pub(crate) const MIN_NAME_LEN: usize = 2;

/// A cursor over untrusted input: every read checks the bounds and fails with
/// [`DecodeError::Truncated`] instead of panicking.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| DecodeError::Truncated)
    }

    /// A `u8`.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A node name: `len u8 | UTF-8`, 1 to [`MAX_NAME_LEN`] bytes.
    pub(crate) fn name(&mut self) -> Result<NodeName, DecodeError> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > MAX_NAME_LEN {
            return Err(DecodeError::InvalidName);
        }
        let text = std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::InvalidUtf8)?;
        NodeName::new(text).map_err(|_| DecodeError::InvalidName)
    }

    /// An aggregate name: `len u8 | UTF-8`, 1 to [`MAX_AGGREGATE_NAME_LEN`] bytes.
    pub(crate) fn aggregate_name(&mut self) -> Result<AggregateName, DecodeError> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > MAX_AGGREGATE_NAME_LEN {
            return Err(DecodeError::LengthOutOfRange {
                what: "aggregate name",
                len,
                max: MAX_AGGREGATE_NAME_LEN,
            });
        }
        let text = std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::InvalidUtf8)?;
        AggregateName::new(text).ok_or(DecodeError::LengthOutOfRange {
            what: "aggregate name",
            len,
            max: MAX_AGGREGATE_NAME_LEN,
        })
    }

    /// A byte string with a `u16` length prefix of at most `max` bytes.
    pub(crate) fn bytes16(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<Arc<[u8]>, DecodeError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(DecodeError::LengthOutOfRange { what, len, max });
        }
        Ok(Arc::from(self.take(len)?))
    }

    /// A socket address: family tag, IP, port.
    pub(crate) fn addr(&mut self) -> Result<SocketAddr, DecodeError> {
        match self.u8()? {
            TAG_V4 => {
                let ip = Ipv4Addr::from(self.array::<4>()?);
                let port = self.u16()?;
                Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            TAG_V6 => {
                let ip = Ipv6Addr::from(self.array::<16>()?);
                let port = self.u16()?;
                Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)))
            }
            tag => Err(DecodeError::InvalidAddress(tag)),
        }
    }
}

/// Appends a `u8`.
pub(crate) fn put_u8(buf: &mut Vec<u8>, v: u8) {
    buf.push(v);
}

/// Appends a big-endian `u16`.
pub(crate) fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u32`.
pub(crate) fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u64`.
pub(crate) fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a name. [`NodeName`] guarantees 1 to [`MAX_NAME_LEN`] bytes, so the length fits.
pub(crate) fn put_name(buf: &mut Vec<u8>, name: &NodeName) {
    let bytes = name.as_str().as_bytes();
    let bytes = clamp(bytes, MAX_NAME_LEN);
    put_u8(buf, u8::try_from(bytes.len()).unwrap_or(u8::MAX));
    buf.extend_from_slice(bytes);
}

/// Appends an aggregate name. [`AggregateName`] guarantees 1 to
/// [`MAX_AGGREGATE_NAME_LEN`] bytes, so the length fits.
pub(crate) fn put_aggregate_name(buf: &mut Vec<u8>, name: &AggregateName) {
    let bytes = name.as_str().as_bytes();
    put_u8(buf, u8::try_from(bytes.len()).unwrap_or(u8::MAX));
    buf.extend_from_slice(bytes);
}

/// The first `max` bytes of `bytes` (all of them if shorter).
///
/// Writers clamp so a contract violation can never produce a length prefix that disagrees
/// with the bytes written; callers that must not lose data check limits first.
pub(crate) fn clamp(bytes: &[u8], max: usize) -> &[u8] {
    bytes.get(..max).unwrap_or(bytes)
}

/// Appends a byte string with a `u16` length prefix; at most `u16::MAX` bytes are written.
pub(crate) fn put_bytes16(buf: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = clamp(bytes, usize::from(u16::MAX));
    put_u16(buf, u16::try_from(bytes.len()).unwrap_or(u16::MAX));
    buf.extend_from_slice(bytes);
}

/// Appends a socket address (IPv6 flow info and scope id are dropped).
pub(crate) fn put_addr(buf: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            put_u8(buf, TAG_V4);
            buf.extend_from_slice(&a.ip().octets());
            put_u16(buf, a.port());
        }
        SocketAddr::V6(a) => {
            put_u8(buf, TAG_V6);
            buf.extend_from_slice(&a.ip().octets());
            put_u16(buf, a.port());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut buf = Vec::new();
        put_u8(&mut buf, 1);
        put_u16(&mut buf, 0x0203);
        put_u32(&mut buf, 0x0405_0607);
        put_u64(&mut buf, 0x0809_0a0b_0c0d_0e0f);
        assert_eq!(buf, (1..=15).collect::<Vec<u8>>());
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0203);
        assert_eq!(r.u32().unwrap(), 0x0405_0607);
        assert_eq!(r.u64().unwrap(), 0x0809_0a0b_0c0d_0e0f);
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(r.u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn take_never_overflows() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.take(usize::MAX), Err(DecodeError::Truncated));
        assert_eq!(r.take(4), Err(DecodeError::Truncated));
        assert_eq!(r.take(2).unwrap(), &[1, 2]);
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(r.u16(), Err(DecodeError::Truncated));
    }

    #[test]
    fn names() {
        let mut buf = Vec::new();
        let name = NodeName::new("nœud-日本").unwrap();
        put_name(&mut buf, &name);
        assert_eq!(buf.len(), name_len(&name));
        assert_eq!(Reader::new(&buf).name().unwrap(), name);
        assert_eq!(Reader::new(&[0]).name(), Err(DecodeError::InvalidName));
        assert_eq!(Reader::new(&[65]).name(), Err(DecodeError::InvalidName));
        assert_eq!(
            Reader::new(&[2, 0xff, 0xfe]).name(),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(Reader::new(&[3, b'a']).name(), Err(DecodeError::Truncated));
    }

    #[test]
    fn addresses() {
        for text in ["10.1.2.3:7946", "[2001:db8::1]:65535", "0.0.0.0:0"] {
            let addr: SocketAddr = text.parse().unwrap();
            let mut buf = Vec::new();
            put_addr(&mut buf, &addr);
            assert_eq!(buf.len(), addr_len(&addr));
            let mut r = Reader::new(&buf);
            assert_eq!(r.addr().unwrap(), addr);
            assert_eq!(r.finish(), Ok(()));
        }
        assert_eq!(
            Reader::new(&[5, 0, 0]).addr(),
            Err(DecodeError::InvalidAddress(5))
        );
        assert_eq!(Reader::new(&[6, 0, 0]).addr(), Err(DecodeError::Truncated));
    }

    #[test]
    fn byte_strings() {
        let mut buf = Vec::new();
        put_bytes16(&mut buf, b"meta");
        assert_eq!(buf, [0, 4, b'm', b'e', b't', b'a']);
        assert_eq!(&*Reader::new(&buf).bytes16("metadata", 4).unwrap(), b"meta");
        assert_eq!(
            Reader::new(&buf).bytes16("metadata", 3),
            Err(DecodeError::LengthOutOfRange {
                what: "metadata",
                len: 4,
                max: 3
            })
        );
        assert_eq!(
            Reader::new(&[0, 9, 1]).bytes16("x", 100),
            Err(DecodeError::Truncated)
        );
        let huge = vec![7u8; 70_000];
        let mut buf = Vec::new();
        put_bytes16(&mut buf, &huge);
        assert_eq!(buf.len(), 2 + usize::from(u16::MAX));
    }
}
