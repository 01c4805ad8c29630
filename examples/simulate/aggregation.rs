//! `aggregation`: push-sum relative error vs rounds, under loss, and with 5 % of the nodes
//! (`--crash-pct`) crashing mid-epoch (recovery in the next epochs).
//!
//! Methodology: N bootstrapped nodes on the LAN model (`--loss` applies), each publishing
//! a seeded value in [0, 100) under the name `load`. Every node's rounds fall on the same
//! grid (all nodes start at t = 0 and the aggregation timer has no random phase), so the
//! tool samples half an interval after each round, when nothing is in flight. The error of
//! a round is the largest, over live nodes, of the relative errors of `avg = value/ones`,
//! `count = ones/weight` and `sum = value/weight` (infinite while a node holds no weight).
//! `rounds` is the first round of epoch 0 with error ≤ 1e-6; `theory_rounds` is
//! log2 N + log2(1/1e-6) (THEORY.md §5, constant 1 assumed) and `bound` 1.5 × that. Then,
//! 32 rounds into epoch 1, 5 % of the nodes crash; the tool keeps sampling every round,
//! records each epoch's error at its last round against the survivors' truth, and reports
//! the first epoch after the crash that ends under 1e-6. With `--crash-pct 0` nothing
//! crashes and the run ends after epoch 1 (10,000 nodes fit this machine's memory, but not
//! also the failure detector's bookkeeping for 500 simultaneous crashes).
//!
//! Writes `aggregation_rounds.csv` (epoch 0: round, error), `aggregation_timeline.csv`
//! (every round of the run), `aggregation_epochs.csv` (epoch, error at its end) and two
//! log-scale SVGs of the same.

use std::time::Duration;

use epidemic::sim::{Fault, NodeId, Simulation};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Summary, fmt};
use crate::plot::{self, Chart, Series};

const NAME: &str = "load";
const EPSILON: f64 = 1e-6;
/// Percent of the nodes that crash mid-epoch 1, unless `--crash-pct` says otherwise.
const DEFAULT_CRASH_PCT: f64 = 5.0;
/// Rounds into epoch 1 at which the nodes crash.
const CRASH_ROUND: u32 = 32;
/// Epochs observed after the crash.
const EPOCHS_AFTER: u64 = 5;
/// Floor for errors on the log-scale plots (an exact 0 cannot be drawn).
const PLOT_FLOOR: f64 = 1e-17;

/// Advances the simulation one aggregation round at a time, collecting violations.
struct Rounds<'a> {
    ctx: &'a Ctx,
    step: Duration,
    violations: Vec<String>,
}

