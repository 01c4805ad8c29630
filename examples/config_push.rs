//! Configuration pushed through the replicated key-value state.
//!
//! ```text
//! cargo run --release --example config_push
//! ```
//!
//! No arguments; it exits by itself in well under a minute. Five nodes run in this
//! process on loopback with [`Config::local`]: nodes 0–2 on 127.0.0.4, nodes 3–4 on
//! 127.0.0.5 (two addresses, so the network between them can be cut). Three phases:
//!
//! 1. node 0 sets `log_level=debug`; every other node prints when its `on_state_change`
//!    callback sees it, and how long after the write that was;
//! 2. node 4 stops silently; node 0 sets `log_level=info`; the three remaining nodes see it;
//! 3. the two addresses are cut apart with nftables (a table named after this process,
//!    deleted when the phase ends, on Ctrl-C too); once each side has declared the other
//!    failed, node 0 sets `log_level=warn`: its side sees it, node 3 does not, until the
//!    cut is healed. This phase needs root and `nft`; without them it prints that it is
//!    skipped.
//!
//! It ends with one summary line. Every wait is bounded (20 s); a step that does not
//! complete prints what was missing and the example exits with status 1.
//!
//! Every datagram and frame is sealed: with the key in `--key-file PATH` (64 hex digits
//! or base64, as `chat --gen-key` prints), else with a key generated for the run.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use crossbeam_channel::{Receiver, Sender, after, unbounded};
use epidemic::{Config, Key, Keyring, MemberState, Node};

/// Configuration pushed through the replicated key-value state of five nodes on loopback.
#[derive(Parser, Debug)]
struct Args {
    /// Seal with the key in this file (hex or base64); without it, a key generated for
    /// the run.
    #[arg(long, value_name = "PATH")]
    key_file: Option<String>,
}

/// Bound on every wait.
const WAIT: Duration = Duration::from_secs(20);
/// The loopback address of each side of the phase-3 partition.
const SIDE_A: &str = "127.0.0.4";
const SIDE_B: &str = "127.0.0.5";
const NODES: usize = 5;
const KEY: &str = "log_level";

/// One `on_state_change` call: which node saw which value of node 0's key, and when.
struct Seen {
    node: usize,
    value: Option<String>,
    at: Instant,
}

