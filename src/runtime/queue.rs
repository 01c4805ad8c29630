//! Bounded queues that allocate as they fill, and inboxes of two such queues (lanes).
//!
//! crossbeam's array-backed `bounded(n)` allocates and touches all `n` slots up front: four
//! actor inboxes of 16,384 messages cost a node 6.6 MiB of resident memory while idle. These
//! queues keep the same hard bound (a send beyond it fails at once and hands the message
//! back) on top of a linked-block channel, so memory follows the backlog, not the bound.
//!
//! An inbox ([`lanes`]) has an urgent lane and a normal one. The receiver takes urgent
//! messages first (probe traffic: a ping, an ack), so they never wait behind a backlog of
//! broadcasts; after [`MAX_URGENT_STREAK`] urgent messages in a row it takes one normal
//! message, so a flood of urgent ones cannot starve the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Select, Sender, TryRecvError, unbounded,
};

/// Urgent messages taken in a row before a waiting normal one gets its turn.
pub(crate) const MAX_URGENT_STREAK: u32 = 32;

/// A queue of at most `capacity` messages.
pub(crate) fn bounded<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let (tx, rx) = unbounded();
    let len = Arc::new(AtomicUsize::new(0));
    let sender = QueueSender {
        tx,
        len: len.clone(),
        capacity: capacity.max(1),
    };
    (sender, QueueReceiver { rx, len })
}

/// The sending side; cheap to clone.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    tx: Sender<T>,
    len: Arc<AtomicUsize>,
    capacity: usize,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> QueueSender<T> {
        QueueSender {
            tx: self.tx.clone(),
            len: self.len.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T> QueueSender<T> {
    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Queues `message`, or hands it back if the queue is full or its receiver is gone.
    pub(crate) fn try_send(&self, message: T) -> Result<(), T> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(message);
        }
        self.tx.send(message).map_err(|e| {
            self.len.fetch_sub(1, Ordering::AcqRel);
            e.into_inner()
        })
    }
}

/// The receiving side.
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    rx: Receiver<T>,
    len: Arc<AtomicUsize>,
}

impl<T> QueueReceiver<T> {
    /// Waits for a message.
    pub(crate) fn recv(&self) -> Result<T, RecvError> {
        self.rx.recv().inspect(|_| self.taken())
    }

    /// A message if one is waiting.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv().inspect(|_| self.taken())
    }

    fn taken(&self) {
        self.len.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Which lane of an inbox a message takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Taken first.
    Urgent,
    /// Taken in turn.
    Normal,
}

/// An inbox of an urgent and a normal lane, each bounded: `urgent` and `normal` messages
/// at most.
pub(crate) fn lanes<T>(urgent: usize, normal: usize) -> (LaneSender<T>, LaneReceiver<T>) {
    let (urgent_tx, urgent_rx) = bounded(urgent);
    let (normal_tx, normal_rx) = bounded(normal);
    let sender = LaneSender {
        urgent: urgent_tx,
        normal: normal_tx,
    };
    let receiver = LaneReceiver {
        urgent: urgent_rx,
        normal: normal_rx,
        streak: 0,
    };
    (sender, receiver)
}

/// The sending side of an inbox; cheap to clone.
#[derive(Debug)]
pub(crate) struct LaneSender<T> {
    urgent: QueueSender<T>,
    normal: QueueSender<T>,
}

impl<T> Clone for LaneSender<T> {
    fn clone(&self) -> LaneSender<T> {
        LaneSender {
            urgent: self.urgent.clone(),
            normal: self.normal.clone(),
        }
    }
}

impl<T> LaneSender<T> {
    /// Queues `message` in `lane`, or hands it back if that lane is full or the receiver
    /// is gone.
    pub(crate) fn try_send(&self, message: T, lane: Lane) -> Result<(), T> {
        match lane {
            Lane::Urgent => self.urgent.try_send(message),
            Lane::Normal => self.normal.try_send(message),
        }
    }

    /// Messages waiting in both lanes.
    pub(crate) fn len(&self) -> usize {
        self.urgent.len() + self.normal.len()
    }
}

/// The receiving side of an inbox.
#[derive(Debug)]
pub(crate) struct LaneReceiver<T> {
    urgent: QueueReceiver<T>,
    normal: QueueReceiver<T>,
    /// Urgent messages taken in a row.
    streak: u32,
}

