//! Why bytes did not decode, and why a message could not be encoded.
//!
//! Decoding and encoding are stateless: no variant below means any state changed. A
//! [`DecodeError`] means the datagram or frame is dropped and counted (see
//! [`DecodeError::reason`]); an [`EncodeError`] means nothing was written.

use std::fmt;

use crate::stats::DropReason;

/// Why a datagram, frame or header did not decode. Nothing is changed by a failed decode;
/// the input is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    Truncated,
    /// The input does not start with the magic bytes `"EP"`.
    BadMagic,
    /// The header names a protocol version this build does not speak.
    UnsupportedVersion(u8),
    /// The header sets envelope flags this build does not understand.
    UnsupportedFlags(u8),
    /// A datagram declared zero messages.
    NoMessages,
    /// More messages than a datagram may hold.
    TooManyMessages(usize),
    /// A message type code this build does not know.
    UnknownMessageType(u8),
    /// A frame kind this build does not know.
    UnknownFrameKind(u8),
    /// A node name is empty or longer than [`crate::member::MAX_NAME_LEN`] bytes.
    InvalidName,
    /// A node name is not valid UTF-8.
    InvalidUtf8,
    /// A socket address has an unknown family tag.
    InvalidAddress(u8),
    /// A member state code this build does not know.
    UnknownState(u8),
    /// A boolean field holds something other than 0 or 1.
    InvalidBool(u8),
    /// A length is over its limit, or does not match what its content occupies.
    LengthOutOfRange {
        /// Which field or structure.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// Bytes are left over after the last field (the count of extra bytes is given).
    TrailingBytes(usize),
    /// A state message's flags (its `want` code and summary bits) this build does not know.
    UnknownStateWant(u8),
}

impl DecodeError {
    /// How the drop is counted: version and flag mismatches are
    /// [`DropReason::WrongVersion`], everything else [`DropReason::Malformed`].
    pub fn reason(&self) -> DropReason {
        match self {
            DecodeError::UnsupportedVersion(_) | DecodeError::UnsupportedFlags(_) => {
                DropReason::WrongVersion
            }
            _ => DropReason::Malformed,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("input ended in the middle of a field"),
            DecodeError::BadMagic => f.write_str("bad magic bytes"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            DecodeError::UnsupportedFlags(x) => write!(f, "unsupported envelope flags {x:#04x}"),
            DecodeError::NoMessages => f.write_str("packet holds no messages"),
            DecodeError::TooManyMessages(n) => write!(f, "packet holds {n} messages, too many"),
            DecodeError::UnknownMessageType(t) => write!(f, "unknown message type {t}"),
            DecodeError::UnknownFrameKind(k) => write!(f, "unknown frame kind {k}"),
            DecodeError::InvalidName => f.write_str("node name is empty or too long"),
            DecodeError::InvalidUtf8 => f.write_str("node name is not valid UTF-8"),
            DecodeError::InvalidAddress(tag) => write!(f, "unknown address family tag {tag}"),
            DecodeError::UnknownState(s) => write!(f, "unknown member state {s}"),
            DecodeError::InvalidBool(b) => write!(f, "boolean field holds {b}, not 0 or 1"),
            DecodeError::LengthOutOfRange { what, len, max } => {
                write!(f, "{what} length {len} is out of range (max {max})")
            }
            DecodeError::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes"),
            DecodeError::UnknownStateWant(w) => write!(f, "unknown state exchange flags {w:#04x}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a packet or frame was not encoded. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message count is outside `1..=255` (the count is given).
    TooManyMessages(usize),
    /// A field is over its wire limit.
    FieldTooLarge {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame would exceed [`super::MAX_FRAME_LEN`] bytes (its length is given).
    FrameTooLarge(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooManyMessages(n) => {
                write!(f, "{n} messages: a packet holds 1 to 255")
            }
            EncodeError::FieldTooLarge { what, len, max } => {
                write!(f, "{what} is {len} long, the limit is {max}")
            }
            EncodeError::FrameTooLarge(n) => {
                write!(
                    f,
                    "frame of {n} bytes exceeds the limit of {}",
                    super::MAX_FRAME_LEN
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(
            DecodeError::UnsupportedVersion(2).reason(),
            DropReason::WrongVersion
        );
        assert_eq!(
            DecodeError::UnsupportedFlags(1).reason(),
            DropReason::WrongVersion
        );
        assert_eq!(DecodeError::Truncated.reason(), DropReason::Malformed);
        assert_eq!(
            DecodeError::TrailingBytes(3).reason(),
            DropReason::Malformed
        );
    }

    #[test]
    fn display_is_informative() {
        let e = DecodeError::LengthOutOfRange {
            what: "metadata",
            len: 600,
            max: 512,
        };
        assert_eq!(
            e.to_string(),
            "metadata length 600 is out of range (max 512)"
        );
        let e = EncodeError::FieldTooLarge {
            what: "payload",
            len: 20000,
            max: 16384,
        };
        assert_eq!(e.to_string(), "payload is 20000 long, the limit is 16384");
        assert!(
            EncodeError::FrameTooLarge(1 << 30)
                .to_string()
                .contains("exceeds")
        );
    }
}
