//! Plain data every layer shares: names, incarnations, member states and records.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::time::Instant;

/// Longest node name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Largest node metadata, in bytes.
pub const MAX_METADATA_LEN: usize = 512;

/// A node's name: UTF-8, 1 to [`MAX_NAME_LEN`] bytes, unique in the cluster.
///
/// Cloning is cheap (a reference count), so every layer can hold names freely. One
/// pointer wide (the text is boxed behind the count): every node holds one per member.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(Arc<Box<str>>);

impl NodeName {
    /// Validates and wraps a name.
    pub fn new(name: &str) -> Result<NodeName, InvalidName> {
        if name.is_empty() {
            return Err(InvalidName::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(InvalidName::TooLong(name.len()));
        }
        // Names end up in logs and line-based output (the chat example's headless mode):
        // a newline or an escape sequence in a name must not forge or garble a line.
        if name.chars().any(char::is_control) {
            return Err(InvalidName::ControlCharacter);
        }
        Ok(NodeName(Arc::new(Box::from(name))))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a string is not a valid [`NodeName`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidName {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes (the length is given).
    TooLong(usize),
    /// The name contains a control character (such as a newline).
    ControlCharacter,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidName::Empty => f.write_str("node name is empty"),
            InvalidName::TooLong(n) => {
                write!(f, "node name is {n} bytes, the limit is {MAX_NAME_LEN}")
            }
            InvalidName::ControlCharacter => f.write_str("node name contains a control character"),
        }
    }
}

impl std::error::Error for InvalidName {}

/// A member's incarnation number: only the member itself raises it, to refute suspicion or
/// to announce new metadata. Higher incarnations override lower ones.
pub type Incarnation = u64;

/// What the cluster believes about a member (SWIM with suspicion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Missed a probe; declared dead unless it refutes before its suspicion times out.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left the cluster on purpose.
    Left,
}

impl MemberState {
    /// The state's wire code.
    pub const fn code(self) -> u8 {
        match self {
            MemberState::Alive => 0,
            MemberState::Suspect => 1,
            MemberState::Dead => 2,
            MemberState::Left => 3,
        }
    }

    /// The state for a wire code, if it is one.
    pub const fn from_code(code: u8) -> Option<MemberState> {
        match code {
            0 => Some(MemberState::Alive),
            1 => Some(MemberState::Suspect),
            2 => Some(MemberState::Dead),
            3 => Some(MemberState::Left),
            _ => None,
        }
    }

    /// Alive or suspect: still taking part in the protocol as far as we know.
    pub const fn is_live(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }

    /// Lower-case name, as printed by the examples.
    pub const fn as_str(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One member as this node sees it: a snapshot, not a live view.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// The member's unique name.
    pub name: NodeName,
    /// Where it receives gossip.
    pub addr: SocketAddr,
    /// Its latest known incarnation.
    pub incarnation: Incarnation,
    /// What we believe about it.
    pub state: MemberState,
    /// Application metadata, at most [`MAX_METADATA_LEN`] bytes.
    pub metadata: Arc<[u8]>,
    /// Protocol time of the last state change we saw.
    pub changed_at: Instant,
}

impl Member {
    /// The member's name as text.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(NodeName::new(""), Err(InvalidName::Empty));
        assert!(NodeName::new(&"x".repeat(64)).is_ok());
        assert_eq!(
            NodeName::new(&"x".repeat(65)),
            Err(InvalidName::TooLong(65))
        );
        assert_eq!(NodeName::new("a\nb"), Err(InvalidName::ControlCharacter));
        let padded = NodeName::new("ab").map(|n| format!("{n:<4}|"));
        assert_eq!(padded, Ok("ab  |".to_string()));
        assert_eq!(
            NodeName::new("alice").map(|n| n.to_string()),
            Ok("alice".into())
        );
    }

    #[test]
    fn state_codes_round_trip() {
        for s in [
            MemberState::Alive,
            MemberState::Suspect,
            MemberState::Dead,
            MemberState::Left,
        ] {
            assert_eq!(MemberState::from_code(s.code()), Some(s));
        }
        assert_eq!(MemberState::from_code(4), None);
    }
}
