//! `partition`: the cluster splits in two halves for 60 s, then heals. How long until every
//! view agrees again, and does it re-merge completely?
//!
//! Methodology: bootstrap N, run 10 s, partition a seeded half from the other for 60 s,
//! heal, then `run_until_converged` in 1 s slices (it checks every 100 ms) for at most
//! 300 s. Every second the agreement is sampled: the fraction of ordered pairs (a, b) of
//! nodes where a holds b as alive (every node stays up, so 1.0 is full agreement).

use std::time::Duration;

use epidemic::MemberState;
use epidemic::sim::{Fault, NodeId, Simulation};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Runner, Summary, fmt};
use crate::plot::{self, Chart, Series};

const WARM_UP: Duration = Duration::from_secs(10);
const SPLIT: Duration = Duration::from_secs(60);
const MAX_HEAL: Duration = Duration::from_secs(300);

/// Fraction of ordered pairs (a, b), a ≠ b, where a holds b alive; and the same over pairs
/// across the two sides.
fn agreement(sim: &Simulation, side: &[bool]) -> (f64, f64) {
    let n = sim.node_count();
    let (mut alive, mut cross_alive, mut cross) = (0u64, 0u64, 0u64);
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let ok = matches!(
                sim.view(NodeId(a), NodeId(b)),
                Some((MemberState::Alive, _))
            );
            alive += u64::from(ok);
            if side[a] != side[b] {
                cross += 1;
                cross_alive += u64::from(ok);
            }
        }
    }
    let pairs = (n * (n - 1)) as f64;
    (
        alive as f64 / pairs,
        cross_alive as f64 / cross.max(1) as f64,
    )
}

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, true);
    let mut runner = Runner::new(ctx, "partition");
    runner.run(&mut sim, WARM_UP);

    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x9a27_171c);
    let mut ids: Vec<NodeId> = (0..n).map(NodeId).collect();
    ids.shuffle(&mut rng);
    let half: Vec<NodeId> = ids[..n / 2].to_vec();
    let mut side = vec![false; n];
    for id in &half {
        side[id.0] = true;
    }
    let mut rows = Vec::new();
    let (mut all_pts, mut cross_pts) = (Vec::new(), Vec::new());
    let mut sample = |sim: &Simulation, phase: &str| {
        let (all, cross) = agreement(sim, &side);
        let t = sim.now().as_secs_f64();
        rows.push(format!(
            "{},{phase},{},{}",
            fmt(t, 1),
            fmt(all, 4),
            fmt(cross, 4)
        ));
        all_pts.push((t, all));
        cross_pts.push((t, cross));
    };
    sample(&sim, "warm");
    let split_at = sim.now();
    sim.fault(Fault::Partition(vec![half]));
    while sim.now() - split_at < SPLIT {
        runner.run(&mut sim, Duration::from_secs(1));
        sample(&sim, "split");
    }
    let (_, cross_at_heal) = agreement(&sim, &side);
    sim.fault(Fault::Heal);
    let healed_at = sim.now();
    let mut converged = None;
    let mut last_error = String::new();
    while sim.now() - healed_at < MAX_HEAL {
        let before = sim.now() - healed_at;
        match sim.run_until_converged(Duration::from_secs(1)) {
            Ok(took) => {
                converged = Some(before + took);
                sample(&sim, "healed");
                break;
            }
            Err(e) => last_error = e,
        }
        sample(&sim, "healed");
    }
    let (final_all, final_cross) = agreement(&sim, &side);
    common::write_csv(
        &ctx.path("partition.csv"),
        "t_s,phase,alive_pairs_fraction,cross_side_alive_fraction",
        &rows,
    )?;
    let title = format!(
        "Partition {:.0}-{:.0} s then heal, N = {n}, seed {}",
        split_at.as_secs_f64(),
        healed_at.as_secs_f64(),
        ctx.seed
    );
    plot::line_chart(
        &ctx.path("partition.svg"),
        &Chart {
            title: &title,
            x_label: "simulated seconds",
            y_label: "fraction of views holding the member alive",
            legend_top: false,
        },
        &[
            Series::new("all pairs", all_pts),
            Series::new("pairs across the split", cross_pts),
        ],
    )?;
    if converged.is_none() && !ctx.quiet {
        eprintln!("[partition] not converged after {MAX_HEAL:?}: {last_error}");
    }
    let mut s = Summary::new();
    s.kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("loss_pct", fmt(loss, 1))
        .kv("cross_alive_at_heal", fmt(cross_at_heal, 4))
        .kv("converged", converged.is_some())
        .kv("converge_s", common::secs(converged))
        .kv("final_alive_pairs", fmt(final_all, 4))
        .kv("final_cross_alive", fmt(final_cross, 4))
        .kv("violations", runner.violations.len())
        .kv("wall_s", fmt(ctx.wall_s(), 2));
    Ok(s)
}
