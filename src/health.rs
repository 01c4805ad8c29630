//! Whether a node still runs, and if it stopped on its own, why.
//!
//! A node is seven threads that only make sense together: a membership
//! actor that died would leave the others answering probes for a node that no longer
//! decides anything (a zombie that others can never declare failed). So the first thread
//! to panic, or the reactor meeting a socket error it cannot go on from, stops the whole
//! node: every thread ends, every later call returns its `Stopped` error,
//! [`NodeHandle::health`](crate::NodeHandle::health) says [`Health::Failed`] with the
//! [`Failure`], and the callbacks registered with
//! [`NodeBuilder::on_failure`](crate::NodeBuilder::on_failure) run once with it.

use std::fmt;
use std::io;

/// A node's condition.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Every thread runs.
    Running,
    /// Stopped by its owner (`stop`, `leave`, drop), or gone.
    Stopped,
    /// Stopped on its own, for this reason (see the module docs).
    Failed(Failure),
}

impl Health {
    /// True while every thread runs.
    pub fn is_running(&self) -> bool {
        *self == Health::Running
    }
}

/// Why a node stopped on its own: which thread, and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// The thread's role: `reactor`, `membership`, `suspicion`, `dissemination`,
    /// `aggregation`, `state` or `dispatcher`.
    pub thread: &'static str,
    /// What happened.
    pub cause: FailureCause,
}

/// What ended a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCause {
    /// It panicked, with this message (when the panic carried a string).
    Panic(String),
    /// The reactor's poll or socket failed with an error it cannot go on from.
    Io(io::ErrorKind),
}

impl Failure {
    /// A panic of `thread`, with the message its payload carries.
    pub(crate) fn panic(thread: &'static str, payload: &(dyn std::any::Any + Send)) -> Failure {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        Failure {
            thread,
            cause: FailureCause::Panic(message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            FailureCause::Panic(message) => {
                write!(f, "the {} thread panicked: {message}", self.thread)
            }
            FailureCause::Io(kind) => write!(f, "the {} thread failed: {kind}", self.thread),
        }
    }
}

impl std::error::Error for Failure {}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Running => f.write_str("running"),
            Health::Stopped => f.write_str("stopped"),
            Health::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_payload_becomes_its_message() {
        let of_str = Failure::panic("membership", &"boom");
        assert_eq!(of_str.cause, FailureCause::Panic("boom".into()));
        let of_string = Failure::panic("state", &String::from("bang"));
        assert_eq!(of_string.to_string(), "the state thread panicked: bang");
        let of_other = Failure::panic("reactor", &42_u32);
        assert_eq!(of_other.cause, FailureCause::Panic("(no message)".into()));
    }

    #[test]
    fn health_reads_well() {
        assert!(Health::Running.is_running());
        let failed = Health::Failed(Failure {
            thread: "reactor",
            cause: FailureCause::Io(io::ErrorKind::PermissionDenied),
        });
        assert!(!failed.is_running());
        assert_eq!(
            failed.to_string(),
            "failed: the reactor thread failed: permission denied"
        );
    }
}
