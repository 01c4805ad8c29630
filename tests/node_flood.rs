//! A flood on real sockets: one node of a small loopback cluster receives at least 50,000
//! hostile datagrams a second for 30 seconds (garbage, and forged datagrams of the right
//! cluster: pings, ping-reqs, acks and nacks nobody asked for, `alive`s about names nobody
//! holds, suspicions and deaths at incarnations no member could have, ...; see
//! `flood/forged.rs`), and must stay a healthy member: its peers never suspect it or
//! declare it failed, and a newcomer joins through it while the flood runs.
//!
//! The assertions are about behaviour only; a loaded two-core machine runs this with the
//! rest of the suite. What the flood cost (rate reached, CPU of the flooded node's
//! threads, memory, drops by reason) is printed: run with `-- --nocapture`.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "flood/forged.rs"]
mod forged;
#[path = "flood/probe.rs"]
mod probe;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{Cluster, WAIT, observe_for, wait_until};
use epidemic::{MemberState, Stats};

/// The rate the sender is paced to: above the 50,000 a second asked for, so a sender that
/// loses a little to a busy machine still reaches it. `EPIDEMIC_FLOOD_RATE` overrides it
/// (to measure other rates).
const TARGET_RATE: f64 = 60_000.0;
/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(30);
/// When, into the flood, the newcomer joins.
const JOIN_AFTER: Duration = Duration::from_secs(10);
/// The quiet stretch before the flood whose CPU is the baseline.
const QUIET: Duration = Duration::from_secs(3);
/// Distinct datagrams the sender cycles through.
const POOL: usize = 12 * 1024;
/// How far behind its schedule the sender may fall before it gives up on catching up (a
/// sender descheduled for a while does not then burst for as long).
const MAX_LAG: f64 = 0.05;

/// What the sender did.
struct Sent {
    datagrams: u64,
    elapsed: Duration,
    errors: u64,
}

/// The sender thread and its stop flag.
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Sent>>,
}

impl Flood {
    /// Starts sending `pool` to `to` at [`TARGET_RATE`] until stopped or [`FLOOD`] is up.
    fn start(to: SocketAddr, pool: Vec<Vec<u8>>) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name("flood-sender".into())
            .spawn(move || send(to, &pool, &flag))
            .unwrap();
        Flood {
            stop,
            thread: Some(thread),
        }
    }

    /// Whether the sender is still sending.
    fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits until the sender is done (it stops by itself after [`FLOOD`]).
    fn finish(mut self) -> Sent {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The sender's loop: keeps the count sent up with `elapsed × rate`, in bursts, and waits
/// for the next half millisecond when it has caught up.
fn send(to: SocketAddr, pool: &[Vec<u8>], stop: &AtomicBool) -> Sent {
    let rate = std::env::var("EPIDEMIC_FLOOD_RATE")
        .ok()
        .and_then(|r| r.parse::<f64>().ok())
        .unwrap_or(TARGET_RATE);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = now();
    let (mut sent, mut skipped, mut errors) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let elapsed = start.elapsed();
        if elapsed >= FLOOD {
            break;
        }
        let due = (elapsed.as_secs_f64() * rate) as u64;
        let lag = due.saturating_sub(sent + skipped);
        if lag as f64 > MAX_LAG * rate {
            skipped += lag - (MAX_LAG * rate) as u64;
        }
        while sent + skipped < due {
            let bytes = &pool[(sent as usize) % pool.len()];
            if socket.send_to(bytes, to).is_err() {
                errors += 1;
            }
            sent += 1;
        }
        // Pacing, not synchronisation: nothing waits on the sender.
        let _ = crossbeam_channel::after(Duration::from_micros(500)).recv();
    }
    Sent {
        datagrams: sent,
        elapsed: start.elapsed(),
        errors,
    }
}

/// The clock, read to pace the sender and to turn counts into rates.
#[allow(clippy::disallowed_methods)] // Measurement and pacing, never a wait.
fn now() -> Instant {
    Instant::now()
}

/// CPU time of the threads of node `name` so far (zero where `/proc` is missing).
fn node_cpu(name: &str) -> Duration {
    actor_cpu(name, "")
}

/// CPU time so far of the threads of node `name` whose actor name starts with `actor`.
fn actor_cpu(name: &str, actor: &str) -> Duration {
    probe::cpu_of_threads(&format!("epidemic/{name}/{actor}"))
        .map_or(Duration::ZERO, |(cpu, _)| cpu)
}

