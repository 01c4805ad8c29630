//! Cluster benchmark: N headless chat processes on loopback, measured from the outside.
//!
//! ```text
//! cargo run --release --example cluster_bench -- --nodes 50
//! cargo run --release --example cluster_bench -- --nodes N [--config lan|wan|local]
//!     [--kills K] [--idle-secs S] [--seed S] [--gap-secs G] [--no-build]
//! ```
//!
//! The unit is the headless mode of `examples/chat.rs`: one process per node, each in a
//! cluster of its own name (`bench-<pid>-<unix_ms>`) so that stray runs cannot interfere.
//! The benchmark first runs `cargo build --release --example chat` (skip it with
//! `--no-build`, or point `--chat PATH` at another binary), then:
//!
//! 1. **Join.** Starts node `n0` on `127.0.0.1:0`, reads the address it reports on stderr,
//!    then starts `n1`..`n{N-1}`, each on port 0 and joining through `n0`. Join
//!    convergence is the time from starting the last process until every process has
//!    printed a `join` line for each of the N−1 others.
//! 2. **Idle.** Waits `--idle-secs` (default 30) and measures, per process, CPU time
//!    (utime + stime from `/proc/<pid>/stat`, as % of one core), RSS (`VmRSS` from
//!    `/proc/<pid>/status`) at the end of the window, and UDP packets and bytes per second
//!    (deltas of the `stats` lines that `--stats-every` makes each node print on stderr,
//!    taken inside the window). Any membership event during the window is reported: in a
//!    quiet cluster there should be none.
//! 3. **Failure detection.** `--kills` times (default 5): SIGKILLs a random live node other
//!    than `n0` (seeded by `--seed`), then waits (at most `--detect-timeout-secs`) until
//!    every other live process has printed `fail <victim>`. Latencies are measured from
//!    the kill to the timestamp on each observer's line (same clock, same machine). Then
//!    waits `--gap-secs` (default 10) so that local health scores settle before the next
//!    kill.
//! 4. **Shutdown.** SIGTERM to every remaining process (they leave gracefully), bounded
//!    wait, SIGKILL for stragglers. No child outlives the benchmark: a drop guard kills
//!    them on any error or panic, and SIGINT/SIGTERM to the benchmark kills them too.
//!
//! Output: tables on stdout, then one line
//! `summary nodes=.. config=.. join_ms=.. detect_p50_ms=.. detect_p99_ms=.. ...`.
//! "detect" is kill → the last live node reports the failure, one sample per kill;
//! "observer" latencies are every (kill, observer) pair; "first" is kill → first
//! `suspect` (or `fail`) line anywhere. Packet and byte rates are per node per second,
//! sent (`out`) and received (`in`). Linux only (`/proc`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use crossbeam_channel::{Receiver, Sender, tick, unbounded};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// Multi-process cluster benchmark over the headless chat example.
#[derive(Parser, Debug)]
struct Args {
    /// Number of processes (nodes).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..))]
    nodes: u64,

    /// Protocol timing preset passed to every node.
    #[arg(long, value_enum, default_value_t = Preset::Lan)]
    config: Preset,

    /// Number of nodes to SIGKILL, one after the other.
    #[arg(long, default_value_t = 5)]
    kills: usize,

    /// Length of the idle measurement window, seconds.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,

    /// Seed of the choice of victims.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Pause after each detection before the next kill, seconds.
    #[arg(long, default_value_t = 10)]
    gap_secs: u64,

    /// Period of the nodes' stats lines on stderr, seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    stats_every: u64,

    /// How long to wait for join convergence, seconds.
    #[arg(long, default_value_t = 120)]
    join_timeout_secs: u64,

    /// How long to wait for every live node to report a kill, seconds.
    #[arg(long, default_value_t = 60)]
    detect_timeout_secs: u64,

    /// The chat binary (default: <target>/release/examples/chat, built first).
    #[arg(long, value_name = "PATH")]
    chat: Option<PathBuf>,