fn main() {
    env_logger::init();
    if let Err(why) = run() {
        eprintln!("config_push: {why}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse();
    let (key, origin) = match &args.key_file {
        Some(path) => (
            Key::from_file(path).map_err(|e| format!("cannot use --key-file {path}: {e}"))?,
            path.as_str(),
        ),
        None => (
            Key::generate().map_err(|e| format!("cannot generate a key: {e}"))?,
            "generated for this run",
        ),
    };
    let (tx, seen) = unbounded();
    let nodes = start_cluster(&tx, &key)?;
    println!(
        "{NODES} nodes up: 0-2 on {SIDE_A}, 3-4 on {SIDE_B}; sealed with key {} ({origin})",
        key.id()
    );

    println!("\nphase 1: node 0 sets {KEY}=debug");
    let slowest1 = push(&nodes, &seen, "debug", &[1, 2, 3, 4])?;

    println!("\nphase 2: node 4 stops; node 0 sets {KEY}=info");
    nodes[4].stop();
    let slowest2 = push(&nodes, &seen, "info", &[1, 2, 3])?;

    println!("\nphase 3: partition {SIDE_A} | {SIDE_B}, then heal");
    let partition = match Partition::cut(SIDE_A, SIDE_B) {
        Some(partition) => Some(partition_phase(&nodes, &seen, partition)?),
        None => {
            println!("  skipped: needs root + nft (nftables) to cut the loopback addresses");
            None
        }
    };

    let phase3 = partition.map_or_else(
        || "partition skipped".to_string(),
        |healed| {
            format!(
                "partition: seen across {} ms after the heal",
                healed.as_millis()
            )
        },
    );
    println!(
        "\nsummary: 3 changes, sealed; slowest propagation {} ms (5 nodes), {} ms (4 nodes); {phase3}",
        slowest1.as_millis(),
        slowest2.as_millis()
    );
    Ok(())
}

/// Starts the nodes, sealing with `key`, each reporting node 0's state key on `tx`, and
/// joins them through node 0.
fn start_cluster(tx: &Sender<Seen>, key: &Key) -> Result<Vec<Node>, String> {
    let mut config = Config::local();
    config.cluster = format!("config-push-{}", std::process::id());
    let mut nodes = Vec::new();
    for i in 0..NODES {
        let side = if i < 3 { SIDE_A } else { SIDE_B };
        let tx = tx.clone();
        let node = Node::builder(format!("node-{i}"))
            .bind(format!("{side}:0"))
            .config(config.clone())
            .keyring(Keyring::new(key.clone()))
            .on_state_change(move |owner, key, value| {
                if owner.as_str() == "node-0" && key == KEY {
                    let value = value.map(|v| String::from_utf8_lossy(v).into_owned());
                    let at = now();
                    let _ = tx.send(Seen { node: i, value, at });
                }
            })
            .start()
            .map_err(|e| format!("node-{i} did not start: {e}"))?;
        nodes.push(node);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join(&[seed])
            .map_err(|e| format!("{} could not join: {e}", node.name()))?;
    }
    wait_for("every node to see 5 alive members", || {
        nodes.iter().all(|n| n.alive_members().len() == NODES)
    })?;
    Ok(nodes)
}

/// Node 0 sets the key to `value`; waits until every node in `expect` reported it,
/// printing each as it comes. Returns the slowest propagation time.
fn push(
    nodes: &[Node],
    seen: &Receiver<Seen>,
    value: &str,
    expect: &[usize],
) -> Result<Duration, String> {
    let start = now();
    nodes[0]
        .set(KEY, value)
        .map_err(|e| format!("set {KEY}={value}: {e}"))?;
    await_value(seen, value, expect, start)
}

/// Waits until every node in `expect` reported `value`, printing each; returns the
/// slowest time since `start`.
fn await_value(
    seen: &Receiver<Seen>,
    value: &str,
    expect: &[usize],
    start: Instant,
) -> Result<Duration, String> {
    let mut missing: Vec<usize> = expect.to_vec();
    let mut slowest = Duration::ZERO;
    let deadline = after(WAIT);
    while !missing.is_empty() {
        crossbeam_channel::select! {
            recv(seen) -> s => {
                let Ok(s) = s else { return Err("callbacks stopped".into()) };
                if s.value.as_deref() == Some(value) && missing.contains(&s.node) {
                    let took = s.at.saturating_duration_since(start);
                    slowest = slowest.max(took);
                    missing.retain(|&n| n != s.node);
                    println!("  node-{} sees {KEY}={value} after {} ms", s.node, took.as_millis());
                    let _ = std::io::stdout().flush();
                }
            }
            recv(deadline) -> _ => {
                return Err(format!("{KEY}={value} never reached nodes {missing:?}"));
            }
        }
    }
    Ok(slowest)
}

/// Phase 3 with the cut in place: waits for both sides to declare the other failed,
/// writes, checks node 3 does not see it, heals, and returns how long after the heal
/// node 3 saw it.
fn partition_phase(
    nodes: &[Node],
    seen: &Receiver<Seen>,
    partition: Partition,
) -> Result<Duration, String> {
    wait_for("each side to declare the other failed", || {
        let dead =
            |n: &Node, name: &str| n.member(name).is_some_and(|m| m.state == MemberState::Dead);
        dead(&nodes[0], "node-3") && dead(&nodes[3], "node-0")
    })?;
    println!("  each side holds the other as failed");
    let start = now();
    nodes[0]
        .set(KEY, "warn")
        .map_err(|e| format!("set {KEY}=warn: {e}"))?;
    await_value(seen, "warn", &[1, 2], start)?;
    if nodes[3].get("node-0", KEY).ok().flatten().as_deref() == Some(&b"warn"[..]) {
        return Err("node-3 saw the change through the partition".into());
    }
    println!("  node-3 (cut off) still has {KEY}=info");
    drop(partition);
    let healed = now();
    println!("  healed");
    await_value(seen, "warn", &[3], healed)
}

/// The example measures propagation times on the wall clock (the library never reads
/// it outside its runtime; an application may).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Polls `cond` every 20 ms until it holds, for at most [`WAIT`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = after(WAIT);
    while !cond() {
        if deadline.try_recv().is_ok() {
            return Err(format!("timed out waiting for {what}"));
        }
        let _ = after(Duration::from_millis(20)).recv();
    }
    Ok(())
}

/// An nftables table that drops every packet between two loopback addresses while it
/// exists; deleted on drop and on Ctrl-C.
struct Partition {
    table: String,
}

impl Partition {
    /// Cuts `a` from `b`, or `None` when nftables is not usable (not root, no `nft`).
    fn cut(a: &str, b: &str) -> Option<Partition> {
        let table = format!("epidemic_config_push_{}", std::process::id());
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} out {{ type filter hook output priority 0; policy accept; }}\n\
             add rule inet {table} out ip saddr {a} ip daddr {b} drop\n\
             add rule inet {table} out ip saddr {b} ip daddr {a} drop\n"
        );
        let applied = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait()
            })
            .is_ok_and(|status| status.success());
        let partition = Partition { table };
        if !applied {
            return None; // dropping `partition` removes anything half-made
        }
        let on_interrupt = partition.table.clone();
        let _ = ctrlc::set_handler(move || {
            delete_table(&on_interrupt);
            std::process::exit(130);
        });
        Some(partition)
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        delete_table(&self.table);
    }
}

fn delete_table(table: &str) {
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", table])
        .stderr(Stdio::null())
        .status();
}
