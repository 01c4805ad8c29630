//! The user-callback dispatcher: runs callbacks on its own thread, in order, so a slow or
//! panicking callback never delays a probe or an ack.
//!
//! Its inbox is bounded (`Config::dispatcher_queue`). When a callback blocks and the inbox
//! fills, further events and messages are dropped and counted in `Stats::events_dropped`;
//! the protocol itself carries on. A panicking callback is caught, logged and counted in
//! `Stats::callback_panics`; later events still run. When the node fails (see
//! `supervisor.rs`) the failure callbacks run, and the thread ends.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};

use super::queue::QueueReceiver;
use crate::aggregate::{AggregateName, Estimate};
use crate::event::Event;
use crate::health::Failure;
use crate::member::{Member, NodeName};
use crate::protocol::Delivery;
use crate::stats::Counters;

/// A callback about a member.
pub(crate) type MemberCallback = Box<dyn FnMut(&Member) + Send>;
/// A callback for a user broadcast: origin and payload.
pub(crate) type MessageCallback = Box<dyn FnMut(&NodeName, &[u8]) + Send>;
/// A callback for every event.
pub(crate) type EventCallback = Box<dyn FnMut(&Event) + Send>;
/// A callback for a settled aggregate estimate.
pub(crate) type EstimateCallback = Box<dyn FnMut(&AggregateName, &Estimate) + Send>;
/// A callback for a changed key of another node's state: owner, key, value (`None`:
/// deleted).
pub(crate) type StateCallback = Box<dyn FnMut(&NodeName, &str, Option<&[u8]>) + Send>;
/// A callback for the node's failure.
pub(crate) type FailureCallback = Box<dyn FnMut(&Failure) + Send>;

/// The callbacks registered on the builder.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) on_join: Vec<MemberCallback>,
    pub(crate) on_leave: Vec<MemberCallback>,
    pub(crate) on_fail: Vec<MemberCallback>,
    pub(crate) on_suspect: Vec<MemberCallback>,
    pub(crate) on_update: Vec<MemberCallback>,
    pub(crate) on_event: Vec<EventCallback>,
    pub(crate) on_message: Vec<MessageCallback>,
    pub(crate) on_estimate: Vec<EstimateCallback>,
    pub(crate) on_state_change: Vec<StateCallback>,
    pub(crate) on_failure: Vec<FailureCallback>,
}

/// What the dispatcher's inbox carries.
#[derive(Debug)]
pub(crate) enum DispatchMsg {
    /// Run the callbacks for this.
    Deliver(Delivery),
    /// The node failed: run the failure callbacks, then return.
    Failed(Failure),
    /// Return.
    Stop,
}

/// Spawns the dispatcher thread. Events also go to `events`, a channel that keeps the
/// `events_capacity` most recent ones: when it is full the oldest unread event is discarded.
pub(crate) fn spawn(
    name: String,
    mut callbacks: Callbacks,
    inbox: QueueReceiver<DispatchMsg>,
    events: (Sender<Event>, Receiver<Event>),
    events_capacity: usize,
    counters: Arc<Counters>,
    done: Sender<()>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name(name).spawn(move || {
        // Dropped on return: tells shutdown this thread is about to finish.
        let _done = done;
        let (events_tx, events_rx) = events;
        loop {
            let delivery = match inbox.recv() {
                Ok(DispatchMsg::Deliver(delivery)) => delivery,
                Ok(DispatchMsg::Failed(failure)) => {
                    for callback in &mut callbacks.on_failure {
                        guarded(&counters, || callback(&failure));
                    }
                    return;
                }
                Ok(DispatchMsg::Stop) | Err(_) => return,
            };
            match delivery {
                Delivery::Event(event) => {
                    run_event_callbacks(&mut callbacks, &event, &counters);
                    publish(&events_tx, &events_rx, events_capacity, event);
                }
                Delivery::Message { origin, payload } => {
                    for callback in &mut callbacks.on_message {
                        guarded(&counters, || callback(&origin, &payload));
                    }
                }
                Delivery::Estimate { name, estimate } => {
                    for callback in &mut callbacks.on_estimate {
                        guarded(&counters, || callback(&name, &estimate));
                    }
                }
                Delivery::StateChange(change) => {
                    let (key, value) = (change.key.as_str(), change.value.as_deref());
                    for callback in &mut callbacks.on_state_change {
                        guarded(&counters, || callback(&change.owner, key, value));
                    }
                }
            }
        }
    })
}

fn run_event_callbacks(callbacks: &mut Callbacks, event: &Event, counters: &Counters) {
    let specific = match event {
        Event::Join(_) => Some(&mut callbacks.on_join),
        Event::Leave(_) => Some(&mut callbacks.on_leave),
        Event::Fail(_) => Some(&mut callbacks.on_fail),
        Event::Suspect(_) => Some(&mut callbacks.on_suspect),
        Event::Update(_) => Some(&mut callbacks.on_update),
        _ => None,
    };
    for callback in specific.into_iter().flatten() {
        guarded(counters, || callback(event.member()));
    }
    for callback in &mut callbacks.on_event {
        guarded(counters, || callback(event));
    }
}

/// Runs a user callback, catching and counting a panic.
fn guarded(counters: &Counters, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        Counters::bump(&counters.callback_panics);
        log::error!("a user callback panicked; the node carries on");
    }
}

/// Sends to the events channel, first discarding the oldest unread events so that it holds
/// `capacity` at most. This thread is the only sender: no other can fill it in between.
fn publish<T>(tx: &Sender<T>, rx: &Receiver<T>, capacity: usize, event: T) {
    while tx.len() >= capacity.max(1) {
        if rx.try_recv().is_err() {
            break;
        }
    }
    // This thread holds a receiver itself: the send cannot fail.
    let _ = tx.send(event);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_events_channel_keeps_the_most_recent_ones() {
        let (tx, rx) = crossbeam_channel::unbounded();
        for event in 0..10 {
            publish(&tx, &rx, 4, event);
        }
        assert_eq!(rx.try_iter().collect::<Vec<u32>>(), [6, 7, 8, 9]);
        publish(&tx, &rx, 4, 10);
        assert_eq!(rx.try_recv().unwrap(), 10, "none discarded below capacity");
    }
}