    /// Do not run `cargo build --release --example chat` first.
    #[arg(long)]
    no_build: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    Lan,
    Wan,
    Local,
}

impl Preset {
    fn as_str(self) -> &'static str {
        match self {
            Preset::Lan => "lan",
            Preset::Wan => "wan",
            Preset::Local => "local",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The benchmark's clock for deadlines. (The crate's clippy.toml forbids reading the
/// clock so that the protocol code stays deterministic; a benchmark timing itself is
/// fine.) Measurements use [`unix_ms`], the clock the nodes stamp their lines with.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Milliseconds since the Unix epoch, as the chat example stamps its lines.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn run(args: &Args) -> Result<()> {
    let chat = chat_binary(args)?;
    let clk_tck = clock_ticks();
    let n = usize::try_from(args.nodes)?;
    let cluster_name = format!("bench-{}-{}", std::process::id(), unix_ms());
    println!(
        "cluster_bench: {n} nodes, config {}, cluster {cluster_name}, chat {}",
        args.config.as_str(),
        chat.display()
    );
    println!(
        "  machine: {} logical CPUs, {}; CLK_TCK {clk_tck}; load average {}",
        thread::available_parallelism().map_or(0, |p| p.get()),
        cpu_model(),
        std::fs::read_to_string("/proc/loadavg").map_or_else(
            |_| "?".into(),
            |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        )
    );

    let mut cluster = Cluster::new(chat, args, cluster_name)?;

    // 1. Join.
    let join = cluster.start(n, Duration::from_secs(args.join_timeout_secs))?;
    println!(
        "\n== join: {n} processes started in {} ms; converged {} ms after the last start \
         ({} ms after the first)",
        join.spawn_ms, join.converged_ms, join.since_first_ms
    );

    // 2. Idle.
    println!("\n== idle for {} s", args.idle_secs);
    let idle = cluster.idle(Duration::from_secs(args.idle_secs), clk_tck)?;
    idle.print();

    // 3. Failure detection.
    println!("\n== failure detection: {} kills", args.kills);
    let detection = cluster.kills(args)?;
    detection.print();

    // 4. Shutdown.
    println!("\n== shutdown");
    let (graceful, total) = cluster.shutdown(Duration::from_secs(15));
    println!("  {graceful} of {total} remaining processes left gracefully (exit status 0)");
    let unexpected = cluster.unexpected_summary();
    if !unexpected.is_empty() {
        println!("  unexpected events: {unexpected}");
    }

    let summary = Summary {
        n,
        config: args.config.as_str(),
        join: &join,
        idle: &idle,
        detection: &detection,
    };
    println!();
    summary.print();
    Ok(())
}

/// Builds the chat example unless told not to, and returns its path.
fn chat_binary(args: &Args) -> Result<PathBuf> {
    if let Some(path) = &args.chat {
        return Ok(path.clone());
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from);
    let path = target.join("release").join("examples").join("chat");
    if !args.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--example", "chat"])
            .current_dir(&manifest)
            .status()
            .map_err(|e| format!("cannot run cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --release --example chat failed: {status}").into());
        }
    }
    if !path.exists() {
        return Err(format!(
            "{} does not exist: run `cargo build --release --examples` first",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// `getconf CLK_TCK`, or 100 if it cannot be run.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// What a child's reader threads report.
enum Msg {
    /// A membership event line from stdout.
    Event {
        node: usize,
        ms: u64,
        kind: String,
        member: String,
    },
    /// The node's bound address, from its stderr.
    Listening { node: usize, addr: String },
    /// A stats line from stderr.
    Stats { node: usize, sample: Sample },
}

/// One `stats` line.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    ms: u64,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl Sample {
    fn parse(line: &str) -> Option<Sample> {
        let mut words = line.split_whitespace();
        if words.next()? != "stats" {
            return None;
        }
        let mut sample = Sample {
            ms: words.next()?.parse().ok()?,
            ..Sample::default()
        };
        for word in words {
            let (key, value) = word.split_once('=')?;
            let value = value.parse().ok()?;
            match key {
                "packets_in" => sample.packets_in = value,
                "packets_out" => sample.packets_out = value,
                "bytes_in" => sample.bytes_in = value,
                "bytes_out" => sample.bytes_out = value,
                _ => {}
            }
        }
        Some(sample)
    }
}

/// Reads a child's stdout: `<unix_ms> <kind> <member>` lines.
fn read_stdout(node: usize, out: impl Read, tx: Sender<Msg>) {
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { return };
        let mut parts = line.splitn(3, ' ');
        let (Some(ms), Some(kind), Some(member)) = (parts.next(), parts.next(), parts.next())
        else {
            eprintln!("  [n{node}] unparsed stdout line: {line}");
            continue;
        };
        let Ok(ms) = ms.parse() else {
            eprintln!("  [n{node}] unparsed stdout line: {line}");
            continue;
        };
        let msg = Msg::Event {
            node,
            ms,
            kind: kind.to_owned(),
            member: member.to_owned(),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Reads a child's stderr: its address, stats lines, and diagnostics (echoed).
fn read_stderr(node: usize, err: impl Read, tx: Sender<Msg>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { return };
        let msg = if let Some(sample) = Sample::parse(&line) {
            Msg::Stats { node, sample }
        } else if let Some((_, addr)) = line.split_once(" is listening on ") {
            Msg::Listening {
                node,
                addr: addr.trim().to_owned(),
            }
        } else {
            if !line.contains("joined through") {
                eprintln!("  [n{node}] {line}");
            }
            continue;
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// The children, killed (SIGKILL) and reaped on drop if still running.
struct Children {
    procs: Vec<Option<Child>>,
    /// Pids of running children, for the signal handler.
    live: Arc<Mutex<Vec<u32>>>,
}

impl Children {
    fn push(&mut self, child: Child) {
        if let Ok(mut live) = self.live.lock() {
            live.push(child.id());
        }
        self.procs.push(Some(child));
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.procs[i].as_ref().map(Child::id)
    }

    /// Takes child `i` out of the set: its pid is no longer signalled.
    fn take(&mut self, i: usize) -> Option<Child> {
        let child = self.procs[i].take()?;
        if let Ok(mut live) = self.live.lock() {
            live.retain(|&p| p != child.id());
        }
        Some(child)
    }

    fn running(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].is_some())
            .collect()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for i in 0..self.procs.len() {
            if let Some(mut child) = self.take(i) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Installs a SIGINT/SIGTERM handler that SIGKILLs every child still listed and exits.
fn kill_children_on_signal(live: Arc<Mutex<Vec<u32>>>) {
    let installed = ctrlc::set_handler(move || {
        let pids: Vec<String> = live
            .lock()
            .map(|l| l.iter().map(u32::to_string).collect())
            .unwrap_or_default();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
        eprintln!("cluster_bench: interrupted; killed {} children", pids.len());
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!("cluster_bench: cannot handle SIGINT/SIGTERM ({e}); Ctrl-C may leave children");
    }
}

struct Cluster {
    chat: PathBuf,
    config: Preset,
    cluster_name: String,
    stats_every: u64,
    children: Children,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// Stats samples per node, in arrival order.
    samples: Vec<Vec<Sample>>,
    /// Events about members that were not expected at the time (phase, kind) → count.
    unexpected: BTreeMap<(String, String), usize>,
    /// The phase, for `unexpected`.
    phase: &'static str,
}

struct JoinResult {
    spawn_ms: u64,
    converged_ms: u64,
    since_first_ms: u64,
}

impl Cluster {
    fn new(chat: PathBuf, args: &Args, cluster_name: String) -> Result<Cluster> {
        let (tx, rx) = unbounded();
        let live = Arc::new(Mutex::new(Vec::new()));
        kill_children_on_signal(Arc::clone(&live));
        Ok(Cluster {
            chat,
            config: args.config,
            cluster_name,
            stats_every: args.stats_every,
            children: Children {
                procs: Vec::new(),
                live,
            },
            tx,
            rx,
            samples: Vec::new(),
            unexpected: BTreeMap::new(),
            phase: "join",
        })
    }

    fn name(i: usize) -> String {
        format!("n{i}")
    }

    /// Starts node `i`, joining through `seed` if given.
    fn spawn(&mut self, i: usize, seed: Option<&str>) -> Result<()> {
        let mut cmd = Command::new(&self.chat);
        cmd.args(["--headless", "--name", &Cluster::name(i)])
            .args(["--bind", "127.0.0.1:0"])
            .args(["--config", self.config.as_str()])
            .args(["--cluster", &self.cluster_name])
            .args(["--stats-every", &self.stats_every.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(seed) = seed {
            cmd.args(["--join", seed]);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.chat.display()))?;
        let out = child.stdout.take().ok_or("no stdout pipe")?;
        let err = child.stderr.take().ok_or("no stderr pipe")?;
        self.children.push(child);
        self.samples.push(Vec::new());
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("n{i}-out"))
            .spawn(move || read_stdout(i, out, tx))?;
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("n{i}-err"))
            .spawn(move || read_stderr(i, err, tx))?;
        Ok(())
    }

    /// The next event line, recording stats samples on the way; `None` at `deadline`.
    fn next_event(&mut self, deadline: Instant) -> Option<(usize, u64, String, String)> {
        loop {
            match self.rx.recv_deadline(deadline).ok()? {
                Msg::Event {
                    node,
                    ms,
                    kind,
                    member,
                } => return Some((node, ms, kind, member)),
                Msg::Stats { node, sample } => self.samples[node].push(sample),
                Msg::Listening { .. } => {}
            }
        }
    }

    fn note_unexpected(&mut self, kind: &str) {
        *self
            .unexpected
            .entry((self.phase.to_owned(), kind.to_owned()))
            .or_default() += 1;
    }

    fn unexpected_summary(&self) -> String {
        self.unexpected
            .iter()
            .map(|((phase, kind), count)| format!("{count} {kind} during {phase}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Starts `n` nodes and waits until each has seen every other join.
    fn start(&mut self, n: usize, timeout: Duration) -> Result<JoinResult> {
        let first_ms = unix_ms();
        self.spawn(0, None)?;
        let deadline = now() + Duration::from_secs(10);
        let seed = loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Msg::Listening { node: 0, addr }) => break addr,
                Ok(Msg::Stats { node, sample }) => self.samples[node].push(sample),
                Ok(_) => {}
                Err(_) => return Err("n0 did not report its address within 10 s".into()),
            }
        };
        for i in 1..n {
            self.spawn(i, Some(&seed))?;
        }
        let last_ms = unix_ms();
        let mut seen: Vec<HashSet<String>> = vec![HashSet::new(); n];
        let mut complete = 0;
        let mut converged_at = last_ms;
        let deadline = now() + timeout;
        while complete < n {
            let Some((node, ms, kind, member)) = self.next_event(deadline) else {
                let missing: Vec<String> = (0..n)
                    .filter(|&i| seen[i].len() < n - 1)
                    .map(|i| format!("n{i} saw {}", seen[i].len()))
                    .collect();
                return Err(format!(
                    "no join convergence within {} s: {}",
                    timeout.as_secs(),
                    missing.join(", ")
                )
                .into());
            };
            if kind != "join" {
                self.note_unexpected(&kind);
                continue;
            }
            if seen[node].insert(member) && seen[node].len() == n - 1 {
                complete += 1;
                converged_at = converged_at.max(ms);
            }
        }
        Ok(JoinResult {
            spawn_ms: last_ms - first_ms,
            converged_ms: converged_at.saturating_sub(last_ms),
            since_first_ms: converged_at.saturating_sub(first_ms),
        })
    }

    /// Lets the cluster idle for `window` and measures CPU, RSS and traffic.
    fn idle(&mut self, window: Duration, clk_tck: u64) -> Result<IdleResult> {
        self.phase = "idle";
        let nodes = self.children.running();
        let start_ms = unix_ms();
        let start_machine = machine_ticks();
        let start_cpu: Vec<Option<(u64, u64)>> = nodes
            .iter()
            .map(|&i| self.children.pid(i).and_then(cpu_reading))
            .collect();
        let deadline = now() + window;
        while let Some((_, _, kind, _)) = self.next_event(deadline) {
            self.note_unexpected(&kind);
        }
        let end_cpu: Vec<Option<(u64, u64)>> = nodes
            .iter()
            .map(|&i| self.children.pid(i).and_then(cpu_reading))
            .collect();
        let end_machine = machine_ticks();
        let end_ms = unix_ms();
        // Stats lines stamped up to end_ms may still be in flight: wait a moment for them.
        let settle = now() + Duration::from_millis(300);
        while let Some((_, _, kind, _)) = self.next_event(settle) {
            self.note_unexpected(&kind);
        }
        let secs = (end_ms - start_ms) as f64 / 1000.0;
        let mut per_node = Vec::new();
        for (k, &i) in nodes.iter().enumerate() {
            let (cpu_pct, tick_pct) = match (start_cpu[k], end_cpu[k]) {
                (Some((ns_a, ticks_a)), Some((ns_b, ticks_b))) => (
                    (ns_b - ns_a) as f64 / 1e9 / secs * 100.0,
                    (ticks_b - ticks_a) as f64 / clk_tck as f64 / secs * 100.0,
                ),
                _ => return Err(format!("cannot read /proc for n{i}").into()),
            };
            let pid = self.children.pid(i);
            let rss_kib = pid.and_then(|p| proc_status_kib(p, "VmRSS")).unwrap_or(0);
            let anon_kib = pid.and_then(|p| proc_status_kib(p, "RssAnon")).unwrap_or(0);
            let inside: Vec<&Sample> = self.samples[i]
                .iter()
                .filter(|s| s.ms >= start_ms && s.ms <= end_ms)
                .collect();
            let rates = match (inside.first(), inside.last()) {
                (Some(a), Some(b)) if b.ms > a.ms => {
                    let dt = (b.ms - a.ms) as f64 / 1000.0;
                    Some([
                        (b.packets_out - a.packets_out) as f64 / dt,
                        (b.packets_in - a.packets_in) as f64 / dt,
                        (b.bytes_out - a.bytes_out) as f64 / dt,
                        (b.bytes_in - a.bytes_in) as f64 / dt,
                    ])
                }
                _ => None,
            };
            per_node.push(NodeIdle {
                cpu_pct,
                tick_pct,
                rss_kib,
                anon_kib,
                rates,
            });
        }
        let machine_busy_pct = match (start_machine, end_machine) {
            (Some((busy_a, total_a)), Some((busy_b, total_b))) if total_b > total_a => {
                Some((busy_b - busy_a) as f64 / (total_b - total_a) as f64 * 100.0)
            }
            _ => None,
        };
        Ok(IdleResult {
            secs,
            per_node,
            machine_busy_pct,
        })
    }

    /// Kills nodes one at a time and measures how long the others take to report it.
    fn kills(&mut self, args: &Args) -> Result<Detection> {
        self.phase = "kills";
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let mut detection = Detection::default();
        for round in 0..args.kills {
            let candidates: Vec<usize> = self
                .children
                .running()
                .into_iter()
                .filter(|&i| i != 0)
                .collect();
            if candidates.is_empty() || self.children.running().len() < 3 {
                println!("  (stopping after {round} kills: too few nodes left)");
                break;
            }
            let victim = candidates[rng.random_range(0..candidates.len())];
            let name = Cluster::name(victim);
            let mut child = self.children.take(victim).ok_or("victim already gone")?;
            let killed_ms = unix_ms();
            child.kill()?;
            let _ = child.wait();
            let mut waiting: HashSet<usize> = self.children.running().into_iter().collect();
            let observers = waiting.len();
            let mut first_suspect: Option<u64> = None;
            let mut first_fail: Option<u64> = None;
            let mut latencies = Vec::new();
            let deadline = now() + Duration::from_secs(args.detect_timeout_secs);
            let mut other_events = 0;
            while !waiting.is_empty() {
                let Some((node, ms, kind, member)) = self.next_event(deadline) else {
                    break;
                };
                if member != name {
                    self.note_unexpected(&kind);
                    other_events += 1;
                    continue;
                }
                let after = ms.saturating_sub(killed_ms);
                match kind.as_str() {
                    "suspect" => {
                        first_suspect = Some(first_suspect.map_or(after, |f| f.min(after)));
                    }
                    "fail" => {
                        first_fail = Some(first_fail.map_or(after, |f| f.min(after)));
                        if waiting.remove(&node) {
                            latencies.push(after);
                        }
                    }
                    _ => {}
                }
            }
            let kill = Kill {
                victim: name,
                observers,
                reported: latencies.len(),
                first: first_suspect
                    .into_iter()
                    .chain(first_fail)
                    .min()
                    .unwrap_or(0),
                first_fail: first_fail.unwrap_or(0),
                all: latencies.iter().copied().max().unwrap_or(0),
            };
            println!(
                "  kill {}: {:>4}  first suspect/fail {:>6} ms, first fail {:>6} ms, \
                 all {}/{} reported fail after {:>6} ms{}",
                round + 1,
                kill.victim,
                kill.first,
                kill.first_fail,
                kill.reported,
                kill.observers,
                kill.all,
                if other_events > 0 {
                    format!(" ({other_events} events about other members!)")
                } else {
                    String::new()
                }
            );
            if kill.reported < kill.observers {
                let mut missing: Vec<String> = waiting.iter().map(|&i| format!("n{i}")).collect();
                missing.sort();
                println!(
                    "    not reported within {} s by: {}",
                    args.detect_timeout_secs,
                    missing.join(" ")
                );
            }
            detection.observer.extend(latencies);
            detection.kills.push(kill);
            if round + 1 < args.kills {
                let gap = now() + Duration::from_secs(args.gap_secs);
                while let Some((_, _, kind, _)) = self.next_event(gap) {
                    self.note_unexpected(&kind);
                }
            }
        }
        Ok(detection)
    }

    /// SIGTERMs every remaining child and waits up to `timeout`; SIGKILLs stragglers.
    /// Returns (exited with status 0, total).
    fn shutdown(&mut self, timeout: Duration) -> (usize, usize) {
        self.phase = "shutdown";
        let running = self.children.running();
        let pids: Vec<String> = running
            .iter()
            .filter_map(|&i| self.children.pid(i))
            .map(|p| p.to_string())
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-TERM").args(&pids).status();
        }
        let deadline = now() + timeout;
        let poll = tick(Duration::from_millis(50));
        let mut graceful = 0;
        let mut left: Vec<usize> = running.clone();
        while !left.is_empty() && now() < deadline {
            left.retain(|&i| {
                let Some(child) = self.children.procs[i].as_mut() else {
                    return false;
                };
                match child.try_wait() {
                    Ok(Some(status)) => {
                        if status.success() {
                            graceful += 1;
                        }
                        let _ = self.children.take(i);
                        false
                    }
                    Ok(None) => true,
                    Err(_) => false,
                }
            });
            let _ = poll.recv();
        }
        if !left.is_empty() {
            println!(
                "  {} processes did not exit within {} s: SIGKILL",
                left.len(),
                timeout.as_secs()
            );
        }
        // The drop guard SIGKILLs and reaps whatever is left.
        for i in left {
            if let Some(mut child) = self.children.take(i) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Drain the leave events and stats lines of the exits.
        while self.next_event(now()).is_some() {}
        (graceful, running.len())
    }
}

/// CPU time of a process in nanoseconds: the sum of its threads' run times from
/// `/proc/<pid>/task/<tid>/schedstat` (nanosecond resolution; utime + stime from
/// `/proc/<pid>/stat` count whole clock ticks, 10 ms, too coarse for an idle node).
fn proc_cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let schedstat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// utime + stime of a process, in clock ticks.
fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `RssAnon`, ...).
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// (busy, total) ticks of the whole machine, from the first line of /proc/stat.
/// (schedstat ns, utime + stime ticks) of a process.
fn cpu_reading(pid: u32) -> Option<(u64, u64)> {
    Some((proc_cpu_ns(pid)?, proc_cpu_ticks(pid)?))
}

fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest counted in user already).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

struct NodeIdle {
    /// CPU % of one core, from the threads' schedstat run times.
    cpu_pct: f64,
    /// The same from utime + stime (whole clock ticks), as a cross-check.
    tick_pct: f64,
    rss_kib: u64,
    /// The anonymous part of the RSS (heap, stacks, channel buffers), KiB.
    anon_kib: u64,
    /// packets out, packets in, bytes out, bytes in, per second.
    rates: Option<[f64; 4]>,
}

struct IdleResult {
    secs: f64,
    per_node: Vec<NodeIdle>,
    machine_busy_pct: Option<f64>,
}

impl IdleResult {
    fn cpu(&self) -> Vec<f64> {
        self.per_node.iter().map(|n| n.cpu_pct).collect()
    }

    fn rss_mib(&self) -> Vec<f64> {
        self.per_node
            .iter()
            .map(|n| n.rss_kib as f64 / 1024.0)
            .collect()
    }

    fn anon_mib(&self) -> Vec<f64> {
        self.per_node
            .iter()
            .map(|n| n.anon_kib as f64 / 1024.0)
            .collect()
    }

    fn rate(&self, k: usize) -> Vec<f64> {
        self.per_node
            .iter()
            .filter_map(|n| n.rates.map(|r| r[k]))
            .collect()
    }

    fn print(&self) {
        println!(
            "  window {:.1} s; machine busy {}; {} nodes together used {:.2} % of one core \
             ({:.2} % by utime + stime)",
            self.secs,
            self.machine_busy_pct
                .map_or("?".into(), |p| format!("{p:.1} % of all CPUs")),
            self.per_node.len(),
            self.cpu().iter().sum::<f64>(),
            self.per_node.iter().map(|n| n.tick_pct).sum::<f64>()
        );
        println!(
            "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "per node", "min", "median", "mean", "p90", "max"
        );
        let rows: [(&str, Vec<f64>); 7] = [
            ("CPU % of one core", self.cpu()),
            ("RSS MiB", self.rss_mib()),
            ("  of which anonymous MiB", self.anon_mib()),
            ("packets out /s", self.rate(0)),
            ("packets in /s", self.rate(1)),
            ("bytes out /s", self.rate(2)),
            ("bytes in /s", self.rate(3)),
        ];
        for (label, values) in rows {
            let s = FloatStats::of(&values);
            println!(
                "  {label:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                s.min, s.median, s.mean, s.p90, s.max
            );
        }
        let missing = self.per_node.iter().filter(|n| n.rates.is_none()).count();
        if missing > 0 {
            println!("  ({missing} nodes printed fewer than two stats lines in the window)");
        }
    }
}

#[derive(Default, Clone, Copy)]
struct FloatStats {
    min: f64,
    median: f64,
    mean: f64,
    p90: f64,
    max: f64,
}

impl FloatStats {
    fn of(values: &[f64]) -> FloatStats {
        if values.is_empty() {
            return FloatStats::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        FloatStats {
            min: v[0],
            median: median(&v),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p90: rank(0.9),
            max: v[v.len() - 1],
        }
    }
}

/// The median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])
    }
}

/// The nearest-rank `q` quantile of `values`.
fn quantile(values: &[u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

struct Kill {
    victim: String,
    observers: usize,
    reported: usize,
    /// Kill → first suspect or fail line anywhere, ms.
    first: u64,
    /// Kill → first fail line anywhere, ms.
    first_fail: u64,
    /// Kill → the last observer's fail line, ms (if all reported).
    all: u64,
}

#[derive(Default)]
struct Detection {
    kills: Vec<Kill>,
    /// Every (kill, observer) latency, ms.
    observer: Vec<u64>,
}

impl Detection {
    fn complete(&self) -> Vec<u64> {
        self.kills
            .iter()
            .filter(|k| k.reported == k.observers)
            .map(|k| k.all)
            .collect()
    }

    fn first(&self) -> Vec<u64> {
        self.kills.iter().map(|k| k.first).collect()
    }

    fn first_fail(&self) -> Vec<u64> {
        self.kills.iter().map(|k| k.first_fail).collect()
    }

    fn incomplete(&self) -> usize {
        self.kills
            .iter()
            .filter(|k| k.reported < k.observers)
            .count()
    }

    fn print(&self) {
        println!(
            "  {:<40} {:>5} {:>8} {:>8} {:>8} {:>8}",
            "latency from kill, ms", "n", "min", "p50", "p99", "max"
        );
        let rows = [
            ("first suspect/fail anywhere", self.first()),
            ("first fail anywhere", self.first_fail()),
            ("every other node reports fail", self.complete()),
            ("each observer's fail", self.observer.clone()),
        ];
        for (label, values) in rows {
            println!(
                "  {label:<40} {:>5} {:>8} {:>8} {:>8} {:>8}",
                values.len(),
                values.iter().copied().min().unwrap_or(0),
                quantile(&values, 0.5),
                quantile(&values, 0.99),
                values.iter().copied().max().unwrap_or(0)
            );
        }
        if self.incomplete() > 0 {
            println!(
                "  {} kills were not reported by every node in time",
                self.incomplete()
            );
        }
    }
}

struct Summary<'a> {
    n: usize,
    config: &'a str,
    join: &'a JoinResult,
    idle: &'a IdleResult,
    detection: &'a Detection,
}

impl Summary<'_> {
    fn print(&self) {
        let d = self.detection;
        let complete = d.complete();
        let cpu = FloatStats::of(&self.idle.cpu());
        let rss = FloatStats::of(&self.idle.rss_mib());
        let mut fields: Vec<(&str, String)> = vec![
            ("nodes", self.n.to_string()),
            ("config", self.config.to_owned()),
            ("join_ms", self.join.converged_ms.to_string()),
            ("kills", d.kills.len().to_string()),
            ("undetected", d.incomplete().to_string()),
            ("detect_p50_ms", quantile(&complete, 0.5).to_string()),
            ("detect_p99_ms", quantile(&complete, 0.99).to_string()),
            (
                "detect_max_ms",
                complete.iter().max().copied().unwrap_or(0).to_string(),
            ),
            ("first_p50_ms", quantile(&d.first(), 0.5).to_string()),
            ("observer_p50_ms", quantile(&d.observer, 0.5).to_string()),
            ("observer_p99_ms", quantile(&d.observer, 0.99).to_string()),
            ("idle_cpu_pct", format!("{:.3}", cpu.median)),
            ("idle_cpu_max_pct", format!("{:.3}", cpu.max)),
            ("rss_mib", format!("{:.2}", rss.median)),
            ("rss_max_mib", format!("{:.2}", rss.max)),
        ];
        let rates: HashMap<usize, f64> = (0..4)
            .map(|k| (k, FloatStats::of(&self.idle.rate(k)).median))
            .collect();
        fields.push(("pkts_per_node_s", format!("{:.2}", rates[&0])));
        fields.push(("pkts_in_per_node_s", format!("{:.2}", rates[&1])));
        fields.push(("bytes_per_node_s", format!("{:.0}", rates[&2])));
        fields.push(("bytes_in_per_node_s", format!("{:.0}", rates[&3])));
        if let Some(busy) = self.idle.machine_busy_pct {
            fields.push(("machine_busy_pct", format!("{busy:.1}")));
        }
        let line: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("summary {}", line.join(" "));
    }
}
