//! `false-positives`: 10 simulated minutes of a 100-node cluster under datagram loss, or
//! with 5 nodes pausing 2 s every ~20 s, Lifeguard off and on. Counts healthy members
//! declared dead and suspicions raised, and times the detection of 3 real crashes.
//!
//! Methodology: bootstrap N, schedule everything up front from the seed, run 600 s. Crashes
//! at 150, 300 and 450 s (victims: seeded, never a paused node). Paused nodes: 5 seeded
//! nodes, each paused 2 s at a seeded phase in 0..20 s and then every 20 s ± 2 s. A `Fail`
//! about a member that had not crashed (yet) is a healthy member declared dead: paused
//! members count as healthy. Detection: first `Fail` after the crash, and when the last node
//! still up at the end reported it.

use std::collections::BTreeSet;
use std::time::Duration;

use epidemic::sim::{EventKind, Fault, NodeId};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Runner, Summary, fmt};
use crate::plot::{self, Chart, Series};

const RUN: Duration = Duration::from_secs(600);
const CRASH_AT_S: [u64; 3] = [150, 300, 450];
const PAUSED: usize = 5;
const PAUSE: Duration = Duration::from_secs(2);
const PAUSE_EVERY_S: f64 = 20.0;

/// One cell of the table.
#[derive(Clone, Copy)]
struct Cell {
    loss_pct: f64,
    pauses: bool,
    lifeguard: bool,
}

impl Cell {
    fn variant(&self) -> String {
        if self.pauses {
            "pauses".to_string()
        } else {
            format!("l{}", self.loss_pct)
        }
    }
}

/// What one cell measured.
struct Outcome {
    healthy_dead_members: usize,
    healthy_dead_events: usize,
    suspect_events: usize,
    suspect_healthy: usize,
    /// Per crash: first `Fail`, and all live nodes reported (seconds after the crash).
    detections: Vec<(Option<f64>, Option<f64>)>,
    violations: usize,
    /// Suspicions raised by failed probes, and Lifeguard confirmations, over all nodes.
    suspicions_raised: u64,
    confirmations: u64,
    /// `at_s,observer,member,incarnation,member_paused` of each healthy member's `Fail`.
    dead_rows: Vec<String>,
}

impl Outcome {
    fn first_fail_mean(&self) -> f64 {
        let v: Vec<f64> = self.detections.iter().filter_map(|d| d.0).collect();
        common::mean(&v)
    }

    fn all_know_mean(&self) -> f64 {
        let v: Vec<f64> = self.detections.iter().filter_map(|d| d.1).collect();
        common::mean(&v)
    }
}

