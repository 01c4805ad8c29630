//! [`ReactorHandle`]: how other threads command the reactor, through its command queue
//! (an urgent lane for probe datagrams and `Stop`, a normal one for the rest) and its
//! waker.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::Waker;
use parking_lot::RwLock;

use super::NetCommand;
use crate::protocol::NetOutput;
use crate::runtime::queue::{Lane, LaneSender};

/// A cheap, cloneable handle other threads use to command the reactor.
///
/// The owner stops the reactor with `NetCommand::Stop` and joins its thread; should the last
/// handle be dropped without that, the reactor stops by itself (nobody could command it).
#[derive(Clone)]
pub(crate) struct ReactorHandle {
    /// Shared by every clone; its drop is the last handle going away.
    inner: Arc<HandleInner>,
}

/// What the clones of a handle share.
struct HandleInner {
    /// The command queue: an urgent lane (probe datagrams, `Stop`) and a normal one.
    tx: LaneSender<NetCommand>,
    /// The waker and the flags shared with the reactor.
    shared: Arc<Shared>,
}

/// State shared between the handles and the reactor thread.
pub(super) struct Shared {
    /// Wakes the reactor's `poll`.
    pub(super) waker: Waker,
    /// Set once (under the write lock) when the reactor stops: no command is queued after it,
    /// so every `Exchange` that was queued gets its answer.
    pub(super) stopped: RwLock<bool>,
    /// A wake is already on its way; saves a syscall per command under bursts.
    pub(super) wake_pending: AtomicBool,
}

impl ReactorHandle {
    /// The handle of a reactor reading commands from the other end of `tx`.
    pub(super) fn new(tx: LaneSender<NetCommand>, shared: Arc<Shared>) -> ReactorHandle {
        ReactorHandle {
            inner: Arc::new(HandleInner { tx, shared }),
        }
    }

    /// Queues a command and wakes the reactor. Returns false (and does nothing else) if the
    /// queue is full or the reactor has stopped; the caller counts what it dropped.
    pub(crate) fn send(&self, cmd: NetCommand) -> bool {
        self.inner.send(cmd)
    }
}

impl HandleInner {
    /// See [`ReactorHandle::send`].
    fn send(&self, cmd: NetCommand) -> bool {
        let lane = match &cmd {
            NetCommand::Stop | NetCommand::Net(NetOutput::SendTo { urgent: true, .. }) => {
                Lane::Urgent
            }
            #[cfg(any(test, feature = "unstable-internals"))]
            NetCommand::Fail(_) => Lane::Urgent,
            NetCommand::Net(_) => Lane::Normal,
        };
        {
            let stopped = self.shared.stopped.read();
            if *stopped || self.tx.try_send(cmd, lane).is_err() {
                return false;
            }
        }
        // The reactor swaps the flag back to false before draining, so a command queued while
        // the flag is true is seen by that drain.
        if !self.shared.wake_pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.shared.waker.wake() {
                self.shared.wake_pending.store(false, Ordering::Release);
                log::warn!("reactor wake failed: {e}");
            }
        }
        true
    }
}

impl fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorHandle")
            .field("queued", &self.inner.tx.len())
            .field("stopped", &*self.inner.shared.stopped.read())
            .finish()
    }
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        // The last handle is gone: stop rather than leave the thread parked forever. If the
        // queue is full the reactor is busy draining it and sees the channel disconnect.
        self.send(NetCommand::Stop);
    }
}
