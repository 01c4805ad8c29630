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
use super::queue::QueueSender;
use super::reactor::{NetCommand, ReactorHandle};
use crate::protocol::{
    AggregationInput, DisseminationInput, MembershipInput, NetOutput, Output, Reply, RequestId,
    StateInput, SuspicionInput,
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
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
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

/// Senders to every destination of one node.
#[derive(Clone, Debug)]
pub(crate) struct Router {
    pub(crate) membership: QueueSender<ActorMsg<MembershipInput>>,
    pub(crate) suspicion: QueueSender<ActorMsg<SuspicionInput>>,
    pub(crate) dissemination: QueueSender<ActorMsg<DisseminationInput>>,
    pub(crate) aggregation: QueueSender<ActorMsg<AggregationInput>>,
    pub(crate) state: QueueSender<ActorMsg<StateInput>>,
    pub(crate) dispatcher: QueueSender<DispatchMsg>,
    pub(crate) reactor: ReactorHandle,
    pub(crate) replies: Arc<Replies>,
    pub(crate) counters: Arc<Counters>,
}

impl Router {
    /// Delivers one output to its destination, or counts it dropped.
    pub(crate) fn route(&self, output: Output) {
        let delivered = match output {
            Output::Membership(input) => offer(&self.membership, ActorMsg::Input(input)),
            Output::Suspicion(input) => offer(&self.suspicion, ActorMsg::Input(input)),
            Output::Dissemination(input) => offer(&self.dissemination, ActorMsg::Input(input)),
            Output::Net(net) => self.reactor.send(net_command(net)),
            Output::Deliver(delivery) => {
                if !offer(&self.dispatcher, DispatchMsg::Deliver(delivery)) {
                    Counters::bump(&self.counters.events_dropped);
                }
                return;
            }
            Output::Reply(id, reply) => {
                self.replies.resolve(id, reply);
                return;
            }
        };
        if !delivered {
            self.counters.dropped(DropReason::QueueFull);
        }
    }
}

/// `try_send`, true if delivered.
pub(crate) fn offer<T>(tx: &QueueSender<T>, message: T) -> bool {
    tx.try_send(message).is_ok()
}

fn net_command(net: NetOutput) -> NetCommand {
    match net {
        NetOutput::SendTo { to, bytes } => NetCommand::SendTo { to, bytes },
        NetOutput::Exchange {
            request,
            to,
            frame,
            timeout,
        } => NetCommand::Exchange {
            request,
            to,
            frame,
            timeout,
        },
        NetOutput::Reply { conn, frame } => NetCommand::Reply { conn, frame },
    }
}
