//! The demo mode: five nodes in one process, on loopback, taken through joining, chatting,
//! a crash and a graceful leave, each step checked against a deadline.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use epidemic::{Event, Key, Node};

use crate::demo_nodes::{Observation, show, start_node};
use crate::format::{describe, member_line, stats_line};
use crate::{LEAVE_TIMEOUT, Result};

/// The demo nodes, and the line each one says.
const CAST: [(&str, &str); 5] = [
    ("alice", "hello everyone"),
    ("bob", "hi alice!"),
    ("carol", "good morning"),
    ("dave", "anyone up for lunch?"),
    ("erin", "I have to go soon"),
];
/// The node whose view the summary shows; it stays to the end.
const NARRATOR: usize = 0;
/// The node that stops silently, as if it crashed.
const CRASHES: usize = 3;
/// The node that leaves gracefully.
const LEAVES: usize = 4;
/// Longest wait for any one step.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to keep listening after the last expected chat line, to catch duplicates.
const QUIET_PERIOD: Duration = Duration::from_millis(500);

/// The running demo: its nodes and what their callbacks observed.
pub(crate) struct Demo {
    pub(crate) nodes: Vec<Node>,
    /// Indices of the nodes the demo stopped.
    stopped: HashSet<usize>,
    observations: Receiver<Observation>,
}

/// Runs the demo, returning an error that says what did not happen in time.
pub(crate) fn run() -> Result<()> {
    let started = now();
    println!(
        "epidemic chat demo: {} nodes on loopback, Config::local()",
        CAST.len()
    );
    let mut demo = Demo::start()?;
    demo.form_cluster()?;
    demo.chat()?;
    demo.outsider()?;
    demo.crash(CRASHES)?;
    demo.leave(LEAVES)?;
    demo.summary(NARRATOR);
    println!("\ndemo passed in {} ms", ms_since(started));
    Ok(())
}

impl Demo {
    fn start() -> Result<Demo> {
        let (tx, observations) = unbounded();
        let key = Key::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
        println!(
            "  every datagram and frame sealed (AES-256-GCM) with key {}, generated for this run",
            key.id()
        );
        let mut nodes = Vec::new();
        for (name, _) in CAST {
            let node =
                start_node(name, &key, &tx).map_err(|e| format!("cannot start {name}: {e}"))?;
            println!("  started {name} on {}", node.local_addr());
            nodes.push(node);
        }
        Ok(Demo {
            nodes,
            stopped: HashSet::new(),
            observations,
        })
    }

    /// Every node but the first joins through the first; waits until each node has
    /// seen every other one join.
    fn form_cluster(&self) -> Result<()> {
        println!("\n== joining through {}", self.name(0));
        let started = now();
        let seed = self.nodes[0].local_addr();
        for node in &self.nodes[1..] {
            node.join(&[seed])
                .map_err(|e| format!("{} could not join through {seed}: {e}", node.name()))?;
        }
        let mut missing = self.pairs();
        let deadline = started + STEP_TIMEOUT;
        while !missing.is_empty() {
            let observation = self.next(deadline).ok_or_else(|| {
                format!("nodes did not see each other join: {}", arrows(&missing))
            })?;
            match observation {
                Observation::Event {
                    observer,
                    event: Event::Join(member),
                } => {
                    missing.remove(&(observer, member.name().to_owned()));
                }
                other => show(&other),
            }
        }
        let n = self.nodes.len();
        println!(
            "  cluster formed: each of the {n} nodes sees the {} others ({} ms)",
            n - 1,
            ms_since(started)
        );
        Ok(())
    }

    /// Each node broadcasts its line; checks every other node receives it once.
    fn chat(&self) -> Result<()> {
        println!("\n== chatting");
        let started = now();
        for (node, (_, line)) in self.nodes.iter().zip(CAST) {
            node.broadcast(line)
                .map_err(|e| format!("{} could not broadcast: {e}", node.name()))?;
        }
        let mut received: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut missing = self.pairs();
        let deadline = started + STEP_TIMEOUT;
        while !missing.is_empty() {
            let observation = self
                .next(deadline)
                .ok_or_else(|| format!("chat lines did not arrive: {}", arrows(&missing)))?;
            self.record_line(observation, &mut received, &mut missing);
        }
        let all_arrived = ms_since(started);
        // Anything arriving now is a duplicate (or an unrelated event).
        let deadline = now() + QUIET_PERIOD;
        while let Some(observation) = self.next(deadline) {
            self.record_line(observation, &mut received, &mut missing);
        }
        check_deliveries(&received)?;
        println!(
            "  check passed: every node received every other node's line exactly once \
             ({} deliveries, the last after {all_arrived} ms)",
            received.len()
        );
        Ok(())
    }

    fn record_line(
        &self,
        observation: Observation,
        received: &mut HashMap<(String, String), Vec<String>>,
        missing: &mut HashSet<(String, String)>,
    ) {
        show(&observation);
        if let Observation::Line {
            observer,
            sender,
            line,
        } = observation
        {
            missing.remove(&(observer.clone(), sender.clone()));
            received.entry((observer, sender)).or_default().push(line);
        }
    }

