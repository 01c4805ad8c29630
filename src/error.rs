//! Public errors, one small enum per operation. Each variant says whether state changed.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::member::InvalidName;
use crate::seal::EncryptionError;
use crate::stats::DropReason;

/// Why [`crate::NodeBuilder::start`] failed. Nothing was started: no thread, no socket.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The node name is invalid.
    Name(InvalidName),
    /// The initial metadata is too large.
    Metadata(MetadataError),
    /// The bind address did not resolve.
    Resolve {
        /// The address as given.
        addr: String,
        /// The kind of the resolver's error.
        kind: io::ErrorKind,
    },
    /// The bind address resolved to no address (it is given).
    NoAddress(String),
    /// The bind address is unspecified (e.g. `0.0.0.0`) and no
    /// [`advertise`](crate::NodeBuilder::advertise) address says where others reach this
    /// node.
    UnspecifiedWithoutAdvertise(SocketAddr),
    /// Binding the UDP socket or TCP listener failed.
    Bind(io::Error),
    /// Spawning a thread failed.
    Spawn(io::Error),
    /// The encryption settings are inconsistent (a mode that seals, without a keyring).
    Encryption(EncryptionError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid configuration: {e}"),
            StartError::Name(e) => write!(f, "invalid node name: {e}"),
            StartError::Metadata(e) => write!(f, "invalid metadata: {e}"),
            StartError::Resolve { addr, kind } => {
                write!(f, "bind address {addr} did not resolve: {kind}")
            }
            StartError::NoAddress(addr) => write!(f, "bind address {addr} resolves to nothing"),
            StartError::UnspecifiedWithoutAdvertise(addr) => write!(
                f,
                "{addr} is unspecified: set advertise() to the address others should use"
            ),
            StartError::Bind(e) => write!(f, "cannot bind: {e}"),
            StartError::Spawn(e) => write!(f, "cannot spawn a thread: {e}"),
            StartError::Encryption(e) => write!(f, "encryption: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Why a TCP exchange with a peer (a join, a push-pull, a key-value sync) failed. Nothing
/// of the peer's state was taken in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The connect failed (refused, unreachable, ...: the kind of the socket error).
    Connect(io::ErrorKind),
    /// The exchange did not finish within its timeout.
    Timeout,
    /// The peer closed the connection before the whole answer arrived. A node closes,
    /// unanswered, a request it refuses: another cluster's, sealed under a key it does not
    /// hold, plaintext where it requires sealed input, or over its limits (it counts why).
    Closed,
    /// The answer announced this many bytes, over the frame limit.
    Oversized(usize),
    /// Another socket error (its kind).
    Io(io::ErrorKind),
    /// The node stopped before the exchange finished.
    Shutdown,
    /// The node already holds its maximum number of TCP connections.
    Overloaded,
    /// The answer arrived but is unusable (it did not decode, is of the wrong kind, or
    /// belongs to another cluster); counted in [`crate::Stats`] under this reason.
    Unusable(DropReason),
    /// The request could not be sealed (the operating system's random source failed), so
    /// it was never sent.
    Seal,
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Connect(kind) => write!(f, "connect failed: {kind}"),
            ExchangeError::Timeout => f.write_str("timed out"),
            ExchangeError::Closed => f.write_str(
                "connection closed by the peer before it answered (a refusal, if the \
                 peer runs: check cluster name, keys and encryption mode; its Stats say why)",
            ),
            ExchangeError::Oversized(n) => write!(f, "answer of {n} bytes over the frame limit"),
            ExchangeError::Io(kind) => write!(f, "i/o error: {kind}"),
            ExchangeError::Shutdown => f.write_str("the node is shutting down"),
            ExchangeError::Overloaded => f.write_str("too many open connections"),
            ExchangeError::Unusable(reason) => write!(f, "unusable answer ({reason:?})"),
            ExchangeError::Seal => f.write_str("the request could not be sealed"),
        }
    }
}

impl std::error::Error for ExchangeError {}

