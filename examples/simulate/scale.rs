//! `scale`: wall time and peak memory of 60 s of protocol time at N bootstrapped nodes.
//!
//! Methodology: build N bootstrapped nodes (trace not recorded), run 60 simulated seconds,
//! read `VmHWM` (peak resident set) from /proc/self/status. Build and run wall times are
//! reported apart. Every machine-dependent field starts with `wall_`. With `--crash-pct`,
//! that share of the nodes crashes at once 10 s in (see `mass_crash.rs`).

use std::time::Duration;

use crate::common::{self, Ctx, Runner, Summary, fmt, wall_now};
use crate::mass_crash;

const RUN: Duration = Duration::from_secs(60);

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    if !ctx.quiet {
        eprintln!("[scale] building {n} bootstrapped nodes");
    }
    let at = wall_now();
    let crash_pct = ctx.crash_pct.filter(|pct| *pct > 0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, crash_pct.is_some());
    let build_s = wall_now().duration_since(at).as_secs_f64();
    let rss_built = common::peak_rss_mib();
    let at = wall_now();
    let mut runner = Runner::new(ctx, "scale");
    let crash = match crash_pct {
        Some(pct) => Some(mass_crash::run(&mut sim, &mut runner, pct, RUN)),
        None => {
            runner.run(&mut sim, RUN);
            None
        }
    };
    let run_s = wall_now().duration_since(at).as_secs_f64();
    let rss = common::peak_rss_mib();
    let totals = sim.network_totals();
    let records = (n as f64) * (n as f64);
    let per_record = rss * 1024.0 * 1024.0 / records;
    common::write_csv(
        &ctx.path("scale.csv"),
        "nodes,sim_s,datagrams,datagram_bytes,pushpull_exchanges,violations,\
         wall_build_s,wall_run_s,wall_rss_built_mib,wall_rss_peak_mib,wall_bytes_per_record",
        &[format!(
            "{n},{},{},{},{},{},{},{},{},{},{}",
            RUN.as_secs(),
            totals.datagrams,
            totals.bytes,
            totals.exchanges,
            runner.violations.len(),
            fmt(build_s, 2),
            fmt(run_s, 2),
            fmt(rss_built, 0),
            fmt(rss, 0),
            fmt(per_record, 0)
        )],
    )?;
    let mut s = Summary::new();
    s.kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("sim_s", RUN.as_secs())
        .kv("datagrams", totals.datagrams)
        .kv("pushpull_exchanges", totals.exchanges)
        .kv("violations", runner.violations.len())
        .kv("wall_build_s", fmt(build_s, 2))
        .kv("wall_run_s", fmt(run_s, 2))
        .kv("wall_s", fmt(ctx.wall_s(), 2))
        .kv("wall_rss_built_mib", fmt(rss_built, 0))
        .kv("wall_rss_mib", fmt(rss, 0))
        .kv("wall_bytes_per_record", fmt(per_record, 0));
    if let Some(crash) = crash {
        crash.report(&mut s);
    }
    Ok(s)
}
