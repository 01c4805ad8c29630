//! Probe round trips under a broadcast flood: do acks wait behind user broadcasts?
//!
//! ```text
//! cargo run --release --example probe_latency -- [--nodes 5] [--secs 10]
//!     [--broadcasters 1] [--threads 1] [--mode gossip|point-to-point|eager-flood]
//! ```
//! Starts a loopback cluster with [`Config::local`] (200 ms probe interval, 100 ms probe
//! timeout) twice: once quiet, once while `--broadcasters` nodes broadcast as fast as
//! [`Node::broadcast`] accepts, from `--threads` threads each (a refusal because the queue
//! is full is retried at once), in the broadcast mode given. For each phase it prints every
//! node's probe round trips ([`epidemic::Stats::probe_rtt`]: ping sent to first ack), the
//! suspicions raised and its datagram counts, then one `summary` line with the worst
//! node's figures. Within the machine's capacity no probe should wait more than a few
//! milliseconds and no suspicion should be raised, flood or not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::after;
use epidemic::{BroadcastError, BroadcastMode, Config, LatencySummary, Node, Stats};

/// Command-line settings.
struct Args {
    nodes: usize,
    secs: u64,
    threads: usize,
    broadcasters: usize,
    mode: BroadcastMode,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nodes: 5,
        secs: 10,
        threads: 1,
        broadcasters: 1,
        mode: Config::local().broadcast_mode,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        if flag == "--mode" {
            args.mode = match value.as_str() {
                "gossip" => Config::local().broadcast_mode,
                "point-to-point" => BroadcastMode::PointToPoint,
                "eager-flood" => BroadcastMode::EagerFlood,
                other => return Err(format!("unknown mode {other}")),
            };
            continue;
        }
        let number: u64 = value.parse().map_err(|_| format!("{flag}: not a number"))?;
        match flag.as_str() {
            "--nodes" => args.nodes = usize::try_from(number).map_err(|e| e.to_string())?,
            "--secs" => args.secs = number,
            "--threads" => args.threads = usize::try_from(number).map_err(|e| e.to_string())?,
            "--broadcasters" => {
                args.broadcasters = usize::try_from(number).map_err(|e| e.to_string())?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.nodes < 2 || args.secs == 0 || args.broadcasters > args.nodes {
        return Err("need at least 2 nodes, 1 second, and no more broadcasters than nodes".into());
    }
    Ok(args)
}

/// What one phase measured.
struct Phase {
    stats: Vec<Stats>,
    broadcasts: u64,
    secs: f64,
}

impl Phase {
    fn print(&self, name: &str) {
        println!("== {name}");
        for (i, s) in self.stats.iter().enumerate() {
            let r = s.probe_rtt;
            println!(
                "  node {i}: {} probes acked, rtt p50 {} p90 {} p99 {} max {}, {} suspicions; datagrams {} in, {} out, {} dropped at a full queue, {} refused by the socket",
                r.samples,
                us(r.p50),
                us(r.p90),
                us(r.p99),
                us(r.max),
                s.suspicions,
                s.packets_in,
                s.packets_out,
                s.dropped_queue_full,
                s.send_failed
            );
        }
        if self.broadcasts > 0 {
            println!(
                "  {} broadcasts accepted ({:.0}/s)",
                self.broadcasts,
                self.broadcasts as f64 / self.secs
            );
        }
    }

    /// The worst node's quantiles.
    fn worst(&self) -> LatencySummary {
        let mut worst = LatencySummary::default();
        for s in &self.stats {
            let r = s.probe_rtt;
            worst.samples += r.samples;
            worst.p50 = worst.p50.max(r.p50);
            worst.p90 = worst.p90.max(r.p90);
            worst.p99 = worst.p99.max(r.p99);
            worst.max = worst.max.max(r.max);
        }
        worst
    }

    fn suspicions(&self) -> u64 {
        self.stats.iter().map(|s| s.suspicions).sum()
    }
}

/// The example times its phases on the wall clock (the library never reads it outside its
/// runtime; an application may).
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn us(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

fn cluster(args: &Args, name: &str) -> Result<Vec<Arc<Node>>, Box<dyn std::error::Error>> {
    let n = args.nodes;
    let mut config = Config::local();
    config.cluster = name.into();
    config.broadcast_mode = args.mode;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let node = Node::builder(format!("{name}-{i}"))
            .bind("127.0.0.1:0")
            .config(config.clone())
            .start()?;
        nodes.push(Arc::new(node));
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join(&[seed])?;
    }
    let deadline = after(Duration::from_secs(20));
    while !nodes.iter().all(|node| node.alive_members().len() == n) {
        if deadline.try_recv().is_ok() {
            return Err("the cluster did not converge in 20 s".into());
        }
        let _ = after(Duration::from_millis(20)).recv();
    }
    Ok(nodes)
}

/// Runs one phase on a fresh cluster: `threads` broadcasters on node 0 (none when 0).
fn phase(args: &Args, name: &str, threads: usize) -> Result<Phase, Box<dyn std::error::Error>> {
    let nodes = cluster(args, name)?;
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = now();
    let broadcasters: Vec<_> = (0..threads * args.broadcasters)
        .map(|t| {
            let node = nodes[t % args.broadcasters].clone();
            let (stop, accepted) = (stop.clone(), accepted.clone());
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let payload = format!("flood {t}/{i} {}", "x".repeat(64));
                    match node.broadcast(payload.into_bytes()) {
                        Ok(()) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                        }
                        Err(BroadcastError::QueueFull(_)) => thread::yield_now(),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let _ = after(Duration::from_secs(args.secs)).recv();
    stop.store(true, Ordering::Relaxed);
    for b in broadcasters {
        let _ = b.join();
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = nodes.iter().map(|n| n.stats()).collect();
    Ok(Phase {
        stats,
        broadcasts: accepted.load(Ordering::Relaxed),
        secs,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let quiet = phase(&args, "quiet", 0)?;
    quiet.print("quiet cluster");
    let flood = phase(&args, "flood", args.threads)?;
    flood.print(&format!(
        "node 0 broadcasting from {} threads",
        args.threads
    ));
    let (q, f) = (quiet.worst(), flood.worst());
    println!(
        "summary example=probe_latency nodes={} secs={} broadcasters={} threads={} mode={:?} quiet_p50_us={} quiet_p99_us={} quiet_max_us={} flood_p50_us={} flood_p99_us={} flood_max_us={} quiet_suspicions={} flood_suspicions={} broadcasts_per_s={:.0}",
        args.nodes,
        args.secs,
        args.broadcasters,
        args.threads,
        args.mode,
        q.p50.as_micros(),
        q.p99.as_micros(),
        q.max.as_micros(),
        f.p50.as_micros(),
        f.p99.as_micros(),
        f.max.as_micros(),
        quiet.suspicions(),
        flood.suspicions(),
        flood.broadcasts as f64 / flood.secs
    );
    Ok(())
}