/// Why [`crate::NodeHandle::join`] failed. The node keeps running, alone, and still knows the
/// seeds: it retries them on its push-pull schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// No seed address was given.
    NoSeeds,
    /// No seed address resolved: for each seed, its position in the list given and the
    /// kind of the resolver's error.
    Unresolved(Vec<(usize, io::ErrorKind)>),
    /// Every seed failed; why, for each.
    AllFailed(Vec<(SocketAddr, ExchangeError)>),
    /// No seed answered within `Config::tcp_timeout` (and a second): the exchanges may
    /// still finish, and the node join, after this returns.
    Timeout,
    /// The node is overloaded (its membership inbox is full): nothing was tried.
    Overloaded,
    /// The node is stopping or stopped.
    Stopped,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::NoSeeds => f.write_str("no seed address to join"),
            JoinError::Unresolved(failures) => {
                f.write_str("no seed address resolved: ")?;
                for (i, (seed, kind)) in failures.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}seed #{seed}: {kind}")?;
                }
                Ok(())
            }
            JoinError::AllFailed(failures) => {
                f.write_str("every seed failed: ")?;
                for (i, (addr, why)) in failures.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{addr}: {why}")?;
                }
                Ok(())
            }
            JoinError::Timeout => {
                f.write_str("no seed answered in time (the join may still finish)")
            }
            JoinError::Overloaded => f.write_str("the node is overloaded; nothing was tried"),
            JoinError::Stopped => f.write_str("the node is stopped"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Why [`crate::NodeHandle::broadcast`] refused a payload. Nothing was queued and the
/// payload is handed back, except after [`BroadcastError::Unconfirmed`], which says so.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The payload is larger than `Config::max_broadcast_bytes`.
    TooLarge {
        /// The payload, returned.
        payload: Vec<u8>,
        /// The limit.
        max: usize,
    },
    /// The outbound queue is full; try again later.
    QueueFull(Vec<u8>),
    /// The node is stopping or stopped.
    Stopped(Vec<u8>),
    /// The broadcast was queued, but the node did not confirm it within 5 s (it is badly
    /// overloaded): it may still be sent. The payload is not handed back.
    Unconfirmed,
}

impl BroadcastError {
    /// The payload that was not sent; `None` for [`BroadcastError::Unconfirmed`], whose
    /// payload may still go out.
    pub fn into_payload(self) -> Option<Vec<u8>> {
        match self {
            BroadcastError::TooLarge { payload, .. }
            | BroadcastError::QueueFull(payload)
            | BroadcastError::Stopped(payload) => Some(payload),
            BroadcastError::Unconfirmed => None,
        }
    }
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::TooLarge { payload, max } => {
                write!(
                    f,
                    "broadcast of {} bytes exceeds the {max}-byte limit",
                    payload.len()
                )
            }
            BroadcastError::QueueFull(_) => f.write_str("broadcast queue is full"),
            BroadcastError::Stopped(_) => f.write_str("the node is stopped"),
            BroadcastError::Unconfirmed => {
                f.write_str("broadcast queued but not confirmed in time; it may still be sent")
            }
        }
    }
}

impl std::error::Error for BroadcastError {}

/// Why [`crate::NodeHandle::set_metadata`] failed. The metadata was not changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// Larger than [`crate::MAX_METADATA_LEN`] (the length is given).
    TooLarge(usize),
    /// The node is overloaded (its membership inbox is full); try again.
    Overloaded,
    /// The node is stopping or stopped.
    Stopped,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::TooLarge(n) => write!(
                f,
                "metadata of {n} bytes exceeds the {}-byte limit",
                crate::member::MAX_METADATA_LEN
            ),
            MetadataError::Overloaded => f.write_str("the node is overloaded; try again"),
            MetadataError::Stopped => f.write_str("the node is stopped"),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Why [`crate::Node::leave`] did not confirm its announcement. The node has stopped either
