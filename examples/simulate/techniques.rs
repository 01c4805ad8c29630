//! `techniques`: one message, eight ways to spread it, three conditions. How fast does it
//! reach 99 % and 100 % of the nodes, what does it cost per node and at the origin, and
//! what share is reached under 10 % loss or with 10 % of the nodes just crashed? Then: do
//! broadcasts still reach everyone under churn (memberlist issue 299)?
//!
//! Methodology: every sample is a fresh bootstrapped cluster of N nodes (`Config::lan()`
//! with the technique's broadcast mode, or anti-entropy with one peer every gossip
//! interval) that sends one message from a seeded origin; [`SAMPLES`] samples a cell,
//! reported as medians. Rumor and baseline broadcasts run until no copy moved for 1 s;
//! anti-entropy samples first warm the cluster (every node writes a key, all replicas
//! agree), then write the message as a key and run until every node up holds it. See
//! `techniques_sample` for one sample and `techniques_report` for the tables, the plots
//! and the comparison with THEORY.md §1.

use std::time::Duration;

use epidemic::Config;
use epidemic::sim::{Fault, NodeId};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Runner, Spread, Summary, fmt, fmt_opt, median_of};
use crate::techniques_report;
use crate::techniques_sample::{self, Condition, Sample, Technique};

/// Messages sent per cell (each in its own cluster).
pub(crate) const SAMPLES: usize = 5;
/// Broadcasts of the churn cell, one a second (with churn, each after a crash and a join).
const CHURN_BROADCASTS: usize = 30;
/// Time after the churn cell's last broadcast for stragglers.
const CHURN_DRAIN: Duration = Duration::from_secs(15);

/// A technique under a condition, with its samples.
pub(crate) struct Cell {
    pub(crate) technique: Technique,
    pub(crate) condition: Condition,
    pub(crate) samples: Vec<Sample>,
}

impl Cell {
    /// Median milliseconds until `fraction` of the nodes held the message.
    pub(crate) fn time_to(&self, fraction: f64) -> Option<f64> {
        let times: Vec<Option<f64>> = self
            .samples
            .iter()
            .map(|s| s.spread.time_to(fraction))
            .collect();
        common::median(&times)
    }

    /// Median of a per-sample figure.
    pub(crate) fn median(&self, figure: impl Fn(&Sample) -> f64) -> f64 {
        median_of(self.samples.iter().map(figure))
    }

    /// Samples that reached every node up.
    pub(crate) fn complete(&self) -> usize {
        let all = |s: &&Sample| s.spread.time_to_all().is_some();
        self.samples.iter().filter(all).count()
    }

    /// The smallest share of the nodes up a sample reached.
    pub(crate) fn reached_min(&self) -> f64 {
        let shares = self.samples.iter().map(|s| s.spread.reached());
        shares.fold(1.0, f64::min)
    }

    /// The mean over samples of the share informed `t_ms` after the send.
    pub(crate) fn fraction_at(&self, t_ms: f64) -> f64 {
        let sum: f64 = self
            .samples
            .iter()
            .map(|s| s.spread.fraction_at(t_ms))
            .sum();
        sum / self.samples.len() as f64
    }
}

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let mut cells = Vec::new();
    for technique in Technique::ALL {
        for condition in Condition::ALL {
            let samples = (0..SAMPLES)
                .map(|i| techniques_sample::run(ctx, technique, condition, i))
                .collect::<Result<Vec<_>, String>>()?;
            let cell = Cell {
                technique,
                condition,
                samples,
            };
            if !ctx.quiet {
                eprintln!(
                    "[techniques] {} / {}: t100 {} ms, reached {}, wall {:.1} s",
                    technique.key(),
                    condition.key(),
                    fmt_opt(cell.time_to(1.0), 1),
                    fmt(cell.median(|s| s.spread.reached()), 4),
                    ctx.wall_s()
                );
            }
            cells.push(cell);
        }
    }
    techniques_report::write_table(ctx, &cells)?;
    techniques_report::plot_spread(ctx, &cells)?;
    techniques_report::plot_costs(ctx, &cells)?;
    let kv = techniques_report::kv_rows(&cells, ctx.nodes);
    techniques_report::write_kv_table(ctx, &kv)?;
    let calm = run_churn(ctx, false)?;
    let churn = run_churn(ctx, true)?;

    let mut s = Summary::new();
    summarize_cells(&cells, &mut s)?;
    techniques_report::summarize_kv(&kv, &mut s);
    let violations: usize = cells
        .iter()
        .flat_map(|c| c.samples.iter().map(|x| x.violations))
        .sum::<usize>()
        + calm.violations
        + churn.violations;
    let complete = |o: &ChurnOutcome| format!("{}/{}", o.complete(), o.spreads.len());
    s.kv("churn_crashes", churn.crashes)
        .kv("churn_joins", churn.joins)
        .kv("churn_complete", complete(&churn))
        .kv("churn_t100_ms", fmt_opt(churn.t100_median_ms(), 1))
        .kv("churn_t100_max_ms", fmt_opt(churn.t100_max_ms(), 1))
        .kv("churn_reached_min", fmt(churn.reached_min(), 4))
        .kv("nochurn_complete", complete(&calm))
        .kv("nochurn_t100_ms", fmt_opt(calm.t100_median_ms(), 1))
        .kv("nochurn_t100_max_ms", fmt_opt(calm.t100_max_ms(), 1))
        .kv("violations", violations)
        .kv("wall_s", fmt(ctx.wall_s(), 2))
        .kv("wall_rss_mib", fmt(common::peak_rss_mib(), 0));
    Ok(s)
}

