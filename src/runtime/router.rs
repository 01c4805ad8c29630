//! Routes component outputs to the actor, reactor, dispatcher or caller they name.
//!
//! Every channel is bounded and every send is `try_send`: an actor never blocks on
//! another. A full queue drops the message and counts it (`Stats::dropped_queue_full`, or
//! `Stats::events_dropped` for the dispatcher); the protocol recovers as it does from a
//! lost datagram (timers re-fire, gossip is retransmitted, push-pull reconciles).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;

use super::actor::ActorMsg;
use super::dispatcher::DispatchMsg;
use super::queue::{Lane, LaneSender, QueueSender};
use super::reactor::{NetCommand, ReactorHandle};
use crate::protocol::{
    AggregationInput, ComponentInput, DisseminationInput, Egress, MembershipInput, Output, Reply,
    RequestId, StateInput, SuspicionInput,
};
use crate::stats::{Counters, DropReason};

/// Callers waiting for a [`Reply`], by request id.
#[derive(Debug, Default)]
pub(crate) struct Replies {
    next: AtomicU64,
    waiting: Mutex<HashMap<RequestId, Sender<Reply>>>,
}

impl Replies {
    /// A fresh request id and the receiver its reply will arrive on.
    pub(crate) fn register(&self) -> (RequestId, Receiver<Reply>) {
        let id = RequestId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let (tx, rx) = bounded(1);
        self.waiting.lock().insert(id, tx);
        (id, rx)
    }

    /// Hands `reply` to its caller, if still waiting.
    pub(crate) fn resolve(&self, id: RequestId, reply: Reply) {
        if let Some(tx) = self.waiting.lock().remove(&id) {
            // The caller may have given up (timeout); that is fine.
            let _ = tx.try_send(reply);
        }
    }

    /// Forgets a request whose caller gave up.
    pub(crate) fn cancel(&self, id: RequestId) {
        self.waiting.lock().remove(&id);
    }

    /// Wakes every waiting caller with a disconnect (on shutdown).
    pub(crate) fn clear(&self) {
        self.waiting.lock().clear();
    }
}

/// The inbox of every actor of one node.
#[derive(Clone, Debug)]
pub(crate) struct Inboxes {
    pub(crate) membership: LaneSender<ActorMsg<MembershipInput>>,
    pub(crate) suspicion: LaneSender<ActorMsg<SuspicionInput>>,
    pub(crate) dissemination: LaneSender<ActorMsg<DisseminationInput>>,
    pub(crate) aggregation: LaneSender<ActorMsg<AggregationInput>>,
    pub(crate) state: LaneSender<ActorMsg<StateInput>>,
    pub(crate) counters: Arc<Counters>,
}

impl Inboxes {
    /// Queues `input` in the inbox of the actor hosting its component; a full inbox drops
    /// it and counts it (`Stats::dropped_queue_full`).
    pub(crate) fn offer(&self, input: ComponentInput) {
        if self.try_offer(input).is_err() {
            self.counters.dropped(DropReason::QueueFull);
        }
    }

    /// Queues `input` like [`Inboxes::offer`], probe traffic in the urgent lane; handed
    /// back (nothing counted) if its lane is full or its actor stopped.
    pub(crate) fn try_offer(&self, input: ComponentInput) -> Result<(), ComponentInput> {
        use ComponentInput as To;
        let lane = if input.is_urgent() {
            Lane::Urgent
        } else {
            Lane::Normal
        };
        match input {
            To::Membership(i) => offer_input(&self.membership, i, lane, To::Membership),
            To::Suspicion(i) => offer_input(&self.suspicion, i, lane, To::Suspicion),
            To::Dissemination(i) => offer_input(&self.dissemination, i, lane, To::Dissemination),
            To::Aggregation(i) => offer_input(&self.aggregation, i, lane, To::Aggregation),
            To::State(i) => offer_input(&self.state, i, lane, To::State),
        }
    }

    /// Asks every actor to stop, in the urgent lane (best effort: an actor whose lane is
    /// full also stops on the flag it checks after each step).
    pub(crate) fn stop_all(&self) {
        let _ = send(&self.membership, ActorMsg::Stop, Lane::Urgent);
        let _ = send(&self.suspicion, ActorMsg::Stop, Lane::Urgent);
        let _ = send(&self.dissemination, ActorMsg::Stop, Lane::Urgent);
        let _ = send(&self.aggregation, ActorMsg::Stop, Lane::Urgent);
        let _ = send(&self.state, ActorMsg::Stop, Lane::Urgent);
    }
}

/// Where every output of one node's actors goes.
#[derive(Clone, Debug)]
pub(crate) struct Router {
    pub(crate) inboxes: Inboxes,
    pub(crate) dispatcher: QueueSender<DispatchMsg>,
    pub(crate) reactor: ReactorHandle,
    pub(crate) replies: Arc<Replies>,
    pub(crate) counters: Arc<Counters>,
}

impl Router {
    /// Delivers one output to its destination, or counts it dropped.
    pub(crate) fn route(&self, output: Output) {
        match output {
            Output::To(input) => self.inboxes.offer(input),
            Output::Out(Egress::Net(net)) => {
                if !self.reactor.send(NetCommand::Net(net)) {
                    self.counters.dropped(DropReason::QueueFull);
                }
            }
            Output::Out(Egress::Deliver(delivery)) => {
                if !offer(&self.dispatcher, DispatchMsg::Deliver(delivery)) {
                    Counters::bump(&self.counters.events_dropped);
                }
            }
            Output::Out(Egress::Reply(id, reply)) => self.replies.resolve(id, reply),
        }
    }
}

/// `try_send`, true if delivered.
pub(crate) fn offer<T>(tx: &QueueSender<T>, message: T) -> bool {
    tx.try_send(message).is_ok()
}

/// `try_send` in `lane`, true if delivered.
fn send<T>(tx: &LaneSender<T>, message: T, lane: Lane) -> bool {
    tx.try_send(message, lane).is_ok()
}

/// Queues an input in `lane` of an actor's inbox; a refused one is handed back whole, as
/// the `ComponentInput` `back` makes of it.
fn offer_input<I>(
    tx: &LaneSender<ActorMsg<I>>,
    input: I,
    lane: Lane,
    back: fn(I) -> ComponentInput,
) -> Result<(), ComponentInput> {
    tx.try_send(ActorMsg::Input(input), lane)
        .map_err(|refused| back(refused.into_input()))
}