fn run_cell(ctx: &Ctx, cell: Cell) -> Outcome {
    let n = ctx.nodes;
    let config = common::config(cell.lifeguard);
    let loss = if cell.pauses { 0.0 } else { cell.loss_pct };
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, true);
    // The same victims and pause schedule for every cell of one seed.
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0xfa15_e905);
    let mut ids: Vec<NodeId> = (0..n).map(NodeId).collect();
    ids.shuffle(&mut rng);
    let victims: Vec<NodeId> = ids[..CRASH_AT_S.len()].to_vec();
    let paused = &ids[CRASH_AT_S.len()..CRASH_AT_S.len() + PAUSED];
    for (victim, at) in victims.iter().zip(CRASH_AT_S) {
        sim.schedule(Duration::from_secs(at), Fault::Crash(*victim));
    }
    for &id in paused {
        let mut at = rng.random_range(0.0..PAUSE_EVERY_S);
        while at < RUN.as_secs_f64() {
            if cell.pauses {
                sim.schedule(Duration::from_secs_f64(at), Fault::Pause(id, PAUSE));
            }
            at += PAUSE_EVERY_S + rng.random_range(-2.0..2.0);
        }
    }
    let label = format!(
        "false-positives {} lifeguard={}",
        cell.variant(),
        if cell.lifeguard { "on" } else { "off" }
    );
    let mut runner = Runner::new(ctx, label);
    runner.run(&mut sim, RUN);

    let crash_of = |name: &epidemic::NodeName| {
        victims
            .iter()
            .zip(CRASH_AT_S)
            .find(|(v, _)| sim.name(**v) == name)
            .map(|(_, at)| Duration::from_secs(at))
    };
    let healthy_at =
        |name: &epidemic::NodeName, at: Duration| crash_of(name).is_none_or(|c| at < c);
    let mut dead_members = BTreeSet::new();
    let mut out = Outcome {
        healthy_dead_members: 0,
        healthy_dead_events: 0,
        suspect_events: 0,
        suspect_healthy: 0,
        detections: Vec::new(),
        violations: runner.violations.len(),
        suspicions_raised: 0,
        confirmations: 0,
        dead_rows: Vec::new(),
    };
    for i in 0..n {
        let stats = sim.stats(NodeId(i));
        out.suspicions_raised += stats.suspicions;
        out.confirmations += stats.suspicion_confirmations;
    }
    for e in sim.trace() {
        match e.kind {
            EventKind::Fail if healthy_at(&e.member, e.at) => {
                out.healthy_dead_events += 1;
                dead_members.insert(e.member.clone());
                let was_paused = cell.pauses && paused.iter().any(|&p| sim.name(p) == &e.member);
                out.dead_rows.push(format!(
                    "{},{},{},{},{was_paused}",
                    fmt(e.at.as_secs_f64(), 6),
                    e.observer.0,
                    e.member,
                    e.incarnation
                ));
            }
            EventKind::Suspect => {
                out.suspect_events += 1;
                if healthy_at(&e.member, e.at) {
                    out.suspect_healthy += 1;
                }
            }
            _ => {}
        }
    }
    out.healthy_dead_members = dead_members.len();
    let up_at_end: Vec<NodeId> = (0..n).map(NodeId).filter(|&i| sim.is_up(i)).collect();
    for (victim, at) in victims.iter().zip(CRASH_AT_S) {
        let crashed = Duration::from_secs(at);
        let name = sim.name(*victim);
        let mut first: Vec<Option<Duration>> = vec![None; n];
        for e in sim.trace() {
            if e.kind == EventKind::Fail && e.member == *name && e.at >= crashed {
                first[e.observer.0].get_or_insert(e.at - crashed);
            }
        }
        let first_fail = first.iter().flatten().min().map(Duration::as_secs_f64);
        let all: Option<Vec<Duration>> = up_at_end.iter().map(|o| first[o.0]).collect();
        let all_know = all
            .and_then(|v| v.into_iter().max())
            .map(|d| d.as_secs_f64());
        out.detections.push((first_fail, all_know));
    }
    if !ctx.quiet {
        eprintln!(
            "[{}] healthy dead {} ({} events), suspicions {}, first fail mean {} s, wall {:.1} s",
            runner_label(cell),
            out.healthy_dead_members,
            out.healthy_dead_events,
            out.suspect_events,
            fmt(out.first_fail_mean(), 2),
            ctx.wall_s()
        );
    }
    out
}

fn runner_label(cell: Cell) -> String {
    format!(
        "{} lg={}",
        cell.variant(),
        if cell.lifeguard { "on" } else { "off" }
    )
}

fn row(cell: Cell, o: &Outcome, ratio: f64) -> String {
    let d = |i: usize, first: bool| {
        o.detections
            .get(i)
            .and_then(|d| if first { d.0 } else { d.1 })
            .map_or_else(|| "NA".to_string(), |s| fmt(s, 3))
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        cell.variant(),
        fmt(if cell.pauses { 0.0 } else { cell.loss_pct }, 1),
        cell.pauses,
        if cell.lifeguard { "on" } else { "off" },
        o.healthy_dead_members,
        o.healthy_dead_events,
        o.suspect_events,
        o.suspect_healthy,
        o.suspicions_raised,
        o.confirmations,
        d(0, true),
        d(1, true),
        d(2, true),
        fmt(o.first_fail_mean(), 3),
        d(0, false),
        d(1, false),
        d(2, false),
        fmt(o.all_know_mean(), 3),
        fmt(ratio, 3),
        o.violations,
    )
}

