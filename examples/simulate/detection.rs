//! `detection`: how long until a crashed member is suspected, declared failed, and known
//! failed by every live member?
//!
//! Methodology: bootstrap N nodes, run 10 s, then 20 trials back to back. A trial crashes
//! one node (victims: a seeded shuffle), runs until every live node has reported `Fail` about
//! it or 120 s passed, then waits a seeded 1–3 s before the next crash (so crashes land at
//! random phases of the probe schedule). Latencies are from the crash to the first
//! `Suspect`, the first `Fail`, and the last live node's `Fail`, all read from the trace.

use std::time::Duration;

use epidemic::sim::{EventKind, Fault, NodeId, Simulation};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Runner, Summary, fmt, secs};
use crate::plot::{self, Chart, Series};
use crate::theory;

const TRIALS: usize = 20;
const TRIAL_MAX: Duration = Duration::from_secs(120);

/// What one crash produced (latencies after the crash).
struct Trial {
    victim: NodeId,
    crashed_at: Duration,
    live: usize,
    first_suspect: Option<Duration>,
    first_fail: Option<Duration>,
    all_know: Option<Duration>,
    informed: usize,
}

fn trial(sim: &mut Simulation, runner: &mut Runner<'_>, victim: NodeId) -> Trial {
    let crashed_at = sim.now();
    let scanned_from = sim.trace().len();
    sim.fault(Fault::Crash(victim));
    let name = sim.name(victim).clone();
    let n = sim.node_count();
    let live: Vec<bool> = (0..n).map(|i| sim.is_up(NodeId(i))).collect();
    let live_count = live.iter().filter(|&&l| l).count();
    let mut knows = vec![false; n];
    let mut t = Trial {
        victim,
        crashed_at,
        live: live_count,
        first_suspect: None,
        first_fail: None,
        all_know: None,
        informed: 0,
    };
    let mut scanned = scanned_from;
    while t.informed < live_count && sim.now() - crashed_at < TRIAL_MAX {
        runner.run(sim, Duration::from_millis(100));
        let trace = sim.trace();
        for e in trace[scanned..].iter().filter(|e| e.member == name) {
            let after = e.at - crashed_at;
            match e.kind {
                EventKind::Suspect => {
                    t.first_suspect.get_or_insert(after);
                }
                EventKind::Fail => {
                    t.first_fail.get_or_insert(after);
                    let o = e.observer.0;
                    if live[o] && !knows[o] {
                        knows[o] = true;
                        t.informed += 1;
                        if t.informed == live_count {
                            t.all_know = Some(after);
                        }
                    }
                }
                _ => {}
            }
        }
        scanned = trace.len();
    }
    t
}

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let trials = TRIALS.min(n.saturating_sub(3));
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, true);
    let mut runner = Runner::new(ctx, "detection");
    runner.run(&mut sim, Duration::from_secs(10));

    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xde7e_c7ed);
    let mut victims: Vec<NodeId> = (0..n).map(NodeId).collect();
    victims.shuffle(&mut rng);
    let mut results = Vec::with_capacity(trials);
    for &victim in victims.iter().take(trials) {
        results.push(trial(&mut sim, &mut runner, victim));
        let gap = Duration::from_millis(rng.random_range(1_000..3_000));
        runner.run(&mut sim, gap);
    }

    let rows: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{i},{},{},{},{},{},{},{}",
                t.victim.0,
                fmt(t.crashed_at.as_secs_f64(), 3),
                t.live,
                secs(t.first_suspect),
                secs(t.first_fail),
                secs(t.all_know),
                t.informed
            )
        })
        .collect();
    common::write_csv(
        &ctx.path("detection_trials.csv"),
        "trial,victim,crashed_at_s,live_nodes,first_suspect_s,first_fail_s,all_know_s,informed",
        &rows,
    )?;

    // Theory at the cluster size of the first trial (live count changes little).
    let live_n = results.first().map_or(n, |t| t.live);
    let period = config.probe_interval.as_secs_f64();
    let first_probe = theory::first_detection_periods() * period;
    let min = theory::suspicion_min(&config, live_n).as_secs_f64();
    let max = theory::suspicion_timeout(&config, live_n, 0).as_secs_f64();
    let rounds = theory::rounds_to_all(
        &theory::push_curve(live_n, config.gossip_nodes, 1000),
        live_n,
    );
    let spread = rounds.unwrap_or(0) as f64 * config.gossip_interval.as_secs_f64();
    let metrics: [(&str, Vec<f64>, f64, f64); 3] = [
        (
            "first_suspect",
            pick(&results, |t| t.first_suspect),
            first_probe,
            first_probe,
        ),
        (
            "first_fail",
            pick(&results, |t| t.first_fail),
            first_probe + min,
            first_probe + max,
        ),
        (
            "all_know",
            pick(&results, |t| t.all_know),
            first_probe + min + spread,
            first_probe + max + spread,
        ),
    ];
    let mut dist_rows = Vec::new();
    let mut summary = Summary::new();
    summary
        .kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("loss_pct", fmt(loss, 1))
        .kv("trials", results.len())
        .kv(
            "detected",
            results.iter().filter(|t| t.all_know.is_some()).count(),
        );
    let mut series = Vec::new();
    for (name, values, theory_min, theory_lg) in &metrics {
        let p50 = common::percentile(values, 50.0);
        dist_rows.push(format!(
            "{name},{},{},{},{},{},{},{},{}",
            values.len(),
            fmt(p50, 3),
            fmt(common::percentile(values, 90.0), 3),
            fmt(common::percentile(values, 99.0), 3),
            fmt(values.last().copied().unwrap_or(f64::NAN), 3),
            fmt(common::mean(values), 3),
            fmt(*theory_min, 3),
            fmt(*theory_lg, 3),
        ));
        summary.kv(format!("{name}_p50_s"), fmt(p50, 3)).kv(
            format!("{name}_p99_s"),
            fmt(common::percentile(values, 99.0), 3),
        );
        let cdf: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, (i + 1) as f64 / values.len() as f64))
            .collect();
        series.push(Series::new(*name, plot::steps(&cdf)).with_dots());
    }
    common::write_csv(
        &ctx.path("detection_distribution.csv"),
        "metric,count,p50_s,p90_s,p99_s,max_s,mean_s,theory_min_s,theory_lifeguard_max_s",
        &dist_rows,
    )?;
    let fail_theory = first_probe + min;
    series.push(Series::new(
        format!("theory first fail {fail_theory:.2} s (e/(e-1) periods + min timeout)"),
        vec![(fail_theory, 0.0), (fail_theory, 1.0)],
    ));
    let title = format!(
        "Failure detection CDF, N = {n}, {} trials, seed {}",
        results.len(),
        ctx.seed
    );
    plot::line_chart(
        &ctx.path("detection_cdf.svg"),
        &Chart {
            title: &title,
            x_label: "seconds after the crash",
            y_label: "fraction of trials",
            legend_top: false,
        },
        &series,
    )?;
    let p50_fail = common::percentile(&metrics[1].1, 50.0);
    let (mut raised, mut confirmations) = (0, 0);
    for i in 0..sim.node_count() {
        let stats = sim.stats(NodeId(i));
        raised += stats.suspicions;
        confirmations += stats.suspicion_confirmations;
    }
    summary
        .kv("suspicions_raised", raised)
        .kv("confirmations", confirmations)
        .kv("theory_first_suspect_s", fmt(first_probe, 3))
        .kv("theory_first_fail_min_s", fmt(first_probe + min, 3))
        .kv("theory_first_fail_lgmax_s", fmt(first_probe + max, 3))
        .kv("ratio_to_theory", fmt(p50_fail / (first_probe + min), 3))
        .kv("ratio_to_lgmax", fmt(p50_fail / (first_probe + max), 3))
        .kv("violations", runner.violations.len())
        .kv("wall_s", fmt(ctx.wall_s(), 2));
    Ok(summary)
}

/// The sorted present values of one latency, in seconds.
fn pick(results: &[Trial], f: impl Fn(&Trial) -> Option<Duration>) -> Vec<f64> {
    common::sorted(results.iter().filter_map(|t| f(t).map(|d| d.as_secs_f64())))
}
