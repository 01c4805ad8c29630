//! Cluster-wide statistics without a coordinator: eight nodes on loopback each publish a
//! (fake) load; every node estimates how many nodes there are, the total and the average
//! load by push-sum gossip. Then one node stops, and the next epochs' estimates drop it.
//!
//! ```text
//! cargo run --example cluster_stats
//! ```
//! Exits by itself, well within a minute.

use std::time::Duration;

use crossbeam_channel::{after, select, tick};
use epidemic::{Config, Estimate, Node};

const N: usize = 8;
const NAME: &str = "load";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::local();
    config.cluster = "cluster-stats".into();
    let mut nodes = Vec::new();
    for i in 0..N {
        let mut builder = Node::builder(format!("stats-{i}"))
            .bind("127.0.0.1:0")
            .config(config.clone());
        if i == 0 {
            builder = builder.on_estimate(|name, e| {
                println!(
                    "  [stats-0 settled] {name} epoch {}: N = {}, sum = {:.3}, avg = {:.4}",
                    e.epoch,
                    e.nodes(),
                    e.sum,
                    e.avg
                );
            });
        }
        nodes.push(builder.start()?);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join(&[seed])?;
    }
    wait("every node sees all eight", Duration::from_secs(15), || {
        nodes.iter().all(|n| n.alive_members().len() == N)
    })?;
    let load = |i: usize| 0.15 * (i + 1) as f64;
    for (i, node) in nodes.iter().enumerate() {
        node.publish(NAME, load(i))?;
    }
    let total: f64 = (0..N).map(load).sum();
    println!(
        "{N} nodes publish `{NAME}`; truth: N = {N}, sum = {total:.3}, avg = {:.4}",
        total / N as f64
    );

    watch(&nodes[0], Duration::from_secs(15), |e| {
        e.converged && e.nodes() == N as u64
    })?;

    let stopped = nodes.pop().ok_or("no node")?;
    println!("stopping {} (load {:.2})", stopped.name(), load(N - 1));
    stopped.stop();
    let rest: f64 = (0..N - 1).map(load).sum();
    println!(
        "truth now: N = {}, sum = {rest:.3}, avg = {:.4}",
        N - 1,
        rest / (N - 1) as f64
    );
    let crash_epoch = nodes[0].estimate(NAME).map_or(0, |e| e.epoch);
    watch(&nodes[0], Duration::from_secs(30), |e| {
        e.converged && e.epoch > crash_epoch + 1 && e.nodes() == (N - 1) as u64
    })?;
    for node in &nodes {
        let e = node.estimate(NAME).ok_or("no estimate")?;
        println!("  {}: {}", node.name(), line(&e));
    }
    Ok(())
}

/// Prints node 0's estimate every 300 ms until `done` holds (or `limit` passes).
fn watch(
    node: &Node,
    limit: Duration,
    done: impl Fn(&Estimate) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let ticker = tick(Duration::from_millis(300));
    let deadline = after(limit);
    loop {
        select! {
            recv(ticker) -> _ => {
                let Some(e) = node.estimate(NAME) else {
                    println!("  {}: no estimate yet", node.name());
                    continue;
                };
                println!("  {}: {}", node.name(), line(&e));
                if done(&e) {
                    return Ok(());
                }
            }
            recv(deadline) -> _ => return Err("estimates did not settle in time".into()),
        }
    }
}

fn line(e: &Estimate) -> String {
    format!(
        "epoch {:>3} round {:>2}  N ≈ {:<10.6} sum ≈ {:<10.6} avg ≈ {:<8.6} min {:.2} max {:.2}{}",
        e.epoch,
        e.rounds,
        e.count,
        e.sum,
        e.avg,
        e.min,
        e.max,
        if e.converged { "  (settled)" } else { "" }
    )
}

/// Polls `cond` every 20 ms, at most `limit`.
fn wait(
    what: &str,
    limit: Duration,
    cond: impl Fn() -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let ticker = tick(Duration::from_millis(20));
    let deadline = after(limit);
    while !cond() {
        select! {
            recv(ticker) -> _ => {}
            recv(deadline) -> _ => return Err(format!("timed out waiting until {what}").into()),
        }
    }
    Ok(())
}