impl Rounds<'_> {
    /// Runs to half an interval after the next round.
    fn next(&mut self, sim: &mut Simulation) {
        let step = self.step.as_micros() as u64;
        let now = sim.now().as_micros() as u64;
        let next_mid = (now / step + 1) * step + step / 2;
        let until = sim.now() + Duration::from_micros(next_mid - now);
        while sim.now() < until {
            if let Err(v) = sim.run_for(until - sim.now()) {
                if !self.ctx.quiet {
                    eprintln!("[aggregation] invariant violated {v}");
                }
                self.violations.push(v.to_string());
            }
        }
    }
}

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, false);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xa66e_6a7e);
    let values: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..100.0)).collect();
    for (i, v) in values.iter().enumerate() {
        sim.publish(NodeId(i), NAME, *v)
            .map_err(|e| e.to_string())?;
    }
    let epoch_rounds = config.aggregation_epoch_rounds;
    let theory_rounds = (n as f64).log2() + (1.0 / EPSILON).log2();
    let bound = 1.5 * theory_rounds;
    let mut rounds = Rounds {
        ctx,
        step: config.aggregation_interval,
        violations: Vec::new(),
    };
    let mut dead = vec![false; n];
    // Every sampled round: (index, epoch, round in epoch, error), and the avg, count and
    // sum errors apart.
    let mut timeline: Vec<(u64, u64, u32, f64)> = Vec::new();
    let mut parts: Vec<[f64; 3]> = Vec::new();
    let mut sample = |sim: &mut Simulation, rounds: &mut Rounds<'_>, dead: &[bool]| {
        rounds.next(sim);
        let (epoch, round) = sim.aggregation_epoch(NodeId(first_live(dead)));
        let part = errors(sim, &values, dead);
        let e = part[0].max(part[1]).max(part[2]);
        let index = timeline.len() as u64 + 1;
        timeline.push((index, epoch, round, e));
        parts.push(part);
        if !ctx.quiet && index % 16 == 0 {
            eprintln!(
                "[aggregation] round {index} (epoch {epoch} round {round}): error {e:e} wall={:.1}s",
                ctx.wall_s()
            );
        }
        (epoch, round, e)
    };

    // Epoch 0: error after every round.
    let mut reached = None;
    let mut last = f64::INFINITY;
    let mut at_bound = f64::INFINITY;
    for r in 1..=epoch_rounds {
        let (_, _, e) = sample(&mut sim, &mut rounds, &dead);
        last = e;
        if reached.is_none() && e <= EPSILON {
            reached = Some(r);
        }
        if f64::from(r) <= bound {
            at_bound = e;
        }
    }

    // Epoch 1: `--crash-pct` (5 %) crash CRASH_ROUND rounds in; then every round up to
    // EPOCHS_AFTER epochs on (one quiet epoch when nothing crashes).
    for _ in 0..CRASH_ROUND {
        sample(&mut sim, &mut rounds, &dead);
    }
    let crash_pct = ctx.crash_pct.unwrap_or(DEFAULT_CRASH_PCT);
    let crashes = match (n as f64 * crash_pct / 100.0).round() as usize {
        0 if crash_pct > 0.0 => 1,
        k => k.min(n - 1),
    };
    let epochs_after = if crashes == 0 { 1 } else { EPOCHS_AFTER };
    let mut crashed = 0;
    while crashed < crashes {
        let i = rng.random_range(0..n);
        if !dead[i] {
            dead[i] = true;
            crashed += 1;
            sim.fault(Fault::Crash(NodeId(i)));
        }
    }
    let crash_index = u64::from(epoch_rounds + CRASH_ROUND);
    let crash_epoch = max_epoch(&sim);
    let mut epochs: Vec<(u64, f64)> = Vec::new();
    let mut recovered = None;
    let mut crash_error = f64::NAN;
    // Guards against an epoch that never ends (it cannot: the timer keeps running).
    let max_rounds = (u64::from(epoch_rounds) + 2) * (epochs_after + 1);
    for _ in 0..max_rounds {
        if max_epoch(&sim) >= crash_epoch + epochs_after {
            break;
        }
        let (epoch, round, e) = sample(&mut sim, &mut rounds, &dead);
        if round == epoch_rounds {
            epochs.push((epoch, e));
            if epoch == crash_epoch {
                crash_error = e;
            } else if recovered.is_none() && e <= EPSILON {
                recovered = Some(epoch - crash_epoch);
            }
        }
    }
    let first_after = epochs
        .iter()
        .find(|(epoch, _)| *epoch == crash_epoch + 1)
        .map_or(f64::NAN, |(_, e)| *e);

    let rows: Vec<String> = timeline
        .iter()
        .filter(|t| t.1 == 0)
        .map(|t| format!("{},{:e}", t.2, t.3))
        .collect();
    common::write_csv(
        &ctx.path("aggregation_rounds.csv"),
        "round,rel_error",
        &rows,
    )?;
    let rows: Vec<String> = timeline
        .iter()
        .zip(&parts)
        .map(|(t, p)| {
            format!(
                "{},{},{},{:e},{:e},{:e},{:e}",
                t.0, t.1, t.2, t.3, p[0], p[1], p[2]
            )
        })
        .collect();
    common::write_csv(
        &ctx.path("aggregation_timeline.csv"),
        "round_total,epoch,round,rel_error,rel_error_avg,rel_error_count,rel_error_sum",
        &rows,
    )?;
    // Epoch 0's last round, per estimate.
    let end0 = parts
        .get(epoch_rounds as usize - 1)
        .copied()
        .unwrap_or([f64::NAN; 3]);
    let rows: Vec<String> = epochs
        .iter()
        .map(|(epoch, e)| format!("{epoch},{e:e}"))
        .collect();
    common::write_csv(
        &ctx.path("aggregation_epochs.csv"),
        "epoch,rel_error_at_end",
        &rows,
    )?;
    plots(ctx, loss, bound, &timeline, crash_index, crash_pct)?;

    let opt = |x: Option<u32>| x.map_or("none".to_string(), |r| r.to_string());
    let mut s = Summary::new();
    s.kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("loss_pct", fmt(loss, 1))
        .kv("fanout", config.aggregation_fanout)
        .kv("epoch_rounds", epoch_rounds)
        .kv("rel_error", format!("{last:.3e}"))
        .kv("rel_error_avg", format!("{:.3e}", end0[0]))
        .kv("rel_error_count", format!("{:.3e}", end0[1]))
        .kv("rel_error_sum", format!("{:.3e}", end0[2]))
        .kv("rounds", opt(reached))
        .kv("theory_rounds", fmt(theory_rounds, 1))
        .kv("bound", fmt(bound, 1))
        .kv(
            "ratio_to_theory",
            reached.map_or("NA".to_string(), |r| fmt(f64::from(r) / theory_rounds, 3)),
        )
        .kv("rel_error_at_bound", format!("{at_bound:.3e}"))
        .kv("crashed", crashes)
        .kv("crash_epoch_rel_error", format!("{crash_error:.3e}"))
        .kv("next_epoch_rel_error", format!("{first_after:.3e}"))
        .kv(
            "recovered_after_epochs",
            recovered.map_or("none".to_string(), |e| e.to_string()),
        )
        .kv("violations", rounds.violations.len())
        .kv("wall_s", fmt(ctx.wall_s(), 2))
        .kv("wall_rss_mib", fmt(common::peak_rss_mib(), 0));
    Ok(s)
}

