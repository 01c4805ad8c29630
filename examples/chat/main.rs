//! A chat over gossip: lines are broadcast to the cluster, and membership changes show up
//! as they happen. The example runs in one of three modes.
//!
//! # Demo (no arguments)
//!
//! ```text
//! cargo run --release --example chat
//! ```
//!
//! Five nodes in this process, on loopback ports picked by the OS, with
//! [`Config::local`]. They join through the first node, each broadcasts one chat line
//! (checked to reach every other node exactly once), one stops silently and the others
//! detect its failure (the detection times are printed), one leaves gracefully and the
//! others report the leave (never a failure), then a summary of one survivor's view and
//! counters is printed. Every wait is bounded: if a step does not complete within 20 s the demo says
//! what was missing and exits with status 1.
//!
//! # Interactive
//!
//! ```text
//! cargo run --release --example chat -- --name alice --bind 127.0.0.1:7946
//! cargo run --release --example chat -- --name bob --bind 127.0.0.1:7947 --join 127.0.0.1:7946
//! ```
//!
//! Every line read from stdin is broadcast and printed on the other nodes as
//! `<sender>: <line>`; membership events are printed as `* bob joined` and so on.
//! Commands: `/members`, `/stats`, `/help`, `/quit`. `/quit`, end of input, Ctrl-C or
//! SIGTERM leave the cluster gracefully and exit.
//!
//! # Headless (for scripts and benchmarks)
//!
//! ```text
//! cargo run --release --example chat -- --headless --name n1 --bind 127.0.0.1:17946
//! ```
//!
//! Reads no input. Prints one line per membership event on stdout, flushed per line,
//! and nothing else (diagnostics go to stderr; set `RUST_LOG` for the library's logs).
//! On SIGINT or SIGTERM it leaves gracefully and exits with status 0. The line format is
//! stable:
//!
//! ```text
//! <unix_ms> <kind> <member>
//! 1764164254123 join n2
//! ```
//!
//! * `unix_ms`: milliseconds since the Unix epoch when this process printed the line;
//! * `kind`: `join`, `leave`, `fail`, `suspect`, `update` or `conflict` (ignore any other
//!   word: a future version of the library may add kinds);
//! * `member`: the member's name, which is the rest of the line (names may contain spaces;
//!   control characters in a name are written escaped, as `\n`, `\u{1b}`, ...).
//!
//! With `--stats-every SECS` the headless node also prints its counters to stderr every
//! SECS seconds: `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..`
//! (the cluster benchmark, `examples/cluster_bench.rs`, reads them).
//!
//! In both the interactive and the headless mode, a failed `--join` is reported on stderr
//! and the node keeps running alone: it still knows its seeds and retries them on its
//! push-pull schedule. A bind address that cannot be used, or a `--join` address that
//! does not resolve, is an error: the example exits with status 1.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use crossbeam_channel::{Receiver, Sender, select, unbounded};
use epidemic::{Config, Event, Member, Node};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// How long a graceful leave may wait for its announcement to go out.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Chat over gossip (SWIM membership and broadcast with the epidemic crate).
///
/// Three modes:
///
///   demo         no arguments: five nodes in this process on loopback form a cluster,
///                chat, see a node leave and detect a crashed one, then print a
///                summary. Exits 0 on success, 1 if a step does not happen within 20 s.
///
///   interactive  --name NAME [--bind ADDR] [--join ADDR]...: stdin lines are broadcast
///                and other nodes' lines printed as `<sender>: <line>`, with membership
///                events as `* bob joined`. Commands: /members, /stats, /help, /quit.
///                /quit, end of input, Ctrl-C or SIGTERM leave gracefully.
///
///   headless     --headless --name NAME [--bind ADDR] [--join ADDR]...: reads no input;
///                prints one line per membership event on stdout, flushed:
///                `<unix_ms> join|leave|fail|suspect|update|conflict <member>`, and
///                nothing else (a stable format). Leaves gracefully and exits 0 on SIGINT
///                or SIGTERM.
///
/// A failed --join is reported and the node keeps running: it retries its seeds.
#[derive(Parser, Debug)]
#[command(verbatim_doc_comment)]
struct Args {
    /// This node's name, unique in the cluster; selects the interactive mode (or the
    /// headless one with --headless). Without it the demo runs.
    #[arg(long)]
    name: Option<String>,

