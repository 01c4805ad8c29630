//! What `techniques` writes: `techniques.csv` (one row per technique × condition), the
//! informed fraction over time (`techniques_curves.csv`, `techniques_spread.svg`), the
//! messages each technique sent (`techniques_cost.svg`), and anti-entropy against THEORY.md
//! §1 (`techniques_kv.csv`).
//!
//! Anti-entropy against theory: the lossless samples of push, pull and push-pull on a
//! warm cluster (every node active, rounds at spread phases), one peer a round, a round
//! every `state_interval`. Rounds = milliseconds until the last node learned the write /
//! interval. Theory: THEORY.md §1's rows with the constant terms dropped, as in its
//! derived table (push as push rumor spreading with f = 1: log₂N + ln N; pull:
//! log₂N + log₂ ln N; push-pull: log₃N + ln ln N, Karp et al. 2000). Ratio = median
//! measured rounds / theory.

use epidemic::StateMode;

use crate::common::{self, Ctx, Spread, Summary, fmt, fmt_opt, write_csv};
use crate::plot::{self, Bars, Chart, Series};
use crate::techniques::{Cell, SAMPLES};
use crate::techniques_sample::{Condition, Sample, Technique};
use crate::theory;

/// Resolution of the informed-fraction curves.
const CURVE_STEP_MS: f64 = 10.0;

/// THEORY.md §1's time for a message to reach everyone, where a formula applies: the
/// push recurrence with the technique's fanout at one round per gossip interval (feedback
/// spreads as push until it stops, so it gets push f = 3), the anti-entropy formulas at
/// one round per state interval; none for the one-hop baselines.
fn theory_t100_ms(technique: Technique, n: usize) -> Option<f64> {
    let config = technique.config();
    let push = |fanout| {
        let curve = theory::push_curve(n, fanout, 1_000);
        let round_ms = config.gossip_interval.as_secs_f64() * 1e3;
        theory::rounds_to_all(&curve, n).map(|r| r as f64 * round_ms)
    };
    match technique {
        Technique::PointToPoint | Technique::EagerFlood => None,
        Technique::Gossip1 => push(1),
        Technique::Gossip3 | Technique::Feedback => push(3),
        _ => {
            let mode = technique.state_mode()?;
            let round_ms = config.state_interval.as_secs_f64() * 1e3;
            Some(theory::anti_entropy_rounds(mode, n).0 * round_ms)
        }
    }
}

/// The cells without loss or crashes.
fn lossless(cells: &[Cell]) -> Vec<&Cell> {
    let calm = |c: &&Cell| c.condition == Condition::Lossless;
    cells.iter().filter(calm).collect()
}

/// `techniques.csv`: one row per technique × condition, medians over the samples.
pub(crate) fn write_table(ctx: &Ctx, cells: &[Cell]) -> Result<(), String> {
    let rows: Vec<String> = cells
        .iter()
        .map(|c| {
            let theory = theory_t100_ms(c.technique, ctx.nodes);
            let t100 = c.time_to(1.0);
            let ratio = match (t100, theory) {
                (Some(m), Some(t)) if c.condition == Condition::Lossless => Some(m / t),
                _ => None,
            };
            format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                c.technique.key(),
                c.condition.key(),
                c.samples.len(),
                c.complete(),
                fmt_opt(c.time_to(0.99), 2),
                fmt_opt(t100, 2),
                fmt(c.median(|s| s.spread.reached()), 4),
                fmt(c.reached_min(), 4),
                fmt(c.median(|s| s.msgs_per_node), 2),
                fmt(c.median(|s| s.bytes_per_node), 0),
                fmt(c.median(|s| s.origin_msgs), 0),
                fmt(c.median(|s| s.origin_bytes), 0),
                fmt_opt(theory, 0),
                fmt_opt(ratio, 3),
            )
        })
        .collect();
    write_csv(
        &ctx.path("techniques.csv"),
        "technique,condition,samples,complete,t99_ms,t100_ms,reached,reached_min,\
         msgs_per_node,bytes_per_node,origin_msgs,origin_bytes,theory_t100_ms,ratio_to_theory",
        &rows,
    )
}

/// `techniques_curves.csv` and `techniques_spread.svg`: the informed fraction over time
/// of every technique without loss or crashes (mean over the samples).
pub(crate) fn plot_spread(ctx: &Ctx, cells: &[Cell]) -> Result<(), String> {
    let lossless = lossless(cells);
    let end_ms = lossless
        .iter()
        .flat_map(|c| c.samples.iter().filter_map(|s| s.spread.time_to_all()))
        .fold(0.0, f64::max)
        + 2.0 * CURVE_STEP_MS;
    let steps = (end_ms / CURVE_STEP_MS).ceil() as usize;
    let times: Vec<f64> = (0..=steps).map(|i| i as f64 * CURVE_STEP_MS).collect();
    let keys: Vec<&str> = lossless.iter().map(|c| c.technique.key()).collect();
    let rows: Vec<String> = times
        .iter()
        .map(|&t| {
            let fractions: Vec<String> =
                lossless.iter().map(|c| fmt(c.fraction_at(t), 4)).collect();
            format!("{},{}", fmt(t, 0), fractions.join(","))
        })
        .collect();
    write_csv(
        &ctx.path("techniques_curves.csv"),
        &format!("t_ms,{}", keys.join(",")),
        &rows,
    )?;
    let series: Vec<Series> = lossless
        .iter()
        .map(|c| {
            let points = times.iter().map(|&t| (t, c.fraction_at(t))).collect();
            Series::new(c.technique.label(), points)
        })
        .collect();
    let title = format!(
        "One message, N = {}, seed {} (mean of {SAMPLES} samples, no loss)",
        ctx.nodes, ctx.seed
    );
    let chart = Chart {
        title: &title,
        x_label: "ms after the send",
        y_label: "fraction of nodes holding it",
        legend_top: false,
    };
    plot::line_chart(&ctx.path("techniques_spread.svg"), &chart, &series)
}

