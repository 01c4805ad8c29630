//! Real threads: the only code that reads the OS clock or touches sockets. The clock is
//! read in two places: `clock.rs` (protocol time for the actors, and the generation, from
//! the wall clock, at start) and `reactor.rs` (deadlines of TCP connections).
//!
//! One node is seven named threads. Shutdown stops and joins the actors, then the
//! reactor, then the dispatcher; a dispatcher stuck in a user callback is given two
//! seconds and then detached (it ends when the callback returns):
//!
//! ```text
//! epidemic/<node>/reactor        mio: UDP socket, TCP listener and connections
//! epidemic/<node>/membership     protocol::Membership  (table, failure detector, push-pull)
//! epidemic/<node>/suspicion      protocol::Suspicion   (suspicion timers)
//! epidemic/<node>/dissemination  protocol::Dissemination (piggyback queues, gossip tick)
//! epidemic/<node>/aggregation    protocol::Aggregation (push-sum rounds and epochs)
//! epidemic/<node>/state          protocol::KvState     (replicated key-value state)
//! epidemic/<node>/dispatcher     user callbacks
//! ```
//! (the reactor, five actors each hosting a component the node core built, and the
//! dispatcher.) Every thread runs under the node's supervisor (`supervisor.rs`): the first
//! panic or fatal socket error stops them all, and `health()` says why. Each actor's inbox has an urgent lane for probe traffic. An actor whose
//! component has no deadline (aggregation with nothing published, the state with nothing
//! held) sleeps on its inbox and costs nothing.
//!
//! ```text
//!  UDP/TCP --> reactor --protocol::Inbound (decode, classify)--> actor inboxes
//!  actor: component.handle -> Output::To(input) --> another actor's inbox (Router)
//!                             Output::Out(Net)  --> reactor command queue --> socket
//!                             Output::Out(Deliver) --> dispatcher --> callbacks, events()
//!                             Output::Out(Reply)   --> the caller blocked in Node::...
//! ```

mod actor;
mod calls;
mod clock;
mod dispatcher;
mod inbound;
mod queue;
mod reactor;
mod router;
mod socket;
mod supervisor;
mod tcp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, bounded, unbounded};
use parking_lot::{Mutex, RwLock};

pub(crate) use calls::{Refused, Snapshot, Unanswered};
pub(crate) use dispatcher::Callbacks;
#[cfg(feature = "unstable-internals")]
pub(crate) use tcp::{FrameReader, ReadRules};

use self::actor::Placement;
use self::clock::Clock;
use self::dispatcher::DispatchMsg;
use self::inbound::ReactorSink;
use self::reactor::{NetCommand, ReactorLimits};
use self::router::{Inboxes, Replies, Router, offer};
use self::supervisor::Supervisor;
use crate::aggregate::{AggregateName, Estimate};
use crate::config::Config;
use crate::error::StartError;
use crate::event::Event;
use crate::health::Health;
use crate::member::NodeName;
use crate::protocol::{Aggregation, Components, Inbound, Membership, NodeSetup};
use crate::seal::{PrefixSource, SealControl};
use crate::stats::Counters;

/// Capacity of each actor's inbox (its normal lane).
const ACTOR_QUEUE: usize = 16_384;
/// Capacity of the urgent lane of each actor's inbox (probe traffic): a node sends and
/// answers a few probes a second, so a backlog of thousands is a flood, not load.
const URGENT_QUEUE: usize = 4_096;
/// How long shutdown waits for a dispatcher stuck in a user callback before detaching it.
const DISPATCHER_GRACE: Duration = Duration::from_secs(2);

/// The aggregation actor's published estimates, in name order.
pub(crate) type Estimates = Arc<[(AggregateName, Estimate)]>;

/// Everything `Runtime::start` needs.
pub(crate) struct Setup {
    pub(crate) name: NodeName,
    pub(crate) bind: SocketAddr,
    pub(crate) advertise: Option<SocketAddr>,
    pub(crate) config: Config,
    pub(crate) metadata: Arc<[u8]>,
    pub(crate) seed: u64,
    pub(crate) callbacks: Callbacks,
    /// Keys and encryption mode, shared with the node's handle.
    pub(crate) seal: Arc<SealControl>,
}