    /// Address to listen on, UDP and TCP (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7946",
        requires = "name"
    )]
    bind: String,

    /// Address of a member to join through; repeat to give several.
    #[arg(long, value_name = "ADDR", requires = "name")]
    join: Vec<String>,

    /// Protocol timing preset; every node of a cluster should use the same.
    #[arg(long, value_enum, default_value_t = Preset::Lan, requires = "name")]
    config: Preset,

    /// Cluster name; nodes only talk to nodes of the same cluster.
    #[arg(long, value_name = "NAME", requires = "name")]
    cluster: Option<String>,

    /// Print membership events in the stable one-line format and read no input.
    #[arg(long, requires = "name")]
    headless: bool,

    /// Headless mode: every SECS seconds print the node's counters to stderr as
    /// `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..`.
    #[arg(long, value_name = "SECS", requires = "headless", value_parser = clap::value_parser!(u64).range(1..))]
    stats_every: Option<u64>,
}

/// A [`Config`] preset.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// Local network: 1 s probes.
    Lan,
    /// Wide-area network: 5 s probes, longer timeouts.
    Wan,
    /// One machine: 200 ms probes.
    Local,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let outcome = match &args.name {
        None => demo::run(),
        Some(name) if args.headless => headless::run(&NodeArgs::new(name, &args)),
        Some(name) => interactive::run(&NodeArgs::new(name, &args)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The settings of a single node run from the command line.
struct NodeArgs {
    name: String,
    bind: String,
    join: Vec<String>,
    config: Config,
    stats_every: Option<Duration>,
}

impl NodeArgs {
    fn new(name: &str, args: &Args) -> NodeArgs {
        let mut config = match args.config {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        };
        if let Some(cluster) = &args.cluster {
            config.cluster.clone_from(cluster);
        }
        NodeArgs {
            name: name.to_owned(),
            bind: args.bind.clone(),
            join: args.join.clone(),
            config,
            stats_every: args.stats_every.map(Duration::from_secs),
        }
    }

    /// The `--join` addresses, resolved; one that does not resolve is an error.
    fn seeds(&self) -> Result<Vec<SocketAddr>> {
        let mut seeds = Vec::new();
        for seed in &self.join {
            let resolved = seed
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve --join {seed}: {e}"))?;
            seeds.extend(resolved);
        }
        Ok(seeds)
    }
}

/// Joins through `seeds`, if any. A failure is reported, not fatal: the node runs alone
/// and keeps retrying its seeds in the background.
fn join_seeds(node: &Node, seeds: &[SocketAddr]) {
    if seeds.is_empty() {
        return;
    }
    match node.join(seeds) {
        Ok(answered) => eprintln!("chat: joined through {answered} of {} seed(s)", seeds.len()),
        Err(e) => eprintln!(
            "chat: could not join yet ({e}); running alone, the node keeps retrying its seeds"
        ),
    }
}

/// Leaves gracefully, reporting on stderr when the announcement was not confirmed sent.
fn leave(node: &Node) {
    if let Err(e) = node.leave(LEAVE_TIMEOUT) {
        eprintln!("chat: left without confirmation: {e}");
    }
}

/// A channel that receives a message on the first SIGINT or SIGTERM; a second one (say,
/// Ctrl-C pressed again while leaving) exits at once.
fn termination_signal() -> Result<Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut signalled = false;
    ctrlc::set_handler(move || {
        if signalled {
            std::process::exit(130);
        }
        signalled = true;
        let _ = tx.try_send(());
    })
    .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    Ok(rx)
}

/// `name` with control characters escaped, so that it prints on one line.
fn printable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The one clock read of this example: the demo's deadlines and its measurements of how
/// long detection takes. (The crate's clippy.toml forbids reading the clock so that the
/// protocol code stays deterministic; an example timing itself is fine.)
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Milliseconds from `start` until now.
fn ms_since(start: Instant) -> u128 {
    now().duration_since(start).as_millis()
}

mod interactive {
    //! Type lines, read other people's lines and membership events.

    use super::*;

    /// Runs a node that chats through stdin and stdout until `/quit`, end of input or a
    /// termination signal, then leaves gracefully.
    pub(super) fn run(args: &NodeArgs) -> Result<()> {
        let seeds = args.seeds()?;
        let node = Node::builder(&args.name)
            .bind(&args.bind)
            .config(args.config.clone())
            .on_message(|from, line| println!("{from}: {}", String::from_utf8_lossy(line)))
            .on_event(|event| println!("* {}", describe(event)))
            .start()
            .map_err(|e| format!("cannot start {}: {e}", args.name))?;
        let signal = termination_signal()?;
        println!(
            "{} is listening on {} (cluster {:?}); type a line to send it, /help for commands",
            node.name(),
            node.local_addr(),
            node.config().cluster
        );
        join_seeds(&node, &seeds);
        let lines = stdin_lines()?;
        loop {
            select! {
                recv(lines) -> line => match line {
                    Ok(line) if handle_line(&node, &line) == Flow::Quit => break,
                    Ok(_) => {}
                    Err(_) => break, // end of input
                },
                recv(signal) -> _ => break,
            }
        }
        println!("leaving...");
        leave(&node);
        Ok(())
    }

    #[derive(PartialEq, Eq)]
    enum Flow {
        Continue,
        Quit,
    }

    /// Handles one input line: a command, or a chat line to broadcast.
    fn handle_line(node: &Node, line: &str) -> Flow {
        match line.trim() {
            "" => {}
            "/quit" => return Flow::Quit,
            "/members" => print_members(node),
            "/stats" => print_stats(node),
            "/help" => {
                println!("/members  members as this node sees them");
                println!("/stats    this node's counters");
                println!("/quit     leave the cluster and exit (so do end of input and Ctrl-C)");
                println!("anything else is sent to every other member");
            }
            other if other.starts_with('/') => println!("unknown command {other}; try /help"),
            _ => {
                if let Err(e) = node.broadcast(line.as_bytes()) {
                    eprintln!("not sent: {e}");
                }
            }
        }
        Flow::Continue
    }

    /// Lines of stdin, read on a thread of their own; the channel closes at end of input.
    fn stdin_lines() -> Result<Receiver<String>> {
        let (tx, rx) = unbounded();
        let reader = thread::Builder::new().name("stdin".into());
        reader.spawn(move || {
            for line in io::stdin().lock().lines() {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => {
                        eprintln!("chat: cannot read stdin: {e}");
                        return;
                    }
                };
                if tx.send(line).is_err() {
                    return;
                }
            }
        })?;
        Ok(rx)
    }

    fn print_members(node: &Node) {
        for member in node.members() {
            let you = if member.name == *node.name() {
                "  (you)"
            } else {
                ""
            };
            println!("{}{you}", member_line(&member));
        }
    }

    fn print_stats(node: &Node) {
        println!("{}", stats_line(node));
    }
}