/// The drop and refusal counters of `stats`, named, as the report prints them.
fn drops(stats: &Stats) -> [(&'static str, u64); 11] {
    [
        ("dropped_malformed", stats.dropped_malformed),
        ("dropped_oversized", stats.dropped_oversized),
        ("dropped_wrong_version", stats.dropped_wrong_version),
        ("dropped_wrong_cluster", stats.dropped_wrong_cluster),
        ("dropped_queue_full", stats.dropped_queue_full),
        ("refused_incarnations", stats.refused_incarnations),
        ("refused_members", stats.refused_members),
        ("refused_probes", stats.refused_probes),
        ("refused_aggregates", stats.refused_aggregates),
        ("events_dropped", stats.events_dropped),
        ("send_failed", stats.send_failed),
    ]
}

#[test]
fn a_flooded_node_stays_a_healthy_member_and_admits_a_newcomer() {
    let mut cluster = Cluster::start("node-flood", "fl", 3, 5100);
    let flooded = cluster.name(0);
    let peers = cluster.others(&[0]);
    let target = forged::Target {
        cluster: cluster.config.cluster_id(),
        node: flooded.clone(),
        members: peers.iter().map(|&i| cluster.name(i)).collect(),
    };
    let pool = forged::pool(&target, POOL, cluster.config.mtu, 5100);
    let to = cluster.node(0).local_addr();
    let suspected = |seen: &common::Seen| {
        let common::Observed::Event(event) = &seen.what else {
            return None;
        };
        let about_flooded = event.member().name.as_str() == flooded;
        (about_flooded && seen.observer != flooded && matches!(event.kind(), "suspect" | "fail"))
            .then(|| format!("{} reported `{event}`", seen.observer))
    };

    // The quiet baseline.
    let (cpu0, wall0) = (node_cpu(&flooded), now());
    observe_for(QUIET, &cluster.tap, suspected);
    let quiet_cpu = probe::percent_of_core(node_cpu(&flooded) - cpu0, wall0.elapsed());

    let quiet_rtt: Vec<_> = peers
        .iter()
        .map(|&i| cluster.node(i).stats().probe_rtt)
        .collect();
    let (before, rss_before, kdrops_before) = (
        cluster.node(0).stats(),
        probe::rss_kib(),
        probe::kernel_drops(to),
    );
    let (cpu1, wall1) = (node_cpu(&flooded), now());
    // Of the 15 bytes Linux keeps, `epidemic/fl-0/` leaves one for the actor: `r`eactor
    // and `m`embership are told apart.
    let (reactor1, membership1) = (actor_cpu(&flooded, "r"), actor_cpu(&flooded, "m"));
    let flood = Flood::start(to, pool);

    // Into the flood, a newcomer joins through the flooded node.
    observe_for(JOIN_AFTER, &cluster.tap, suspected);
    assert!(
        flood.running(),
        "the flood ended before the newcomer joined"
    );
    let newcomer = cluster.add("fl-3", 5103, 0);
    let honest: Vec<usize> = (0..cluster.nodes.len()).collect();
    let names: Vec<String> = honest.iter().map(|&i| cluster.name(i)).collect();
    wait_until(
        WAIT,
        || {
            format!(
                "every honest node sees every other alive:\n{}",
                describe_honest(&cluster)
            )
        },
        || {
            honest.iter().all(|&i| {
                names.iter().all(|n| {
                    cluster
                        .node(i)
                        .member(n)
                        .is_some_and(|m| m.state == MemberState::Alive)
                })
            })
        },
    );
    assert!(
        flood.running(),
        "the flood ended before the newcomer was in"
    );
    let joined_at = wall1.elapsed();

    // The rest of the flood.
    let sent = flood.finish();
    let flood_cpu = probe::percent_of_core(node_cpu(&flooded) - cpu1, wall1.elapsed());
    let reactor_cpu = probe::percent_of_core(actor_cpu(&flooded, "r") - reactor1, wall1.elapsed());
    let membership_cpu =
        probe::percent_of_core(actor_cpu(&flooded, "m") - membership1, wall1.elapsed());
    let (after, rss_after) = (cluster.node(0).stats(), probe::rss_kib());
    let kdrops = probe::kernel_drops(to)
        .zip(kdrops_before)
        .map(|(a, b)| a - b);
    while let Ok(seen) = cluster.tap.try_recv() {
        if let Some(why) = suspected(&seen) {
            panic!("during the flood: {why}");
        }
    }

    let rate = sent.datagrams as f64 / sent.elapsed.as_secs_f64();
    println!(
        "flood of {flooded}: {} datagrams in {:.1?} = {rate:.0}/s ({} send errors); newcomer in after {joined_at:.1?}",
        sent.datagrams, sent.elapsed, sent.errors
    );
    println!(
        "  CPU of {flooded}'s threads: {quiet_cpu:.1} % of a core quiet, {flood_cpu:.1} % flooded \
         (reactor {reactor_cpu:.1} %, membership {membership_cpu:.1} %)"
    );
    println!(
        "  RSS of the process: {rss_before:?} KiB -> {rss_after:?} KiB; {flooded} holds {} members \
         ({} alive, {} suspect, {} dead), max_members {}",
        after.members.alive + after.members.suspect + after.members.dead + after.members.left,
        after.members.alive,
        after.members.suspect,
        after.members.dead,
        cluster.config.max_members
    );
    println!(
        "  datagrams counted in: {}; dropped by the kernel (receive buffer full): {kdrops:?}",
        after.packets_in - before.packets_in
    );
    for ((what, a), (_, b)) in drops(&after).into_iter().zip(drops(&before)) {
        println!("  {what}: {}", a - b);
    }
    for (&i, quiet) in peers.iter().zip(&quiet_rtt) {
        let rtt = cluster.node(i).stats().probe_rtt;
        println!(
            "  {}'s probe RTT: before the flood p50 {:?}, p99 {:?}; to the end p50 {:?}, p99 {:?}, max {:?} ({} samples)",
            cluster.name(i),
            quiet.p50,
            quiet.p99,
            rtt.p50,
            rtt.p99,
            rtt.max,
            rtt.samples
        );
    }
    println!(
        "  forged kinds (equal shares): {}",
        forged::kinds().join(", ")
    );

    // The flood reached the node, and nothing of it made anyone doubt the node.
    let counted = after.dropped_total() + after.refused_incarnations + after.refused_probes
        - before.dropped_total()
        - before.refused_incarnations
        - before.refused_probes;
    assert!(
        counted > 10_000,
        "only {counted} forged datagrams were counted"
    );
    // Forged suspicions of the node far beyond its incarnation are each taken at the gossip
    // jump and refuted, but at most a burst of four and then one a second
    // (`JUMPS_ABOUT_SELF_*` in `src/protocol/membership.rs`); anything more would mean a
    // blind forger could drive the node's incarnation up a jump per datagram.
    let refutations = after.refutations - before.refutations;
    let allowed = 4 + wall1.elapsed().as_secs() + 1;
    assert!(
        refutations <= allowed,
        "{flooded} refuted {refutations} forged claims (at most {allowed} allowed)"
    );
    for &i in &honest[1..] {
        let logs = &cluster.node(i).logs;
        assert_eq!(
            logs.count("suspect", &flooded),
            0,
            "{} suspected {flooded}",
            cluster.name(i)
        );
        assert_eq!(
            logs.count("fail", &flooded),
            0,
            "{} failed {flooded}",
            cluster.name(i)
        );
    }
    // No ghost got in: the flooded node and the newcomer hold the honest members only.
    for i in [0, newcomer] {
        let held: Vec<String> = cluster
            .node(i)
            .members()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        assert_eq!(
            held,
            names,
            "{} holds more than the honest members",
            cluster.name(i)
        );
    }
}

/// The honest nodes' views of the honest members (ghosts left out: there may be many).
fn describe_honest(cluster: &Cluster) -> String {
    let honest: Vec<String> = (0..cluster.nodes.len()).map(|i| cluster.name(i)).collect();
    let mut out = String::new();
    for node in &cluster.nodes {
        let view: Vec<String> = honest
            .iter()
            .map(|n| match node.member(n) {
                Some(m) => common::describe_member(&m),
                None => format!("{n} unknown"),
            })
            .collect();
        let stats = node.stats();
        let m = stats.members;
        out.push_str(&format!(
            "  {}: [{}] of {} alive, {} suspect, {} dead; queue-full drops {}, packets out {}\n",
            node.name(),
            view.join(", "),
            m.alive,
            m.suspect,
            m.dead,
            stats.dropped_queue_full,
            stats.packets_out,
        ));
    }
    out
}
