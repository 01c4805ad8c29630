//! `dissemination`: a node joins a warm, bootstrapped cluster; how fast does the news
//! reach every existing member, against THEORY.md §1's push recurrence?
//!
//! Methodology: bootstrap N nodes, run 5 s, `add_node()` (it joins through a random node by
//! push-pull; that node is the first to know, at t = 0). Each existing node's first `Join`
//! event about the newcomer is the moment it learned. Theory: the recurrence with
//! f = `gossip_nodes`, one round per `gossip_interval`, from I_0 = 1 at t = 0.

use std::time::Duration;

use epidemic::sim::EventKind;

use crate::common::{self, Ctx, Runner, Summary, fmt};
use crate::plot::{self, Chart, Series};
use crate::theory;

/// Longest wait for the news to reach everyone.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Resolution of the informed-fraction CSV.
const RESOLUTION_MS: u64 = 10;

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, true);
    let mut runner = Runner::new(ctx, "dissemination");
    runner.run(&mut sim, Duration::from_secs(5));

    let added_at = sim.now();
    let newcomer = sim.add_node();
    let name = sim.name(newcomer).clone();
    let mut learned: Vec<Option<Duration>> = vec![None; n];
    let (mut informed, mut scanned) = (0, 0);
    while informed < n && sim.now() - added_at < MAX_WAIT {
        runner.run(&mut sim, Duration::from_millis(100));
        let trace = sim.trace();
        for e in &trace[scanned..] {
            let o = e.observer.0;
            if e.kind == EventKind::Join && e.member == name && o < n && learned[o].is_none() {
                learned[o] = Some(e.at);
                informed += 1;
            }
        }
        scanned = trace.len();
    }
    let mut times: Vec<Duration> = learned.iter().flatten().copied().collect();
    times.sort();
    let Some(&t0) = times.first() else {
        return Err(format!(
            "no node learned of the newcomer within {MAX_WAIT:?}"
        ));
    };
    let since: Vec<f64> = times
        .iter()
        .map(|t| (*t - t0).as_secs_f64() * 1e3)
        .collect();
    let at_count = |k: usize| (k >= 1 && k <= since.len()).then(|| since[k - 1]);
    let t99 = at_count((0.99 * n as f64).ceil() as usize);
    let t100 = (informed == n).then(|| since[n - 1]);

    let round_ms = config.gossip_interval.as_secs_f64() * 1e3;
    let curve = theory::push_curve(n, config.gossip_nodes, 1_000);
    let theory_t99 = theory::rounds_to_fraction(&curve, n, 0.99).map(|r| r as f64 * round_ms);
    let theory_t100 = theory::rounds_to_all(&curve, n).map(|r| r as f64 * round_ms);
    let theory_at = |ms: f64| {
        let r = ((ms / round_ms).floor() as usize).min(curve.len() - 1);
        curve[r] / n as f64
    };

    // Informed fraction every 10 ms, from t = 0 until both curves reached 1.
    let end_ms = since
        .last()
        .copied()
        .unwrap_or(0.0)
        .max(theory_t100.unwrap_or(0.0))
        + round_ms;
    let mut rows = Vec::new();
    let (mut measured_pts, mut k) = (Vec::new(), 0);
    let mut t = 0;
    while (t as f64) <= end_ms {
        while k < since.len() && since[k] <= t as f64 {
            k += 1;
        }
        let frac = k as f64 / n as f64;
        rows.push(format!(
            "{t},{},{}",
            fmt(frac, 4),
            fmt(theory_at(t as f64), 4)
        ));
        measured_pts.push((t as f64, frac));
        t += RESOLUTION_MS;
    }
    common::write_csv(
        &ctx.path("dissemination.csv"),
        "t_ms,informed_fraction,theory_push_fraction",
        &rows,
    )?;
    let theory_pts: Vec<(f64, f64)> = (0..curve.len())
        .map(|r| (r as f64 * round_ms, curve[r] / n as f64))
        .chain(std::iter::once((end_ms, curve[curve.len() - 1] / n as f64)))
        .collect();
    let title = format!("Dissemination of a join, N = {n}, seed {}", ctx.seed);
    plot::line_chart(
        &ctx.path("dissemination.svg"),
        &Chart {
            title: &title,
            x_label: "ms after the first node knew",
            y_label: "fraction of members informed",
            legend_top: false,
        },
        &[
            Series::new("measured", measured_pts),
            Series::new(
                format!(
                    "theory: push f={}, {round_ms:.0} ms rounds",
                    config.gossip_nodes
                ),
                plot::steps(&theory_pts),
            ),
        ],
    )?;

    let ratio = |m: Option<f64>, t: Option<f64>| match (m, t) {
        (Some(m), Some(t)) if t > 0.0 => fmt(m / t, 3),
        _ => "NA".to_string(),
    };
    let opt = |x: Option<f64>| x.map_or_else(|| "NA".to_string(), |v| fmt(v, 1));
    let mut s = Summary::new();
    s.kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("loss_pct", fmt(loss, 1))
        .kv("informed", format!("{informed}/{n}"))
        .kv(
            "first_known_ms",
            fmt((t0 - added_at).as_secs_f64() * 1e3, 1),
        )
        .kv("t99_ms", opt(t99))
        .kv("t100_ms", opt(t100))
        .kv("theory_t99_ms", opt(theory_t99))
        .kv("theory_t100_ms", opt(theory_t100))
        .kv("ratio_t99", ratio(t99, theory_t99))
        .kv("ratio_to_theory", ratio(t100, theory_t100))
        .kv("violations", runner.violations.len())
        .kv("wall_s", fmt(ctx.wall_s(), 2))
        .kv("wall_rss_mib", fmt(common::peak_rss_mib(), 0));
    Ok(s)
}