mod headless {
    //! One stable line per membership event, for scripts.

    use super::*;

    /// Runs a node that prints events until SIGINT or SIGTERM, then leaves gracefully.
    pub(super) fn run(args: &NodeArgs) -> Result<()> {
        let seeds = args.seeds()?;
        let node = Node::builder(&args.name)
            .bind(&args.bind)
            .config(args.config.clone())
            .on_event(print_event)
            .start()
            .map_err(|e| format!("cannot start {}: {e}", args.name))?;
        let signal = termination_signal()?;
        eprintln!(
            "chat: {} is listening on {}",
            node.name(),
            node.local_addr()
        );
        join_seeds(&node, &seeds);
        // Waits as long as it takes: the node runs until it is told to stop.
        match args.stats_every {
            None => {
                let _ = signal.recv();
            }
            Some(every) => {
                let ticks = crossbeam_channel::tick(every);
                loop {
                    select! {
                        recv(ticks) -> _ => print_stats(&node),
                        recv(signal) -> _ => break,
                    }
                }
            }
        }
        leave(&node);
        Ok(())
    }

    /// Writes `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..` to
    /// stderr (never stdout, whose format is stable).
    fn print_stats(node: &Node) {
        let stats = node.stats();
        eprintln!(
            "stats {} packets_in={} packets_out={} bytes_in={} bytes_out={}",
            unix_ms(),
            stats.packets_in,
            stats.packets_out,
            stats.bytes_in,
            stats.bytes_out
        );
    }

    /// Writes `<unix_ms> <kind> <member>` and flushes it.
    fn print_event(event: &Event) {
        let line = format!(
            "{} {} {}\n",
            unix_ms(),
            event.kind(),
            printable(event.member().name())
        );
        let mut stdout = io::stdout().lock();
        // Nobody reading our output is no reason to stop the node: ignore write errors.
        let _ = stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush());
    }

    fn unix_ms() -> u128 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis())
    }
}

mod demo {
    //! Five nodes in one process, on loopback.

    use super::*;

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

