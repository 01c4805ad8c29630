//! Cluster benchmark: N headless chat processes on loopback, measured from the outside.
//!
//! ```text
//! cargo run --release --example cluster_bench -- --nodes 50
//! cargo run --release --example cluster_bench -- --nodes N [--config lan|wan|local]
//!     [--kills K] [--idle-secs S] [--seed S] [--gap-secs G] [--no-build]
//!     [--key-file PATH | --compare-encryption]
//! ```
//!
//! The unit is the headless mode of `examples/chat`: one process per node, each in a
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
//! With `--key-file PATH` every node seals with that key. With `--compare-encryption`
//! the whole sequence runs twice on one machine in one invocation, first plaintext, then
//! sealed with a key generated for the run (written to a file in the temporary directory
//! and removed at the end), and a last line gives the ratios sealed / plaintext:
//! `ratio_sealed_plain idle_cpu=.. rss=.. bytes_per_node_s=.. join_ms=.. detect_p50_ms=..`.
//!
//! Output: tables on stdout, then one line
//! `summary nodes=.. config=.. join_ms=.. detect_p50_ms=.. detect_p99_ms=.. ...`.
//! "detect" is kill → the last live node reports the failure, one sample per kill;
//! "observer" latencies are every (kill, observer) pair; "first" is kill → first
//! `suspect` (or `fail`) line anywhere. Packet and byte rates are per node per second,
//! sent (`out`) and received (`in`). Linux only (`/proc`).

mod children;
mod cluster;
mod detection;
mod encryption;
mod idle;
mod join;
mod procfs;
mod stats;
mod summary;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};

use crate::children::{chat_binary, kill_children_on_signal};
use crate::cluster::Cluster;
use crate::procfs::{clock_ticks, cpu_model};
use crate::summary::Summary;

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

    /// Every node seals with the key in this file (`chat --gen-key` makes one).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// Run the sequence plaintext, then sealed with a generated key, and print the
    /// ratios.
    #[arg(long, conflicts_with = "key_file")]
    compare_encryption: bool,
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
    println!(
        "  machine: {} logical CPUs, {}; CLK_TCK {clk_tck}; load average {}",
        thread::available_parallelism().map_or(0, |p| p.get()),
        cpu_model(),
        std::fs::read_to_string("/proc/loadavg").map_or_else(
            |_| "?".into(),
            |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        )
    );
    let live = Arc::new(Mutex::new(Vec::new()));
    kill_children_on_signal(Arc::clone(&live));
    if args.compare_encryption {
        return encryption::compare(args, &chat, &live);
    }
    run_once(args, &chat, args.key_file.as_deref(), &live).map(|_| ())
}

/// One pass of the sequence (join, idle, kills, shutdown) over `n` fresh processes,
/// sealing with `key_file` if given; prints its tables and summary line.
fn run_once(
    args: &Args,
    chat: &Path,
    key_file: Option<&Path>,
    live: &Arc<Mutex<Vec<u32>>>,
) -> Result<Summary> {
    let clk_tck = clock_ticks();
    let n = usize::try_from(args.nodes)?;
    let cluster_name = format!("bench-{}-{}", std::process::id(), unix_ms());
    println!(
        "cluster_bench: {n} nodes, config {}, cluster {cluster_name}, {}, chat {}",
        args.config.as_str(),
        key_file.map_or("plaintext".to_owned(), |k| format!(
            "sealed ({})",
            k.display()
        )),
        chat.display()
    );
    let mut cluster = Cluster::new(
        chat.to_path_buf(),
        args,
        cluster_name,
        key_file,
        Arc::clone(live),
    )?;

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

    let summary = Summary::new(n, args.config.as_str(), &join, &idle, &detection);
    println!();
    summary.print();
    Ok(summary)
}
