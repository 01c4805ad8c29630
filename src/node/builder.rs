//! [`NodeBuilder`]: a node's settings and callbacks, then [`NodeBuilder::start`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use super::{Node, NodeHandle};
use crate::aggregate::{AggregateName, Estimate};
use crate::config::Config;
use crate::error::{MetadataError, StartError};
use crate::event::Event;
use crate::health::Failure;
use crate::member::{MAX_METADATA_LEN, Member, NodeName};
use crate::runtime::{Callbacks, Runtime, Setup};
use crate::seal::{EncryptionError, EncryptionMode, Keyring, SealControl};

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
    pub(super) name: String,
    pub(super) bind: String,
    pub(super) advertise: Option<SocketAddr>,
    pub(super) config: Config,
    pub(super) metadata: Vec<u8>,
    pub(super) seed: Option<u64>,
    pub(super) callbacks: Callbacks,
    pub(super) keyring: Option<Keyring>,
    pub(super) encryption: Option<EncryptionMode>,
    /// The handle of the node this builder will start (see [`NodeBuilder::handle`]).
    pub(super) handle: NodeHandle,
}

impl NodeBuilder {
    /// A handle to the node this builder will start, for callbacks to capture: a callback
    /// can answer a message, write state or read members through it. Before
    /// [`start`](NodeBuilder::start) returns (and if it fails), its calls fail as on a
    /// stopped node.
    ///
    /// ```no_run
    /// let builder = epidemic::Node::builder("echo").bind("127.0.0.1:0");
    /// let me = builder.handle();
    /// let node = builder
    ///     .on_message(move |from, bytes| {
    ///         let _ = me.broadcast(format!("{from} said {} bytes", bytes.len()));
    ///     })
    ///     .start()?;
    /// # Ok::<(), epidemic::StartError>(())
    /// ```
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

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

    /// Called once if the node stops on its own: a thread panicked, or the reactor met a
    /// socket error it cannot go on from (see [`Health`](crate::Health)). By then every
    /// call on the node fails as on a stopped node; a typical callback logs the failure
    /// and tells the application to restart the node.
    pub fn on_failure(mut self, f: impl FnMut(&Failure) + Send + 'static) -> NodeBuilder {
        self.callbacks.on_failure.push(Box::new(f));
        self
    }

    /// Seals and opens with `keyring`: every datagram and frame is encrypted and
    /// authenticated, and plaintext is refused (mode [`EncryptionMode::Required`] unless
    /// [`encryption_mode`](NodeBuilder::encryption_mode) says otherwise). Every node of
    /// the cluster needs the key.
    ///
    /// ```no_run
    /// let key = epidemic::Key::from_file("/etc/epidemic/cluster.key")?;
    /// let node = epidemic::Node::builder("alice")
    ///     .keyring(epidemic::Keyring::new(key))
    ///     .start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyring(mut self, keyring: Keyring) -> NodeBuilder {
        self.keyring = Some(keyring);
        self
    }

    /// What the node does with sealed and plaintext packets (see [`EncryptionMode`]; the
    /// default is `Required` with a keyring, `Off` without). Any mode but `Off` needs a
    /// keyring.
    pub fn encryption_mode(mut self, mode: EncryptionMode) -> NodeBuilder {
        self.encryption = Some(mode);
        self
    }

    /// Validates the settings, binds the sockets and spawns the node's threads.
    pub fn start(self) -> Result<Node, StartError> {
        self.config.validate().map_err(StartError::Config)?;
        let mode = self.encryption.unwrap_or(match self.keyring {
            Some(_) => EncryptionMode::Required,
            None => EncryptionMode::Off,
        });
        if mode != EncryptionMode::Off && self.keyring.is_none() {
            return Err(StartError::Encryption(EncryptionError::NoKeyring));
        }
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
        let runtime = Runtime::start(Setup {
            name,
            bind,
            advertise: self.advertise,
            config: self.config,
            metadata: Arc::from(self.metadata),
            seed,
            callbacks: self.callbacks,
            seal: Arc::new(SealControl::new(self.keyring, mode)),
        })?;
        Ok(Node::new(Arc::new(runtime), self.handle))
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