/// Per technique: t100 and cost without loss, and the share reached under loss and with
/// crashed nodes (medians over the samples).
fn summarize_cells(cells: &[Cell], s: &mut Summary) -> Result<(), String> {
    let cell = |t: Technique, c: Condition| {
        cells
            .iter()
            .find(|x| x.technique == t && x.condition == c)
            .ok_or_else(|| format!("no cell {} / {}", t.key(), c.key()))
    };
    for t in Technique::ALL {
        let lossless = cell(t, Condition::Lossless)?;
        let reached = |c| cell(t, c).map(|x| fmt(x.median(|x| x.spread.reached()), 4));
        let key = t.key();
        let per_node = lossless.median(|x| x.msgs_per_node);
        s.kv(format!("{key}_t100_ms"), fmt_opt(lossless.time_to(1.0), 1))
            .kv(format!("{key}_msgs_per_node"), fmt(per_node, 2))
            .kv(
                format!("{key}_origin_msgs"),
                fmt(lossless.median(|x| x.origin_msgs), 0),
            )
            .kv(format!("{key}_loss10_reached"), reached(Condition::Loss10)?)
            .kv(
                format!("{key}_crash10_reached"),
                reached(Condition::Crash10)?,
            );
    }
    Ok(())
}

/// What happened to the broadcasts of one churn-cell run.
struct ChurnOutcome {
    spreads: Vec<Spread>,
    crashes: usize,
    joins: usize,
    violations: usize,
}

impl ChurnOutcome {
    /// Broadcasts that reached their whole population.
    fn complete(&self) -> usize {
        let all = |s: &&Spread| s.time_to_all().is_some();
        self.spreads.iter().filter(all).count()
    }

    /// Median milliseconds until the whole population held a broadcast.
    fn t100_median_ms(&self) -> Option<f64> {
        let t100: Vec<Option<f64>> = self.spreads.iter().map(Spread::time_to_all).collect();
        common::median(&t100)
    }

    /// Slowest broadcast to reach its whole population (`None` if one never did).
    fn t100_max_ms(&self) -> Option<f64> {
        let mut t100 = self.spreads.iter().map(Spread::time_to_all);
        t100.try_fold(0.0_f64, |max, t| t.map(|t| max.max(t)))
    }

    /// The smallest share of its population a broadcast reached.
    fn reached_min(&self) -> f64 {
        let shares = self.spreads.iter().map(Spread::reached);
        shares.fold(1.0, f64::min)
    }
}

/// The churn cell. memberlist issue 299: at ~1,000 nodes, membership updates fill every
/// UDP packet before user broadcasts get a byte, so broadcasts stop spreading; epidemic
/// gives user broadcasts up to half of every packet that carries both. The default mode
/// (gossip f = 3) warms up, then for [`CHURN_BROADCASTS`] seconds, with `churn`, one node
/// up crashes and one new node joins every second; half a second later a random node up
/// broadcasts. Without `churn`, the same schedule minus the crashes and joins. A
/// broadcast's population is every node up when it was sent and still up at the end.
fn run_churn(ctx: &Ctx, churn: bool) -> Result<ChurnOutcome, String> {
    let config = Config::lan();
    let mut sim = common::build(ctx, ctx.nodes, ctx.seed, &config, 0.0, false);
    let label = if churn { "churn" } else { "no churn" };
    let mut runner = Runner::new(ctx, format!("techniques/{label}"));
    runner.run(&mut sim, Duration::from_secs(3));
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xc4a5);
    let (mut crashes, mut joins) = (0, 0);
    // (payload, origin, sent at, nodes up at that moment)
    let mut sent: Vec<(Vec<u8>, usize, Duration, Vec<usize>)> = Vec::new();
    for b in 0..CHURN_BROADCASTS {
        // Drawn in both runs, so the two consume the generator alike.
        let victim_draw: usize = rng.random_range(0..usize::MAX);
        if churn {
            let live = common::up_nodes(&sim);
            sim.fault(Fault::Crash(NodeId(live[victim_draw % live.len()])));
            sim.add_node();
            (crashes, joins) = (crashes + 1, joins + 1);
        }
        runner.run(&mut sim, Duration::from_millis(500));
        let live = common::up_nodes(&sim);
        let origin = live[rng.random_range(0..live.len())];
        let payload = format!("churn broadcast {b} from node {origin}").into_bytes();
        sim.broadcast(NodeId(origin), payload.clone())
            .map_err(|e| format!("broadcast from node {origin}: {e}"))?;
        sent.push((payload, origin, sim.now(), live));
        runner.run(&mut sim, Duration::from_millis(500));
    }
    runner.run(&mut sim, CHURN_DRAIN);

    let mut spreads = Vec::new();
    for (payload, origin, at, up_then) in &sent {
        let mut learned = techniques_sample::delivered_at(&sim, payload, *at);
        // The origin holds it from the start (it counts if it is still up).
        learned[*origin] = Some(0.0);
        let population: Vec<usize> = up_then
            .iter()
            .copied()
            .filter(|&i| sim.is_up(NodeId(i)))
            .collect();
        let learned_ms: Vec<f64> = population.iter().filter_map(|&i| learned[i]).collect();
        spreads.push(Spread::new(learned_ms, population.len()));
    }
    Ok(ChurnOutcome {
        spreads,
        crashes,
        joins,
        violations: runner.violations.len(),
    })
}
