//! [`Node`]: the one handle an application holds, and its [`NodeBuilder`].

mod state;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::aggregate::{AggregateName, Estimate};
use crate::config::Config;
use crate::error::{
    AggregateError, BroadcastError, JoinError, LeaveError, MetadataError, StartError,
};
use crate::event::Event;
use crate::member::{MAX_METADATA_LEN, Member, NodeName};
use crate::protocol::{
    AggregationInput, ComponentInput, DisseminationInput, MembershipInput, Reply, check_value,
};
use crate::runtime::{Callbacks, Runtime};
use crate::stats::Stats;

/// How long `broadcast`, `publish` and the state's reads and writes wait for their actor
/// to answer; it answers in microseconds unless the node is shutting down.
const ACTOR_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Configures and starts a [`Node`].
///
/// ```no_run
/// let node = epidemic::Node::builder("alice")
///     .bind("127.0.0.1:0")
///     .config(epidemic::Config::local())
///     .on_join(|m| println!("{} joined", m.name()))
///     .start()?;
/// println!("listening on {}", node.local_addr());
/// # Ok::<(), epidemic::StartError>(())
/// ```
#[must_use = "a builder does nothing until start() is called"]
pub struct NodeBuilder {
    name: String,
    bind: String,
    advertise: Option<SocketAddr>,
    config: Config,
    metadata: Vec<u8>,
    seed: Option<u64>,
    callbacks: Callbacks,
}

impl NodeBuilder {
    /// Address to bind UDP and TCP on (the same port for both); port 0 picks a free one.
    /// Default `127.0.0.1:7946`.
    pub fn bind(mut self, addr: impl Into<String>) -> NodeBuilder {
        self.bind = addr.into();
        self
    }

    /// Address other members should use to reach this node, when it differs from the bound
    /// one (required when binding to an unspecified address such as `0.0.0.0`).
    pub fn advertise(mut self, addr: SocketAddr) -> NodeBuilder {
        self.advertise = Some(addr);
        self
    }

    /// Protocol settings (default [`Config::lan`]).
    pub fn config(mut self, config: Config) -> NodeBuilder {
        self.config = config;
        self
    }

    /// Initial metadata (at most [`MAX_METADATA_LEN`] bytes), spread with this node's
    /// `alive`.
    pub fn metadata(mut self, metadata: impl Into<Vec<u8>>) -> NodeBuilder {
        self.metadata = metadata.into();
        self
    }

    /// Seeds the protocol's random choices, for reproducible runs; by default the seed
    /// comes from the OS.
    pub fn seed(mut self, seed: u64) -> NodeBuilder {
        self.seed = Some(seed);
        self
    }

    /// Called when a member joins (or rejoins).
    pub fn on_join(mut self, f: impl FnMut(&Member) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_join.push(Box::new(f));
        self
    }

    /// Called when a member leaves gracefully.
    pub fn on_leave(mut self, f: impl FnMut(&Member) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_leave.push(Box::new(f));
        self
    }

    /// Called when a member is declared failed.
    pub fn on_fail(mut self, f: impl FnMut(&Member) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_fail.push(Box::new(f));
        self
    }

    /// Called when a member becomes suspect.
    pub fn on_suspect(mut self, f: impl FnMut(&Member) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_suspect.push(Box::new(f));
        self
    }

    /// Called when a member's metadata, address or incarnation changes, or it refutes a
    /// suspicion.
    pub fn on_update(mut self, f: impl FnMut(&Member) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_update.push(Box::new(f));
        self
    }

    /// Called for every event, conflicts included.
    pub fn on_event(mut self, f: impl FnMut(&Event) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_event.push(Box::new(f));
        self
    }

    /// Called once for each broadcast from another node: its origin and payload.
    pub fn on_message(mut self, f: impl FnMut(&NodeName, &[u8]) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_message.push(Box::new(f));
        self
    }

    /// Called when an aggregate's estimate settles in an epoch (see
    /// [`Estimate::converged`]), or when an epoch ends before it did.
    pub fn on_estimate(
        mut self,
        f: impl FnMut(&AggregateName, &Estimate) + Send + 'static,
    ) -> NodeBuilder {
        self.callbacks.on_estimate.push(Box::new(f));
        self
    }

