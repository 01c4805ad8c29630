//! Shared helpers for the loopback tests (`tests/node_*.rs`): nodes that record what they
//! observe, clusters started through one seed, bounded condition waits, observation windows
//! for "never" properties, and state dumps for failure messages.
//!
//! Nothing here sleeps: every wait polls a condition, paced by `crossbeam_channel::after`,
//! and gives up with a panic describing what did not happen once a generous deadline passes.

#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, after, select, unbounded};
use epidemic::{Config, Event, Member, MemberState, Node, NodeBuilder, NodeName};
use parking_lot::Mutex;

/// Deadline of every condition wait: generous, so a loaded machine does not fail a test;
/// a healthy run meets the condition long before.
pub(crate) const WAIT: Duration = Duration::from_secs(25);
/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` until it holds; panics after `timeout` with `what()` (called only then, so
/// it can dump node states).
pub(crate) fn wait_until(
    timeout: Duration,
    what: impl FnOnce() -> String,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = after(timeout);
    loop {
        if cond() {
            return;
        }
        if deadline.try_recv().is_ok() {
            // The deadline passed while we were checking: one last look, then give up.
            if cond() {
                return;
            }
            panic!("timed out after {timeout:?} waiting until {}", what());
        }
        let _ = after(POLL).recv();
    }
}

/// Waits out a bounded observation window (for "never" properties), checking everything
/// the nodes report on `tap` as it arrives; panics on the first report `violation` flags.
pub(crate) fn observe_for(
    window: Duration,
    tap: &Receiver<Seen>,
    mut violation: impl FnMut(&Seen) -> Option<String>,
) {
    let deadline = after(window);
    loop {
        select! {
            recv(tap) -> seen => match seen {
                Ok(seen) => {
                    if let Some(why) = violation(&seen) {
                        panic!("during the {window:?} observation window: {why}");
                    }
                }
                // Every sender is gone: nothing more can arrive; just let the window pass.
                Err(_) => {
                    let _ = deadline.recv();
                    return;
                }
            },
            recv(deadline) -> _ => return,
        }
    }
}

/// Something one node reported, as sent to a test's tap.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// The name of the node that reported it.
    pub(crate) observer: String,
    /// What it reported.
    pub(crate) what: Observed,
}

/// A membership event or a delivered broadcast.
#[derive(Clone, Debug)]
pub(crate) enum Observed {
    /// From `on_event`.
    Event(Event),
    /// From `on_message`: origin and payload.
    Message(NodeName, Vec<u8>),
}

/// A delivered broadcast: origin and payload.
pub(crate) type Delivery = (NodeName, Vec<u8>);

/// What one node reported through its callbacks, in order.
#[derive(Clone, Default)]
pub(crate) struct Logs {
    /// Every event (`on_event`).
    pub(crate) events: Arc<Mutex<Vec<Event>>>,
    /// Every delivered broadcast (`on_message`): origin and payload.
    pub(crate) messages: Arc<Mutex<Vec<Delivery>>>,
}

impl Logs {
    /// How many events of `kind` (`join`, `fail`, ...) about `name` were reported.
    pub(crate) fn count(&self, kind: &str, name: &str) -> usize {
        self.events
            .lock()
            .iter()
            .filter(|e| e.kind() == kind && e.member().name() == name)
            .count()
    }

    /// Whether an event of `kind` about `name` was reported.
    pub(crate) fn saw(&self, kind: &str, name: &str) -> bool {
        self.count(kind, name) > 0
    }

    /// How many times the broadcast `payload` from `origin` was delivered.
    pub(crate) fn deliveries(&self, origin: &str, payload: &[u8]) -> usize {
        self.messages
            .lock()
            .iter()
            .filter(|(o, p)| o.as_str() == origin && p == payload)
            .count()
    }

    /// The events reported so far, one per line.
    pub(crate) fn dump_events(&self) -> String {
        let events = self.events.lock();
        events
            .iter()
            .map(|e| format!("{e}#{}", e.member().incarnation))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Adds recording callbacks (`on_event`, `on_message`) to `builder`: into fresh [`Logs`]
/// and onto `tap`.
pub(crate) fn instrument(
    builder: NodeBuilder,
    name: &str,
    tap: &Sender<Seen>,
) -> (NodeBuilder, Logs) {
    let logs = Logs::default();
    let (events, event_tap, observer) = (logs.events.clone(), tap.clone(), name.to_string());
    let (messages, message_tap, receiver) = (logs.messages.clone(), tap.clone(), name.to_string());
    let builder = builder
        .on_event(move |event| {
            events.lock().push(event.clone());
            let _ = event_tap.send(Seen {
                observer: observer.clone(),
                what: Observed::Event(event.clone()),
            });
        })
        .on_message(move |origin, payload| {
            messages.lock().push((origin.clone(), payload.to_vec()));
            let _ = message_tap.send(Seen {
                observer: receiver.clone(),
                what: Observed::Message(origin.clone(), payload.to_vec()),
            });
        });
    (builder, logs)
}

/// A builder for `name` on an ephemeral loopback port, seeded, with `config`.
pub(crate) fn builder(name: &str, seed: u64, config: &Config) -> NodeBuilder {
    Node::builder(name)
        .bind("127.0.0.1:0")
        .config(config.clone())
        .seed(seed)
}

/// A started node and what it reported.
pub(crate) struct TestNode {
    /// The node.
    pub(crate) node: Node,
    /// Its callbacks' records.
    pub(crate) logs: Logs,
}

impl std::ops::Deref for TestNode {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}

/// `Config::local()` for a cluster named `cluster`.
///
/// Every test uses its own cluster name: tests of one file run in parallel in one process,
/// and a port freed by a stopped node may be handed to a node of another test, which would
/// otherwise receive (and accept) the first test's gossip aimed at the stopped node.
pub(crate) fn local_config(cluster: &str) -> Config {
    let mut config = Config::local();
    config.cluster = cluster.to_string();
    config
}

/// A set of nodes of one cluster, all reporting to one tap.
pub(crate) struct Cluster {
    /// The nodes, in start order (stopped ones included).
    pub(crate) nodes: Vec<TestNode>,
    /// The settings every node runs with.
    pub(crate) config: Config,
    /// Every node's reports, as they happen.
    pub(crate) tap: Receiver<Seen>,
    tap_tx: Sender<Seen>,
}

impl Cluster {
    /// Starts `n` nodes named `<prefix>-<i>` (seeded `seed_base + i`) in cluster `cluster`,
    /// joins every one to the first, and waits until every node sees all `n` alive.
    pub(crate) fn start(cluster: &str, prefix: &str, n: usize, seed_base: u64) -> Cluster {
        Cluster::start_with(cluster, prefix, n, seed_base, |_, b| b)
    }

    /// Like [`Cluster::start`], letting `customize` add settings or callbacks to node `i`.
    pub(crate) fn start_with(
        cluster: &str,
        prefix: &str,
        n: usize,
        seed_base: u64,
        mut customize: impl FnMut(usize, NodeBuilder) -> NodeBuilder,
    ) -> Cluster {
        let (tap_tx, tap) = unbounded();
        let mut cluster = Cluster {
            nodes: Vec::new(),
            config: local_config(cluster),
            tap,
            tap_tx,
        };
        for i in 0..n {
            let name = format!("{prefix}-{i}");
            let b = customize(i, builder(&name, seed_base + i as u64, &cluster.config));
            cluster.start_node(&name, b);
        }
        let seed = cluster.nodes[0].local_addr();
        for node in &cluster.nodes[1..] {
            let joined = node.join(&[seed]);
            assert!(
                matches!(joined, Ok(n) if n >= 1),
                "{} could not join through {seed}: {joined:?}",
                node.name()
            );
        }
        let all: Vec<usize> = (0..n).collect();
        cluster.wait_all_alive(&all, n);
        cluster
    }

    /// Starts a node from `builder` (recorded onto the tap) without joining anyone; returns
    /// its index.
    pub(crate) fn start_node(&mut self, name: &str, builder: NodeBuilder) -> usize {
        let (builder, logs) = instrument(builder, name, &self.tap_tx);
        let node = builder
            .start()
            .unwrap_or_else(|e| panic!("node {name} did not start: {e}"));
        self.nodes.push(TestNode { node, logs });
        self.nodes.len() - 1
    }

    /// Starts `name` (seeded `seed`) with the cluster's settings and joins it through node
    /// `via`; returns its index.
    pub(crate) fn add(&mut self, name: &str, seed: u64, via: usize) -> usize {
        let b = builder(name, seed, &self.config);
        let i = self.start_node(name, b);
        let seed_addr = self.nodes[via].local_addr();
        let joined = self.nodes[i].join(&[seed_addr]);
        assert!(
            matches!(joined, Ok(n) if n >= 1),
            "{name} could not join through {seed_addr}: {joined:?}"
        );
        i
    }

    /// The node at `i`.
    pub(crate) fn node(&self, i: usize) -> &TestNode {
        &self.nodes[i]
    }

    /// The name of node `i`.
    pub(crate) fn name(&self, i: usize) -> String {
        self.nodes[i].name().to_string()
    }

    /// Waits until each node in `among` has exactly `n` alive members (itself included).
    pub(crate) fn wait_all_alive(&self, among: &[usize], n: usize) {
        wait_until(
            WAIT,
            || {
                format!(
                    "every node sees {n} alive members:\n{}",
                    self.describe(among)
                )
            },
            || {
                among
                    .iter()
                    .all(|&i| self.nodes[i].alive_members().len() == n)
            },
        );
    }

    /// Waits until every node in `among` holds `name` in `state`.
    pub(crate) fn wait_state(&self, among: &[usize], name: &str, state: MemberState) {
        wait_until(
            WAIT,
            || format!("every node sees {name} {state}:\n{}", self.describe(among)),
            || {
                among
                    .iter()
                    .all(|&i| self.nodes[i].member(name).is_some_and(|m| m.state == state))
            },
        );
    }

    /// Waits until every node in `among` reported an event of `kind` about `name`.
    pub(crate) fn wait_event(&self, among: &[usize], kind: &str, name: &str) {
        wait_until(
            WAIT,
            || {
                format!(
                    "every node reports `{kind} {name}`:\n{}",
                    self.describe_events(among)
                )
            },
            || among.iter().all(|&i| self.nodes[i].logs.saw(kind, name)),
        );
    }

    /// Indices `0..len` except `skip`.
    pub(crate) fn others(&self, skip: &[usize]) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| !skip.contains(i))
            .collect()
    }

    /// Each node's member table, one node per line.
    pub(crate) fn describe(&self, among: &[usize]) -> String {
        describe(among.iter().map(|&i| &self.nodes[i].node))
    }

    /// Each node's event log, one node per line.
    pub(crate) fn describe_events(&self, among: &[usize]) -> String {
        let mut out = String::new();
        for &i in among {
            let n = &self.nodes[i];
            let _ = writeln!(out, "  {}: [{}]", n.name(), n.logs.dump_events());
        }
        out
    }
}

/// A node's member table in one line: `name: [m1 alive#0 @addr, ...]`.
pub(crate) fn describe_node(node: &Node) -> String {
    let members: Vec<String> = node.members().iter().map(describe_member).collect();
    format!(
        "{} @{}: [{}]",
        node.name(),
        node.local_addr(),
        members.join(", ")
    )
}

/// Several nodes' member tables, one per line.
pub(crate) fn describe<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> String {
    let mut out = String::new();
    for node in nodes {
        let _ = writeln!(out, "  {}", describe_node(node));
    }
    out
}

/// `name state#incarnation @addr`.
pub(crate) fn describe_member(m: &Member) -> String {
    format!("{} {}#{} @{}", m.name, m.state, m.incarnation, m.addr)
}

/// Sends one datagram to `to` from a fresh loopback socket.
pub(crate) fn send_datagram(to: SocketAddr, bytes: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = socket.send_to(bytes, to).unwrap();
    assert_eq!(sent, bytes.len(), "short send of a test datagram");
}

/// A valid node name.
pub(crate) fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

/// The node hung up on `stream` without answering (after the bad input `what`).
pub(crate) fn assert_closed_by_node(mut stream: std::net::TcpStream, what: &str) {
    use std::io::{ErrorKind, Read};
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        Ok(n) => panic!("the node answered {what} with {n} bytes"),
        Err(e) => panic!("the node did not close the connection after {what}: {e}"),
    }
}