/// The threads and shared state of one running node.
pub(crate) struct Runtime {
    pub(crate) name: NodeName,
    /// The settings it runs with.
    pub(crate) config: Config,
    pub(crate) local_addr: SocketAddr,
    pub(crate) router: Router,
    /// The membership actor's latest snapshot.
    snapshot: Arc<RwLock<Snapshot>>,
    /// The aggregation actor's estimates, in name order.
    estimates: Arc<RwLock<Estimates>>,
    pub(crate) events: Receiver<Event>,
    pub(crate) counters: Arc<Counters>,
    /// Keys and encryption mode, shared with the reactor.
    pub(crate) seal: Arc<SealControl>,
    /// Says when the node is stopping, and why if it failed.
    supervisor: Arc<Supervisor>,
    actors: Mutex<Vec<JoinHandle<()>>>,
    reactor: Mutex<Option<JoinHandle<()>>>,
    dispatcher: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
}

impl Runtime {
    /// Binds, spawns every thread, and returns once they run.
    pub(crate) fn start(setup: Setup) -> Result<Runtime, StartError> {
        let sockets = socket::bind(setup.bind).map_err(StartError::Bind)?;
        let local_addr = setup.advertise.unwrap_or(sockets.local_addr);
        let counters = Arc::new(Counters::default());
        let clock = Clock::start();
        let node = setup.name.to_string();
        let thread_name = |actor: &str| format!("epidemic/{node}/{actor}");
        let supervisor = Arc::new(Supervisor::default());
        let placement = |role: &'static str| Placement {
            name: thread_name(role),
            role,
            supervisor: supervisor.clone(),
        };

        let (membership_tx, membership_rx) = queue::lanes(URGENT_QUEUE, ACTOR_QUEUE);
        let (suspicion_tx, suspicion_rx) = queue::lanes(URGENT_QUEUE, ACTOR_QUEUE);
        let (dissemination_tx, dissemination_rx) = queue::lanes(URGENT_QUEUE, ACTOR_QUEUE);
        let (aggregation_tx, aggregation_rx) = queue::lanes(URGENT_QUEUE, ACTOR_QUEUE);
        let (state_tx, state_rx) = queue::lanes(URGENT_QUEUE, ACTOR_QUEUE);
        let (dispatch_tx, dispatch_rx) = queue::bounded(setup.config.dispatcher_queue);
        // Unbounded: the dispatcher keeps it at `dispatcher_queue` events (see
        // `dispatcher::publish`). A `bounded` one allocates and touches all its slots at
        // once (480 KiB for 4,096 events); this one grows with the events it holds.
        let events = unbounded();
        let events_rx = events.1.clone();
        let inboxes = Inboxes {
            membership: membership_tx,
            suspicion: suspicion_tx,
            dissemination: dissemination_tx,
            aggregation: aggregation_tx,
            state: state_tx,
            counters: counters.clone(),
        };

        let sink = ReactorSink {
            // Nonce prefixes from the OS, whatever seed the node was given: two nodes
            // started with one seed must not seal under the same nonces.
            inbound: Inbound::new(
                &setup.config,
                counters.clone(),
                None,
                setup.seal.clone(),
                PrefixSource::Os,
            ),
            inboxes: inboxes.clone(),
        };
        let (reactor, reactor_thread) = reactor::spawn(
            thread_name("reactor"),
            sockets,
            sink,
            counters.clone(),
            ReactorLimits::default(),
            supervisor.clone(),
        )
        .map_err(StartError::Spawn)?;

        let router = Router {
            inboxes,
            dispatcher: dispatch_tx,
            reactor,
            replies: Arc::new(Replies::default()),
            counters: counters.clone(),
        };
        let runtime = Runtime {
            name: setup.name.clone(),
            config: setup.config.clone(),
            seal: setup.seal.clone(),
            local_addr,
            router: router.clone(),
            snapshot: Arc::new(RwLock::new(Snapshot::default())),
            estimates: Arc::new(RwLock::new(Arc::from(Vec::new()))),
            events: events_rx,
            counters: counters.clone(),
            supervisor: supervisor.clone(),
            actors: Mutex::new(Vec::new()),
            reactor: Mutex::new(Some(reactor_thread)),
            dispatcher: Mutex::new(None),
        };