    /// Stops node `victim` silently and measures how long the others take to notice.
    fn crash(&mut self, victim: usize) -> Result<()> {
        let name = self.name(victim).to_owned();
        println!("\n== stopping {name} silently");
        let stopped_at = now();
        self.nodes[victim].stop();
        self.stopped.insert(victim);
        let mut waiting = self.running();
        let mut first_detection = None;
        let deadline = stopped_at + STEP_TIMEOUT;
        while !waiting.is_empty() {
            let observation = self.next(deadline).ok_or_else(|| {
                format!("{name}'s failure was not detected by {}", list(&waiting))
            })?;
            let Observation::Event { observer, event } = &observation else {
                show(&observation);
                continue;
            };
            if event.member().name() != name {
                show(&observation);
                continue;
            }
            let elapsed = ms_since(stopped_at);
            println!("  [{observer}] * {} (+{elapsed} ms)", describe(event));
            if matches!(event, Event::Suspect(_) | Event::Fail(_)) && first_detection.is_none() {
                first_detection = Some((observer.clone(), event.kind(), elapsed));
            }
            if matches!(event, Event::Fail(_)) {
                waiting.remove(observer);
            }
        }
        if let Some((observer, kind, elapsed)) = first_detection {
            println!("  first detection: {observer} saw {kind} after {elapsed} ms");
        }
        println!(
            "  every survivor saw fail after {} ms",
            ms_since(stopped_at)
        );
        Ok(())
    }

    /// Node `leaver` leaves gracefully; waits until every node still running has
    /// seen it leave (and none saw it fail).
    fn leave(&mut self, leaver: usize) -> Result<()> {
        let name = self.name(leaver).to_owned();
        println!("\n== {name} leaves gracefully");
        let started = now();
        match self.nodes[leaver].leave(LEAVE_TIMEOUT) {
            Ok(()) => println!("  leave() returned after {} ms", ms_since(started)),
            Err(e) => println!("  leave() returned after {} ms: {e}", ms_since(started)),
        }
        self.stopped.insert(leaver);
        let mut waiting = self.running();
        let deadline = started + STEP_TIMEOUT;
        while !waiting.is_empty() {
            let observation = self
                .next(deadline)
                .ok_or_else(|| format!("{name}'s leave was not seen by {}", list(&waiting)))?;
            let Observation::Event { observer, event } = &observation else {
                show(&observation);
                continue;
            };
            if event.member().name() != name {
                show(&observation);
                continue;
            }
            println!(
                "  [{observer}] * {} (+{} ms)",
                describe(event),
                ms_since(started)
            );
            match event {
                Event::Leave(_) => {
                    waiting.remove(observer);
                }
                Event::Fail(_) => {
                    return Err(format!("{observer} saw {name} fail instead of leave").into());
                }
                _ => {}
            }
        }
        println!(
            "  every remaining node saw the leave after {} ms",
            ms_since(started)
        );
        Ok(())
    }

    /// Prints the members and counters of node `narrator`.
    fn summary(&self, narrator: usize) {
        let node = &self.nodes[narrator];
        println!("\n== summary");
        println!("  members as {} sees them:", node.name());
        for member in node.members().iter() {
            println!("    {}", member_line(member));
        }
        println!("  {}", stats_line(node));
    }

    /// The next observation of any node, or `None` once `deadline` has passed.
    fn next(&self, deadline: Instant) -> Option<Observation> {
        self.observations.recv_deadline(deadline).ok()
    }

    pub(crate) fn name(&self, index: usize) -> &str {
        self.nodes[index].name().as_str()
    }

    /// The names of the nodes still running.
    fn running(&self) -> HashSet<String> {
        (0..self.nodes.len())
            .filter(|i| !self.stopped.contains(i))
            .map(|i| self.name(i).to_owned())
            .collect()
    }

    /// Every (observer, other) pair of distinct nodes.
    fn pairs(&self) -> HashSet<(String, String)> {
        let names: Vec<&str> = (0..self.nodes.len()).map(|i| self.name(i)).collect();
        let mut pairs = HashSet::new();
        for observer in &names {
            for other in &names {
                if observer != other {
                    pairs.insert(((*observer).to_owned(), (*other).to_owned()));
                }
            }
        }
        pairs
    }
}

/// Checks each line arrived once, from the right sender with the right text.
fn check_deliveries(received: &HashMap<(String, String), Vec<String>>) -> Result<()> {
    let mut problems = Vec::new();
    for ((observer, sender), lines) in received {
        let said = CAST
            .iter()
            .find(|(name, _)| name == sender)
            .map(|(_, line)| *line);
        if observer == sender {
            problems.push(format!("{observer} received its own line"));
        } else if lines.len() != 1 {
            problems.push(format!(
                "{observer} received {sender}'s line {} times",
                lines.len()
            ));
        } else if said != Some(lines[0].as_str()) {
            problems.push(format!("{observer} received {:?} from {sender}", lines[0]));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.sort();
        Err(format!("chat check failed: {}", problems.join("; ")).into())
    }
}

/// `a->b, c->d` for (observer, other) pairs, sorted.
fn arrows(pairs: &HashSet<(String, String)>) -> String {
    let mut arrows: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}->{b}")).collect();
    arrows.sort();
    arrows.join(", ")
}

/// Sorted, comma-separated names.
fn list(names: &HashSet<String>) -> String {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.join(", ")
}

/// The one clock read of this example: the demo's deadlines and its measurements of how
/// long detection takes. (The crate's clippy.toml forbids reading the clock so that the
/// protocol code stays deterministic; an example timing itself is fine.)
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Milliseconds from `start` until now.
pub(crate) fn ms_since(start: Instant) -> u128 {
    now().duration_since(start).as_millis()
}
