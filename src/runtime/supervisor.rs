//! The node's supervisor: one flag that says the node is stopping, and the first failure.
//!
//! ```text
//! any thread: panic (caught at the top of its loop) or fatal socket error
//!   --> Supervisor::fail(failure)
//!         first failure kept; stopping set (every later call: `Stopped`)
//!         every actor: Stop (urgent lane), reactor: Stop, dispatcher: Failed(failure)
//!   --> each thread returns; the owner joins them on stop or drop
//! ```
//! The supervisor holds the router only to send those stops; it is set once the router
//! exists (a failure before that, during start, is found by `start` itself).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::dispatcher::DispatchMsg;
use super::reactor::NetCommand;
use super::router::{Router, offer};
use crate::health::{Failure, Health};

/// Shared by every thread of one node.
#[derive(Debug, Default)]
pub(crate) struct Supervisor {
    /// Set when the node begins to stop, by its owner or by a failure.
    stopping: AtomicBool,
    /// The first failure, if the node stopped on its own.
    failure: Mutex<Option<Failure>>,
    /// Where the stops go.
    router: OnceLock<Router>,
}

impl Supervisor {
    /// Gives the supervisor the router it stops the threads through.
    pub(crate) fn attach(&self, router: Router) {
        let _ = self.router.set(router);
    }

    /// Whether the node began to stop.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Marks the node stopping (its owner asked); true if it already was.
    pub(crate) fn begin_stop(&self) -> bool {
        self.stopping.swap(true, Ordering::SeqCst)
    }

    /// The node's condition.
    pub(crate) fn health(&self) -> Health {
        match &*self.failure.lock() {
            Some(failure) => Health::Failed(failure.clone()),
            None if self.is_stopping() => Health::Stopped,
            None => Health::Running,
        }
    }

    /// A thread failed: the node stops (see the module docs). Only the first failure is
    /// kept and reported; one that comes after its owner stopped it is only logged.
    pub(crate) fn fail(&self, failure: Failure) {
        log::error!("{failure}; the node stops");
        let already_stopping = self.begin_stop();
        {
            let mut first = self.failure.lock();
            if first.is_some() || already_stopping {
                return;
            }
            *first = Some(failure.clone());
        }
        if let Some(router) = self.router.get() {
            router.inboxes.stop_all();
            let _ = router.reactor.send(NetCommand::Stop);
            let _ = offer(&router.dispatcher, DispatchMsg::Failed(failure));
        }
    }

    /// Runs a thread's body; a panic in it becomes the node's failure instead of a thread
    /// that dies silently.
    pub(crate) fn guard(&self, thread: &'static str, body: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
            self.fail(Failure::panic(thread, &*payload));
        }
    }
}

#[cfg(any(test, feature = "unstable-internals"))]
impl super::Runtime {
    /// Makes thread `role` fail (see `NodeHandle::inject_failure`); false if there is no
    /// such thread or its inbox refused.
    pub(crate) fn inject_failure(&self, role: &str, io: Option<std::io::ErrorKind>) -> bool {
        use super::actor::ActorMsg::Panic;
        use super::queue::Lane::Urgent;
        use crate::health::FailureCause;

        let inboxes = &self.router.inboxes;
        match role {
            "reactor" => {
                let cause = io.map_or(FailureCause::Panic(String::new()), FailureCause::Io);
                self.router.reactor.send(NetCommand::Fail(cause))
            }
            "membership" => inboxes.membership.try_send(Panic, Urgent).is_ok(),
            "suspicion" => inboxes.suspicion.try_send(Panic, Urgent).is_ok(),
            "dissemination" => inboxes.dissemination.try_send(Panic, Urgent).is_ok(),
            "aggregation" => inboxes.aggregation.try_send(Panic, Urgent).is_ok(),
            "state" => inboxes.state.try_send(Panic, Urgent).is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::health::FailureCause;

    #[test]
    fn the_first_failure_is_kept() {
        let supervisor = Supervisor::default();
        assert_eq!(supervisor.health(), Health::Running);
        supervisor.guard("membership", || panic!("first"));
        supervisor.fail(Failure {
            thread: "reactor",
            cause: FailureCause::Io(io::ErrorKind::Other),
        });
        assert!(supervisor.is_stopping());
        let Health::Failed(failure) = supervisor.health() else {
            panic!("not failed: {:?}", supervisor.health());
        };
        assert_eq!(failure.thread, "membership");
        assert_eq!(failure.cause, FailureCause::Panic("first".into()));
    }

    #[test]
    fn a_failure_after_a_stop_is_not_reported() {
        let supervisor = Supervisor::default();
        assert!(!supervisor.begin_stop());
        supervisor.guard("state", || panic!("late"));
        assert_eq!(supervisor.health(), Health::Stopped);
    }

    #[test]
    fn a_body_that_returns_is_no_failure() {
        let supervisor = Supervisor::default();
        supervisor.guard("suspicion", || {});
        assert_eq!(supervisor.health(), Health::Running);
    }
}