        // From here on, a failure stops what already runs (Drop of `runtime` via shutdown).
        let (done_tx, done_rx) = bounded::<()>(1);
        let dispatcher = dispatcher::spawn(
            thread_name("dispatcher"),
            setup.callbacks,
            dispatch_rx,
            events,
            setup.config.dispatcher_queue,
            counters.clone(),
            done_tx,
        )
        .map_err(StartError::Spawn)?;
        *runtime.dispatcher.lock() = Some((dispatcher, done_rx));

        let Components {
            membership,
            suspicion,
            dissemination,
            aggregation,
            state,
        } = Components::new(
            NodeSetup {
                config: setup.config,
                name: setup.name,
                addr: local_addr,
                metadata: setup.metadata,
                seed: setup.seed,
                generation: clock::generation(),
                now: clock.now(),
                seal: setup.seal.clone(),
            },
            &counters,
        );
        let estimates = runtime.estimates.clone();
        let publish_estimates = move |a: &mut Aggregation| {
            if let Some(list) = a.take_snapshot() {
                *estimates.write() = Arc::from(list);
            }
        };
        let snapshot = runtime.snapshot.clone();
        let publish = move |m: &mut Membership| {
            if let Some(members) = m.take_snapshot() {
                *snapshot.write() = Snapshot::new(members);
            }
        };
        supervisor.attach(router.clone());
        let spawned = [
            actor::spawn(
                placement("membership"),
                membership,
                membership_rx,
                router.clone(),
                clock,
                publish,
            ),
            actor::spawn(
                placement("suspicion"),
                suspicion,
                suspicion_rx,
                router.clone(),
                clock,
                |_| {},
            ),
            actor::spawn(
                placement("dissemination"),
                dissemination,
                dissemination_rx,
                router.clone(),
                clock,
                |_| {},
            ),
        ];
        let aggregation = actor::spawn(
            placement("aggregation"),
            aggregation,
            aggregation_rx,
            router.clone(),
            clock,
            publish_estimates,
        );
        let state = actor::spawn(placement("state"), state, state_rx, router, clock, |_| {});
        for handle in spawned.into_iter().chain([aggregation, state]) {
            let handle = handle.map_err(StartError::Spawn)?;
            runtime.actors.lock().push(handle);
        }
        Ok(runtime)
    }

    /// Whether the node began to stop (by its owner, or on a failure).
    pub(crate) fn is_stopped(&self) -> bool {
        self.supervisor.is_stopping()
    }

    /// Running, stopped, or failed and why.
    pub(crate) fn health(&self) -> Health {
        self.supervisor.health()
    }

    /// Stops every thread and joins it. Idempotent, and also what joins the threads of a
    /// node that stopped on its own (they have ended or are ending).
    ///
    /// Actors stop first, then the reactor (so datagrams they queued, such as a `left`,
    /// are still sent), then the dispatcher. A dispatcher stuck in a user callback is
    /// given [`DISPATCHER_GRACE`], then detached (it exits when the callback returns).
    pub(crate) fn shutdown(&self) {
        self.supervisor.begin_stop();
        self.router.inboxes.stop_all();
        for handle in self.actors.lock().drain(..) {
            // An actor's panic is caught (and reported) by the supervisor: joins succeed.
            let _ = handle.join();
        }
        if let Some(handle) = self.reactor.lock().take() {
            while !self.router.reactor.send(NetCommand::Stop) && !handle.is_finished() {
                std::thread::yield_now();
            }
            let _ = handle.join();
        }
        self.router.replies.clear();
        if let Some((handle, done)) = self.dispatcher.lock().take() {
            let _ = offer(&self.router.dispatcher, DispatchMsg::Stop);
            match done.recv_timeout(DISPATCHER_GRACE) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    log::warn!(
                        "a callback of {} is blocked; detaching its thread",
                        self.name
                    );
                }
                _ => {
                    let _ = handle.join();
                }
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