/// `aggregation_error.svg` (epoch 0, with the 1.5× bound) and `aggregation_timeline.svg`
/// (every round, the crash marked).
fn plots(
    ctx: &Ctx,
    loss: f64,
    bound: f64,
    timeline: &[(u64, u64, u32, f64)],
    crash_index: u64,
    crash_pct: f64,
) -> Result<(), String> {
    let drawable = |e: f64| e.is_finite().then(|| e.max(PLOT_FLOOR));
    let epoch0: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|t| t.1 == 0)
        .filter_map(|t| drawable(t.3).map(|e| (f64::from(t.2), e)))
        .collect();
    let n = ctx.nodes;
    let title = format!(
        "Push-sum error, epoch 0, N = {n}, loss {loss} %, seed {}",
        ctx.seed
    );
    plot::log_chart(
        &ctx.path("aggregation_error.svg"),
        &Chart {
            title: &title,
            x_label: "round",
            y_label: "max relative error (avg, count, sum) over nodes",
            legend_top: true,
        },
        &[
            Series::new("measured", epoch0).with_dots(),
            Series::new(
                format!("goal: 1e-6 by round {bound:.1}"),
                vec![(0.0, EPSILON), (bound, EPSILON), (bound, PLOT_FLOOR)],
            ),
        ],
    )?;
    let all: Vec<(f64, f64)> = timeline
        .iter()
        .filter_map(|t| drawable(t.3).map(|e| (t.0 as f64, e)))
        .collect();
    let crash_x = crash_index as f64 + 0.5;
    let title = format!(
        "Push-sum error per round, {crash_pct} % crash at round {crash_index}, N = {n}, loss {loss} %, seed {}",
        ctx.seed
    );
    plot::log_chart(
        &ctx.path("aggregation_timeline.svg"),
        &Chart {
            title: &title,
            x_label: "round since start (64 rounds per epoch)",
            y_label: "max relative error over live nodes",
            legend_top: true,
        },
        &[
            Series::new("measured", all),
            Series::new("crash", vec![(crash_x, PLOT_FLOOR), (crash_x, 1.0)]),
            Series::new(
                "1e-6",
                vec![(0.0, EPSILON), (timeline.len() as f64, EPSILON)],
            ),
        ],
    )
}

fn first_live(dead: &[bool]) -> usize {
    dead.iter().position(|d| !d).unwrap_or(0)
}

fn max_epoch(sim: &Simulation) -> u64 {
    (0..sim.node_count())
        .filter(|&i| sim.is_up(NodeId(i)))
        .map(|i| sim.aggregation_epoch(NodeId(i)).0)
        .max()
        .unwrap_or(0)
}

/// The largest relative errors of avg, count and sum over the live nodes, against the
/// live publishers' truth (infinite while a node holds no weight or no publisher mass).
fn errors(sim: &Simulation, values: &[f64], dead: &[bool]) -> [f64; 3] {
    let live = || (0..values.len()).filter(|&i| !dead[i]);
    let sum: f64 = live().map(|i| values[i]).sum();
    let count = live().count() as f64;
    let avg = sum / count;
    let rel = |x: f64, t: f64| (x - t).abs() / t.abs();
    live()
        .map(|i| match sim.aggregate_mass(NodeId(i), NAME) {
            Some(m) if m.weight > 0.0 && m.ones > 0.0 => [
                rel(m.value / m.ones, avg),
                rel(m.ones / m.weight, count),
                rel(m.value / m.weight, sum),
            ],
            _ => [f64::INFINITY; 3],
        })
        .fold([0.0; 3], |a, b| {
            [a[0].max(b[0]), a[1].max(b[1]), a[2].max(b[2])]
        })
}