impl<T> LaneReceiver<T> {
    /// The next message, urgent first (see the module docs); waits until `deadline` (for
    /// ever when `None`). `Disconnected` once the senders are gone.
    pub(crate) fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(message) => return Ok(message),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            let mut select = Select::new();
            select.recv(&self.urgent.rx);
            select.recv(&self.normal.rx);
            let ready = match deadline {
                Some(at) => select.ready_deadline(at).is_ok(),
                None => {
                    select.ready();
                    true
                }
            };
            if !ready {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// A message if one is waiting, urgent first (see the module docs).
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let normal_turn = self.streak >= MAX_URGENT_STREAK;
        let (first, second) = if normal_turn {
            (&self.normal, &self.urgent)
        } else {
            (&self.urgent, &self.normal)
        };
        let (taken, from_first) = match first.try_recv() {
            Ok(message) => (Ok(message), true),
            Err(first_err) => match second.try_recv() {
                Ok(message) => (Ok(message), false),
                Err(second_err) => {
                    let gone = first_err == TryRecvError::Disconnected
                        || second_err == TryRecvError::Disconnected;
                    let err = if gone {
                        TryRecvError::Disconnected
                    } else {
                        TryRecvError::Empty
                    };
                    (Err(err), false)
                }
            },
        };
        if taken.is_ok() {
            let took_urgent = from_first != normal_turn;
            self.streak = if took_urgent { self.streak + 1 } else { 0 };
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_bound_holds_and_frees_as_messages_are_taken() {
        let (tx, rx) = bounded(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.clone().try_send(2).is_ok());
        assert_eq!(tx.try_send(3), Err(3));
        assert_eq!(rx.recv().unwrap(), 1);
        assert!(tx.try_send(4).is_ok());
        assert_eq!(tx.try_send(5), Err(5));
        drop(rx);
        let (tx, rx) = bounded::<u8>(1);
        drop(rx);
        assert_eq!(tx.try_send(7), Err(7));
    }

    #[test]
    fn urgent_messages_jump_the_queue_but_cannot_starve_it() {
        let (tx, mut rx) = lanes(100, 100);
        for i in 0..3 {
            tx.try_send(i, Lane::Normal).unwrap();
        }
        tx.try_send(100, Lane::Urgent).unwrap();
        assert_eq!(rx.try_recv(), Ok(100));
        assert_eq!(rx.try_recv(), Ok(0));
        // A flood of urgent messages: one normal message every MAX_URGENT_STREAK.
        for i in 0..2 * MAX_URGENT_STREAK {
            tx.try_send(1000 + i, Lane::Urgent).unwrap();
        }
        let taken: Vec<u32> = (0..MAX_URGENT_STREAK + 1)
            .map(|_| rx.try_recv().unwrap())
            .collect();
        assert_eq!(
            taken[..MAX_URGENT_STREAK as usize],
            (1000..1032).collect::<Vec<_>>()
        );
        assert_eq!(
            taken[MAX_URGENT_STREAK as usize], 1,
            "the normal lane's turn"
        );
        assert_eq!(rx.try_recv(), Ok(1032), "then urgent again");
        assert_eq!(tx.len(), MAX_URGENT_STREAK as usize - 1 + 1);
    }

    #[test]
    fn a_blocked_receiver_wakes_for_either_lane_and_times_out_when_quiet() {
        let (tx, mut rx) = lanes::<u8>(1, 1);
        #[allow(clippy::disallowed_methods)] // a bound on the wait, not a synchronisation
        let soon = || Some(Instant::now() + std::time::Duration::from_millis(20));
        assert_eq!(rx.recv_until(soon()), Err(RecvTimeoutError::Timeout));
        let sender = tx.clone();
        let t = std::thread::spawn(move || sender.try_send(5, Lane::Normal));
        assert_eq!(rx.recv_until(None), Ok(5));
        t.join().unwrap().unwrap();
        assert_eq!(tx.try_send(6, Lane::Urgent), Ok(()));
        assert_eq!(
            tx.try_send(7, Lane::Urgent),
            Err(7),
            "the urgent lane holds one"
        );
        assert_eq!(rx.recv_until(soon()), Ok(6));
        drop(tx);
        assert_eq!(rx.recv_until(None), Err(RecvTimeoutError::Disconnected));
    }
}