    /// What a demo node's callbacks report to the main thread.
    enum Observation {
        /// `observer` saw a membership event.
        Event { observer: String, event: Event },
        /// `observer` received `line` broadcast by `sender`.
        Line {
            observer: String,
            sender: String,
            line: String,
        },
    }

    /// The running demo: its nodes and what their callbacks observed.
    struct Demo {
        nodes: Vec<Node>,
        /// Indices of the nodes the demo stopped.
        stopped: HashSet<usize>,
        observations: Receiver<Observation>,
    }

    /// Runs the demo, returning an error that says what did not happen in time.
    pub(super) fn run() -> Result<()> {
        let started = now();
        println!(
            "epidemic chat demo: {} nodes on loopback, Config::local()",
            CAST.len()
        );
        let mut demo = Demo::start()?;
        demo.form_cluster()?;
        demo.chat()?;
        demo.crash(CRASHES)?;
        demo.leave(LEAVES)?;
        demo.summary(NARRATOR);
        println!("\ndemo passed in {} ms", ms_since(started));
        Ok(())
    }

    impl Demo {
        fn start() -> Result<Demo> {
            let (tx, observations) = unbounded();
            let mut nodes = Vec::new();
            for (name, _) in CAST {
                let node =
                    start_node(name, &tx).map_err(|e| format!("cannot start {name}: {e}"))?;
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
                if matches!(event, Event::Suspect(_) | Event::Fail(_)) && first_detection.is_none()
                {
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
            for member in node.members() {
                println!("    {}", member_line(&member));
            }
            println!("  {}", stats_line(node));
        }

        /// The next observation of any node, or `None` once `deadline` has passed.
        fn next(&self, deadline: Instant) -> Option<Observation> {
            self.observations.recv_deadline(deadline).ok()
        }

        fn name(&self, index: usize) -> &str {
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

    /// Starts a demo node whose callbacks report to `observations`.
    fn start_node(
        name: &str,
        observations: &Sender<Observation>,
    ) -> Result<Node, epidemic::StartError> {
        let events = observations.clone();
        let lines = observations.clone();
        let observer = name.to_owned();
        let receiver = name.to_owned();
        Node::builder(name)
            .bind("127.0.0.1:0")
            .config(Config::local())
            .on_event(move |event| {
                let observer = observer.clone();
                // The demo stops listening only when it ends; nothing to do then.
                let _ = events.send(Observation::Event {
                    observer,
                    event: event.clone(),
                });
            })
            .on_message(move |sender, line| {
                let _ = lines.send(Observation::Line {
                    observer: receiver.clone(),
                    sender: sender.to_string(),
                    line: String::from_utf8_lossy(line).into_owned(),
                });
            })
            .start()
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

    /// Prints an observation no step was waiting for.
    fn show(observation: &Observation) {
        match observation {
            Observation::Event { observer, event } => {
                println!("  [{observer}] * {}", describe(event));
            }
            Observation::Line {
                observer,
                sender,
                line,
            } => println!("  [{observer}] {sender}: {line}"),
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
}

/// An event in words: `bob joined from 127.0.0.1:7947`, `bob failed`, ...
fn describe(event: &Event) -> String {
    match event {
        Event::Join(m) => format!("{} joined from {}", m.name, m.addr),
        Event::Leave(m) => format!("{} left", m.name),
        Event::Fail(m) => format!("{} failed", m.name),
        Event::Suspect(m) => format!("{} is suspected", m.name),
        Event::Update(m) => format!("{} updated (incarnation {})", m.name, m.incarnation),
        Event::Conflict { member, other_addr } => format!(
            "{} is also claimed from {other_addr}; keeping {}",
            member.name, member.addr
        ),
        other => other.to_string(),
    }
}

/// `name  state  incarnation N  addr`, aligned.
fn member_line(member: &Member) -> String {
    format!(
        "{:<12} {:<8} incarnation {:<3} {}",
        printable(member.name()),
        // as_str: MemberState's Display ignores width.
        member.state.as_str(),
        member.incarnation,
        member.addr
    )
}

/// One line of the node's counters.
fn stats_line(node: &Node) -> String {
    let stats = node.stats();
    format!(
        "stats of {}: {} packets in ({} bytes), {} packets out ({} bytes), \
         {} probes ({} indirect), {} suspicions raised, {} refutations",
        node.name(),
        stats.packets_in,
        stats.bytes_in,
        stats.packets_out,
        stats.bytes_out,
        stats.probes,
        stats.indirect_probes,
        stats.suspicions,
        stats.refutations
    )
}