/// `techniques_cost.svg`: messages per node and by the origin, without loss or crashes.
pub(crate) fn plot_costs(ctx: &Ctx, cells: &[Cell]) -> Result<(), String> {
    let lossless = lossless(cells);
    let labels: Vec<&str> = lossless.iter().map(|c| c.technique.label()).collect();
    let figure = |f: fn(&Sample) -> f64| lossless.iter().map(|c| c.median(f)).collect();
    let title = format!(
        "Messages sent for one message, N = {}, seed {} (median of {SAMPLES})",
        ctx.nodes, ctx.seed
    );
    let chart = Chart {
        title: &title,
        x_label: "technique (anti-entropy: until every node held it)",
        y_label: "datagrams or TCP frames (log)",
        legend_top: true,
    };
    let bars = [
        Bars {
            name: "per node".into(),
            values: figure(|s| s.msgs_per_node),
        },
        Bars {
            name: "by the origin".into(),
            values: figure(|s| s.origin_msgs),
        },
    ];
    plot::log_bar_chart(&ctx.path("techniques_cost.svg"), &chart, &labels, &bars)
}

/// One anti-entropy mode against theory.
pub(crate) struct KvRow {
    technique: Technique,
    mode: StateMode,
    interval_ms: f64,
    /// Rounds until every node held the write, per sample (`None`: never).
    t100_rounds: Vec<Option<f64>>,
    t99_rounds: Vec<Option<f64>>,
    theory_rounds: f64,
    formula: &'static str,
}

impl KvRow {
    /// Median rounds until every node held the write.
    fn rounds(&self) -> Option<f64> {
        common::median(&self.t100_rounds)
    }

    /// Median measured rounds / theory.
    fn ratio(&self) -> Option<f64> {
        self.rounds().map(|r| r / self.theory_rounds)
    }
}

/// The rows of the anti-entropy techniques' lossless cells.
pub(crate) fn kv_rows(cells: &[Cell], n: usize) -> Vec<KvRow> {
    let row = |c: &&Cell| {
        let mode = c.technique.state_mode()?;
        let interval_ms = c.technique.config().state_interval.as_secs_f64() * 1e3;
        let in_rounds = |t: fn(&Spread) -> Option<f64>| -> Vec<Option<f64>> {
            let rounds = |s: &Sample| t(&s.spread).map(|ms| ms / interval_ms);
            c.samples.iter().map(rounds).collect()
        };
        let (theory_rounds, formula) = theory::anti_entropy_rounds(mode, n);
        Some(KvRow {
            technique: c.technique,
            mode,
            interval_ms,
            t100_rounds: in_rounds(Spread::time_to_all),
            t99_rounds: in_rounds(|s| s.time_to(0.99)),
            theory_rounds,
            formula,
        })
    };
    lossless(cells).iter().filter_map(row).collect()
}

/// `techniques_kv.csv`: rounds per mode, per sample and median, against theory.
pub(crate) fn write_kv_table(ctx: &Ctx, rows: &[KvRow]) -> Result<(), String> {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let per_sample: Vec<String> = r.t100_rounds.iter().map(|&x| fmt_opt(x, 2)).collect();
            format!(
                "{},{},{},{},{},{},{},{},{},{},{}",
                r.technique.key(),
                ctx.nodes,
                fmt(r.interval_ms, 0),
                r.t100_rounds.len(),
                fmt_opt(common::median(&r.t99_rounds), 2),
                fmt_opt(r.rounds(), 2),
                per_sample.join(";"),
                fmt(r.theory_rounds, 2),
                r.formula,
                fmt_opt(r.ratio(), 3),
                fmt_opt(r.rounds().map(|x| x * r.interval_ms), 2),
            )
        })
        .collect();
    write_csv(
        &ctx.path("techniques_kv.csv"),
        "technique,nodes,interval_ms,samples,t99_rounds,t100_rounds,t100_rounds_per_sample,\
         theory_rounds,theory_formula,ratio_to_theory,t100_ms",
        &lines,
    )
}

/// Adds `kv_<mode>_rounds`, `kv_<mode>_theory` and `kv_<mode>_ratio` to the summary.
pub(crate) fn summarize_kv(rows: &[KvRow], summary: &mut Summary) {
    for r in rows {
        let name = match r.mode {
            StateMode::Push => "push",
            StateMode::Pull => "pull",
            StateMode::PushPull => "pushpull",
        };
        summary
            .kv(format!("kv_{name}_rounds"), fmt_opt(r.rounds(), 2))
            .kv(format!("kv_{name}_theory"), fmt(r.theory_rounds, 2))
            .kv(format!("kv_{name}_ratio"), fmt_opt(r.ratio(), 3));
    }
}