/// way; others will see it leave once the update reaches them, or fail if it never does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaveError {
    /// The `left` update was not confirmed sent within the timeout.
    Timeout,
    /// The node was already stopped.
    Stopped,
}

impl fmt::Display for LeaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveError::Timeout => f.write_str("leave was not confirmed sent in time"),
            LeaveError::Stopped => f.write_str("the node was already stopped"),
        }
    }
}

impl std::error::Error for LeaveError {}

/// Why [`crate::NodeHandle::publish`] (or `unpublish`) refused a value. Nothing changed
/// (the previous value, if any, is still published), except after
/// [`AggregateError::Unconfirmed`], which says so.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AggregateError {
    /// The name is empty or longer than [`crate::aggregate::MAX_AGGREGATE_NAME_LEN`] bytes
    /// (its length is given).
    InvalidName(usize),
    /// The value is NaN.
    NotANumber,
    /// The value is infinite.
    Infinite(f64),
    /// The value's magnitude exceeds [`crate::aggregate::MAX_VALUE`].
    OutOfRange(f64),
    /// This node already publishes the maximum number of names (given).
    TooMany(usize),
    /// The node is overloaded (its aggregation inbox is full); try again.
    Overloaded,
    /// The change was queued, but the node did not confirm it within 5 s (it is badly
    /// overloaded): it may still take effect.
    Unconfirmed,
    /// The node is stopping or stopped.
    Stopped,
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregateError::InvalidName(n) => write!(
                f,
                "aggregate name of {n} bytes is outside 1..={}",
                crate::aggregate::MAX_AGGREGATE_NAME_LEN
            ),
            AggregateError::NotANumber => f.write_str("value is NaN"),
            AggregateError::Infinite(v) => write!(f, "value {v} is infinite"),
            AggregateError::OutOfRange(v) => {
                write!(f, "value {v} is outside ±{:e}", crate::aggregate::MAX_VALUE)
            }
            AggregateError::TooMany(n) => write!(f, "this node already publishes {n} names"),
            AggregateError::Overloaded => f.write_str("the node is overloaded; try again"),
            AggregateError::Unconfirmed => {
                f.write_str("queued but not confirmed in time; it may still take effect")
            }
            AggregateError::Stopped => f.write_str("the node is stopped"),
        }
    }
}

impl std::error::Error for AggregateError {}

/// Why a key-value call ([`crate::NodeHandle::set`], `delete`, `get`, `state`) failed.
/// Nothing changed (the node's map and every replica of it are as before), except after
/// [`StateError::Unconfirmed`], which says so.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The key is empty.
    EmptyKey,
    /// The key is longer than [`crate::codec::MAX_STATE_KEY_LEN`] bytes.
    KeyTooLong {
        /// The key's length, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is larger than `Config::state_max_value_len`.
    ValueTooLarge {
        /// The value's length, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The node already owns `Config::state_max_keys` keys with a value (the limit is
    /// given); overwriting or deleting one of them is still allowed.
    TooManyKeys(usize),
    /// The node is overloaded (its state inbox is full): nothing was queued; try again.
    Overloaded,
    /// The request was queued, but the node did not answer within 5 s (it is badly
    /// overloaded): a write may still happen; a read has no answer.
    Unconfirmed,
    /// The node is stopping or stopped.
    Stopped,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::EmptyKey => f.write_str("state key is empty"),
            StateError::KeyTooLong { len, max } => {
                write!(f, "state key of {len} bytes is over the limit of {max}")
            }
            StateError::ValueTooLarge { len, max } => {
                write!(f, "state value of {len} bytes is over the limit of {max}")
            }
            StateError::TooManyKeys(max) => write!(f, "this node already owns {max} state keys"),
            StateError::Overloaded => f.write_str("the node is overloaded; try again"),
            StateError::Unconfirmed => f.write_str("no answer in time; a write may still happen"),
            StateError::Stopped => f.write_str("the node is stopped"),
        }
    }
}

impl std::error::Error for StateError {}