    /// Validates the settings, binds the sockets and spawns the node's threads.
    pub fn start(self) -> Result<Node, StartError> {
        self.config.validate().map_err(StartError::Config)?;
        let name = NodeName::new(&self.name).map_err(StartError::Name)?;
        if self.metadata.len() > MAX_METADATA_LEN {
            let too_large = MetadataError::TooLarge(self.metadata.len());
            return Err(StartError::Metadata(too_large));
        }
        let bind = resolve_one(&self.bind)?;
        if bind.ip().is_unspecified() && self.advertise.is_none() {
            return Err(StartError::UnspecifiedWithoutAdvertise(bind));
        }
        let seed = self.seed.unwrap_or_else(os_seed);
        let runtime = Runtime::start(crate::runtime::Setup {
            name,
            bind,
            advertise: self.advertise,
            config: self.config.clone(),
            metadata: Arc::from(self.metadata),
            seed,
            callbacks: self.callbacks,
        })?;
        Ok(Node {
            config: self.config,
            runtime,
        })
    }
}

/// A running member of a gossip cluster.
///
/// Dropping it stops it silently (as a crash looks to others) and joins its threads; call
/// [`Node::leave`] first to leave gracefully.
pub struct Node {
    config: Config,
    runtime: Runtime,
}

impl Node {
    /// Starts configuring a node named `name` (UTF-8, 1–64 bytes, unique in the cluster).
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            bind: "127.0.0.1:7946".into(),
            advertise: None,
            config: Config::lan(),
            metadata: Vec::new(),
            seed: None,
            callbacks: Callbacks::default(),
        }
    }

    /// This node's name.
    pub fn name(&self) -> &NodeName {
        &self.runtime.name
    }

    /// The address other members reach this node at (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.runtime.local_addr
    }

    /// The settings this node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A snapshot of every member this node knows, itself included, in name order.
    pub fn members(&self) -> Vec<Member> {
        self.runtime.snapshot.read().to_vec()
    }

    /// Members currently alive (this node included).
    pub fn alive_members(&self) -> Vec<Member> {
        self.runtime
            .snapshot
            .read()
            .iter()
            .filter(|m| m.state == crate::MemberState::Alive)
            .cloned()
            .collect()
    }

    /// The member named `name`, if known.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.runtime
            .snapshot
            .read()
            .iter()
            .find(|m| m.name() == name)
            .cloned()
    }

    /// A channel of membership events. It holds the most recent
    /// `Config::dispatcher_queue` events; older unread ones are discarded. Every call
    /// returns a handle to the same channel.
    pub fn events(&self) -> Receiver<Event> {
        self.runtime.events.clone()
    }

    /// Counters since the node started.
    pub fn stats(&self) -> Stats {
        self.runtime.counters.snapshot()
    }

    /// Joins a cluster through `seeds`: a full-state exchange over TCP with each, in
    /// parallel. Returns once one seed answered (the number of seeds that answered so
    /// far, at least 1), or an error saying why each seed failed.
    pub fn join<A: ToSocketAddrs>(&self, seeds: &[A]) -> Result<usize, JoinError> {
        let mut addrs = Vec::new();
        let mut failures = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            match seed.to_socket_addrs() {
                Ok(resolved) => addrs.extend(resolved),
                Err(e) => failures.push((i, e.kind())),
            }
        }
        if addrs.is_empty() {
            return Err(if failures.is_empty() {
                JoinError::NoSeeds
            } else {
                JoinError::Unresolved(failures)
            });
        }
        let (request, reply) = self.runtime.router.replies.register();
        let join = MembershipInput::Join {
            request,
            seeds: addrs,
        };
        if !self.runtime.send(ComponentInput::Membership(join)) {
            self.runtime.router.replies.cancel(request);
            return Err(JoinError::Stopped);
        }
        let wait = self.config.tcp_timeout + Duration::from_secs(1);
        match reply.recv_timeout(wait) {
            Ok(Reply::Joined(result)) => result,
            Ok(_) => Err(JoinError::Stopped),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                self.runtime.router.replies.cancel(request);
                Err(JoinError::Timeout)
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(JoinError::Stopped),
        }
    }

    /// Spreads `payload` to every other member (each delivers it once to `on_message`),
    /// piggybacked on gossip. Best effort; refused with the payload back when larger
    /// than `Config::max_broadcast_bytes` or when the outbound queue is full.
    pub fn broadcast(&self, payload: impl Into<Vec<u8>>) -> Result<(), BroadcastError> {
        let payload = payload.into();
        let max = self.config.max_broadcast_bytes;
        if payload.len() > max {
            return Err(BroadcastError::TooLarge { payload, max });
        }
        let (request, reply) = self.runtime.router.replies.register();
        let copy = payload.clone();
        let input = DisseminationInput::Broadcast { request, payload };
        if !self.runtime.send(ComponentInput::Dissemination(input)) {
            self.runtime.router.replies.cancel(request);
            return Err(if self.runtime.is_stopped() {
                BroadcastError::Stopped(copy)
            } else {
                BroadcastError::QueueFull(copy)
            });
        }
        match reply.recv_timeout(ACTOR_REPLY_TIMEOUT) {
            Ok(Reply::Broadcast(result)) => result,
            _ => {
                self.runtime.router.replies.cancel(request);
                Err(BroadcastError::Stopped(copy))
            }
        }
    }

    /// Replaces this node's metadata (at most [`MAX_METADATA_LEN`] bytes) and spreads it
    /// as an `alive` at a new incarnation.
    pub fn set_metadata(&self, metadata: impl Into<Vec<u8>>) -> Result<(), MetadataError> {
        let metadata = metadata.into();
        if metadata.len() > MAX_METADATA_LEN {
            return Err(MetadataError::TooLarge(metadata.len()));
        }
        if self
            .runtime
            .send(ComponentInput::Membership(MembershipInput::SetMetadata(
                Arc::from(metadata),
            )))
        {
            Ok(())
        } else {
            Err(MetadataError::Stopped)
        }
    }

    /// Publishes (or changes) this node's value for the aggregate `name`: from then on
    /// every node estimates how many nodes publish `name`, their sum, average, minimum and
    /// maximum (push-sum gossip, restarted every epoch). A value takes effect within the
    /// current epoch's first rounds, else from the next epoch.
    ///
    /// ```no_run
    /// # let node = epidemic::Node::builder("a").start()?;
    /// node.publish("load", 0.42)?;
    /// if let Some(e) = node.estimate("load") {
    ///     println!("{} nodes, average load {:.3}", e.nodes(), e.avg);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(&self, name: &str, value: f64) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        check_value(value)?;
        let (request, reply) = self.runtime.router.replies.register();
        let input = AggregationInput::Publish {
            request,
            name,
            value,
        };
        if !self.runtime.send(ComponentInput::Aggregation(input)) {
            self.runtime.router.replies.cancel(request);
            return Err(AggregateError::Stopped);
        }
        match reply.recv_timeout(ACTOR_REPLY_TIMEOUT) {
            Ok(Reply::Published(result)) => result,
            _ => {
                self.runtime.router.replies.cancel(request);
                Err(AggregateError::Stopped)
            }
        }
    }

    /// Stops publishing `name`. Mass already spread stays in the current epoch; estimates
    /// leave this node out from the next one.
    pub fn unpublish(&self, name: &str) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        if self
            .runtime
            .send(ComponentInput::Aggregation(AggregationInput::Unpublish {
                name,
            }))
        {
            Ok(())
        } else {
            Err(AggregateError::Stopped)
        }
    }

    /// This node's estimate for the aggregate `name`: the current epoch's once it settled,
    /// else the newest settled one of an earlier epoch, else the current unsettled one.
    /// `None` until some publisher's mass reached this node.
    pub fn estimate(&self, name: &str) -> Option<Estimate> {
        self.runtime
            .estimates
            .read()
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, e)| *e)
    }

    /// Every aggregate this node has an estimate for, in name order.
    pub fn estimates(&self) -> Vec<(AggregateName, Estimate)> {
        self.runtime.estimates.read().to_vec()
    }

    /// Leaves gracefully: gossips `left`, waits (at most `timeout`) until it has been sent
    /// to a few members, then stops. Others report a leave, never a failure.
    pub fn leave(&self, timeout: Duration) -> Result<(), LeaveError> {
        if self.runtime.is_stopped() {
            return Err(LeaveError::Stopped);
        }
        let (request, reply) = self.runtime.router.replies.register();
        let sent = self
            .runtime
            .send(ComponentInput::Membership(MembershipInput::Leave {
                request,
            }))
            && matches!(reply.recv_timeout(timeout), Ok(Reply::LeaveSent));
        self.runtime.router.replies.cancel(request);
        self.runtime.shutdown();
        if sent {
            Ok(())
        } else {
            Err(LeaveError::Timeout)
        }
    }

    /// Stops silently, as a crash looks to others, and joins every thread.
    pub fn stop(&self) {
        self.runtime.shutdown();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.runtime.shutdown();
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.runtime.name)
            .field("addr", &self.runtime.local_addr)
            .finish_non_exhaustive()
    }
}

fn resolve_one(addr: &str) -> Result<SocketAddr, StartError> {
    let resolve = |kind| StartError::Resolve {
        addr: addr.to_string(),
        kind,
    };
    addr.to_socket_addrs()
        .map_err(|e| resolve(e.kind()))?
        .next()
        .ok_or_else(|| StartError::NoAddress(addr.to_string()))
}

/// A seed from the OS for nodes that were not given one.
#[allow(clippy::disallowed_methods)]
fn os_seed() -> u64 {
    rand::random()
}