const HEADER: &str = "variant,loss_pct,pauses,lifeguard,healthy_dead_members,healthy_dead_events,\
suspect_events,suspect_healthy_events,suspicions_raised,confirmations,first_fail_1_s,first_fail_2_s,first_fail_3_s,\
first_fail_mean_s,all_know_1_s,all_know_2_s,all_know_3_s,all_know_mean_s,\
first_fail_ratio_on_off,violations";

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let mut s = Summary::new();
    if ctx.loss_pct.is_some() || ctx.pauses {
        let cell = Cell {
            loss_pct: ctx.loss_pct.unwrap_or(0.0),
            pauses: ctx.pauses,
            lifeguard: ctx.lifeguard.unwrap_or(true),
        };
        let o = run_cell(ctx, cell);
        common::write_csv(
            &ctx.path("false_positives_healthy_dead.csv"),
            "at_s,observer,member,incarnation,member_paused",
            &o.dead_rows,
        )?;
        common::write_csv(
            &ctx.path("false_positives_cell.csv"),
            HEADER,
            &[row(cell, &o, f64::NAN)],
        )?;
        s.kv("variant", cell.variant())
            .kv("lifeguard", if cell.lifeguard { "on" } else { "off" })
            .kv("healthy_dead", o.healthy_dead_members)
            .kv("healthy_dead_events", o.healthy_dead_events)
            .kv("suspect_events", o.suspect_events)
            .kv("suspicions_raised", o.suspicions_raised)
            .kv("confirmations", o.confirmations)
            .kv("first_fail_mean_s", fmt(o.first_fail_mean(), 3))
            .kv("all_know_mean_s", fmt(o.all_know_mean(), 3))
            .kv("violations", o.violations)
            .kv("wall_s", fmt(ctx.wall_s(), 2));
        return Ok(s);
    }
    if ctx.lifeguard.is_some() && !ctx.quiet {
        eprintln!("[false-positives] no --loss: running the whole table, Lifeguard off and on");
    }
    let variants: Vec<(f64, bool)> = vec![
        (0.0, false),
        (5.0, false),
        (10.0, false),
        (20.0, false),
        (0.0, true),
    ];
    let mut rows = Vec::new();
    let (mut dead_off, mut dead_on, mut susp_off, mut susp_on) = (vec![], vec![], vec![], vec![]);
    for (loss_pct, pauses) in variants {
        let off = Cell {
            loss_pct,
            pauses,
            lifeguard: false,
        };
        let on = Cell {
            lifeguard: true,
            ..off
        };
        let o_off = run_cell(ctx, off);
        let o_on = run_cell(ctx, on);
        let ratio = o_on.first_fail_mean() / o_off.first_fail_mean();
        rows.push(row(off, &o_off, f64::NAN));
        rows.push(row(on, &o_on, ratio));
        let v = off.variant();
        s.kv(format!("dead_off_{v}"), o_off.healthy_dead_members)
            .kv(format!("dead_on_{v}"), o_on.healthy_dead_members)
            .kv(format!("susp_off_{v}"), o_off.suspect_events)
            .kv(format!("susp_on_{v}"), o_on.suspect_events)
            .kv(format!("detect_ratio_{v}"), fmt(ratio, 3));
        if !pauses {
            dead_off.push((loss_pct, o_off.healthy_dead_members as f64));
            dead_on.push((loss_pct, o_on.healthy_dead_members as f64));
            susp_off.push((loss_pct, o_off.suspect_events as f64));
            susp_on.push((loss_pct, o_on.suspect_events as f64));
        }
    }
    common::write_csv(&ctx.path("false_positives.csv"), HEADER, &rows)?;
    let title = format!(
        "Healthy members declared dead in 10 min, N = {}, seed {}",
        ctx.nodes, ctx.seed
    );
    plot::line_chart(
        &ctx.path("false_positives_dead.svg"),
        &Chart {
            title: &title,
            x_label: "datagram loss (%)",
            y_label: "healthy members declared dead",
            legend_top: false,
        },
        &[
            Series::new("Lifeguard off", dead_off).with_dots(),
            Series::new("Lifeguard on", dead_on).with_dots(),
        ],
    )?;
    let title = format!(
        "Suspect events in 10 min, N = {}, seed {}",
        ctx.nodes, ctx.seed
    );
    plot::line_chart(
        &ctx.path("false_positives_suspicions.svg"),
        &Chart {
            title: &title,
            x_label: "datagram loss (%)",
            y_label: "Suspect events (all observers)",
            legend_top: false,
        },
        &[
            Series::new("Lifeguard off", susp_off).with_dots(),
            Series::new("Lifeguard on", susp_on).with_dots(),
        ],
    )?;
    s.kv("wall_s", fmt(ctx.wall_s(), 2));
    Ok(s)
}
