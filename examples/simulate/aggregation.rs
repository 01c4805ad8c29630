//! `aggregation`: push-sum relative error vs rounds, under loss, and with 5 % of the nodes
//! crashing mid-epoch (recovery in the next epochs).
//!
//! Methodology: N bootstrapped nodes on the LAN model (`--loss` applies), each publishing
//! a seeded value in [0, 100) under the name `load`. Every node's rounds fall on the same
//! grid, so the tool samples half an interval after each round, when nothing is in flight.
//! The error of a round is the largest, over live nodes, of the relative errors of
//! `avg = value/ones`, `count = ones/weight` and `sum = value/weight` (infinite while a
//! node holds no weight). `rounds` is the first round of epoch 0 with error ≤ 1e-6;
//! `bound` is THEORY.md §5's target 1.5 × (log2 N + log2 1e6). Then, 32 rounds into epoch
//! 1, 5 % of the nodes crash; the tool records each following epoch's error at its last
//! round, against the survivors' truth, and reports the first epoch back under 1e-6.
//!
//! Writes `aggregation_rounds.csv` (round, error) and `aggregation_epochs.csv` (epoch,
//! error at its end). Not wired into `main.rs` yet: add `mod aggregation;`, a `Scenario::
//! Aggregation` variant named `aggregation` and `Scenario::Aggregation =>
//! aggregation::run(&ctx)`.

use std::time::Duration;

use epidemic::sim::{Fault, NodeId, Simulation};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Summary, fmt};

const NAME: &str = "load";
const EPSILON: f64 = 1e-6;
/// Epochs observed after the crash.
const EPOCHS_AFTER: u64 = 5;

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let config = common::config(ctx.lifeguard.unwrap_or(true));
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, false);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xa66e_6a7e);
    let values: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..100.0)).collect();
    for (i, v) in values.iter().enumerate() {
        sim.publish(NodeId(i), NAME, *v)
            .map_err(|e| e.to_string())?;
    }
    let step = config.aggregation_interval;
    let epoch_rounds = config.aggregation_epoch_rounds;
    let bound = 1.5 * ((n as f64).log2() + (1.0 / EPSILON).log2());

    // Epoch 0: error after every round.
    let mut rows = Vec::new();
    let mut reached = None;
    let mut last = f64::INFINITY;
    for round in 1..=epoch_rounds {
        next_round(&mut sim, step)?;
        last = error(&sim, &values, &[]);
        rows.push(format!("{round},{last:e}"));
        if reached.is_none() && last <= EPSILON {
            reached = Some(round);
        }
        if !ctx.quiet && round % 8 == 0 {
            eprintln!("[aggregation] round {round}: error {last:e}");
        }
    }
    common::write_csv(
        &ctx.path("aggregation_rounds.csv"),
        "round,rel_error",
        &rows,
    )?;

    // Epoch 1: 5 % crash 32 rounds in; then the error at the end of each epoch.
    for _ in 0..32 {
        next_round(&mut sim, step)?;
    }
    let crashes = (n / 20).max(1);
    let mut dead: Vec<usize> = Vec::new();
    while dead.len() < crashes {
        let i = rng.random_range(0..n);
        if !dead.contains(&i) {
            dead.push(i);
            sim.fault(Fault::Crash(NodeId(i)));
        }
    }
    let crash_epoch = max_epoch(&sim);
    let mut epochs = Vec::new();
    let mut recovered = None;
    let mut crash_error = 0.0;
    while max_epoch(&sim) < crash_epoch + EPOCHS_AFTER {
        let epoch = max_epoch(&sim);
        next_round(&mut sim, step)?;
        if max_epoch(&sim) != epoch {
            continue;
        }
        let (_, round) = sim.aggregation_epoch(NodeId(live(n, &dead)));
        if round == epoch_rounds {
            let e = error(&sim, &values, &dead);
            epochs.push(format!("{epoch},{e:e}"));
            if epoch == crash_epoch {
                crash_error = e;
            } else if recovered.is_none() && e <= EPSILON {
                recovered = Some(epoch - crash_epoch);
            }
        }
    }
    common::write_csv(
        &ctx.path("aggregation_epochs.csv"),
        "epoch,rel_error_at_end",
        &epochs,
    )?;
    let mut s = Summary::new();
    s.kv("loss_pct", fmt(loss, 1))
        .kv("rel_error", format!("{last:e}"))
        .kv(
            "rounds",
            reached.map_or("none".to_string(), |r| r.to_string()),
        )
        .kv("bound", fmt(bound, 1))
        .kv("crashed", crashes)
        .kv("crash_epoch_rel_error", format!("{crash_error:e}"))
        .kv(
            "recovered_after_epochs",
            recovered.map_or("none".to_string(), |e| e.to_string()),
        )
        .kv("wall_s", fmt(ctx.wall_s(), 2));
    Ok(s)
}

/// Runs to half an interval after the next round.
fn next_round(sim: &mut Simulation, step: Duration) -> Result<(), String> {
    let step = step.as_micros() as u64;
    let now = sim.now().as_micros() as u64;
    let next_mid = (now / step + 1) * step + step / 2;
    sim.run_for(Duration::from_micros(next_mid - now))
        .map_err(|v| v.to_string())
}

fn live(n: usize, dead: &[usize]) -> usize {
    (0..n).find(|i| !dead.contains(i)).unwrap_or(0)
}

fn max_epoch(sim: &Simulation) -> u64 {
    (0..sim.node_count())
        .filter(|&i| sim.is_up(NodeId(i)))
        .map(|i| sim.aggregation_epoch(NodeId(i)).0)
        .max()
        .unwrap_or(0)
}

/// The largest relative error of avg, count and sum over the live nodes, against the
/// live publishers' truth.
fn error(sim: &Simulation, values: &[f64], dead: &[usize]) -> f64 {
    let alive: Vec<f64> = (0..values.len())
        .filter(|i| !dead.contains(i))
        .map(|i| values[i])
        .collect();
    let sum: f64 = alive.iter().sum();
    let count = alive.len() as f64;
    let avg = sum / count;
    let rel = |x: f64, t: f64| (x - t).abs() / t.abs();
    (0..values.len())
        .filter(|i| !dead.contains(i))
        .map(|i| match sim.aggregate_mass(NodeId(i), NAME) {
            Some(m) if m.weight > 0.0 && m.ones > 0.0 => rel(m.value / m.ones, avg)
                .max(rel(m.ones / m.weight, count))
                .max(rel(m.value / m.weight, sum)),
            _ => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}
