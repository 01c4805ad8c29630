//! The simulator's measurement tool: runs one scenario of the deterministic simulator
//! (`epidemic::sim`), writes CSV tables and SVG plots, and prints exactly one `summary`
//! line on stdout.
//!
//! ```text
//! cargo run --release --example simulate -- --scenario dissemination --nodes 1000 --seed 1
//! ```
//!
//! Same seed and flags give byte-identical CSVs and summary, except the machine-dependent
//! fields, whose names all start with `wall_`. Progress goes to stderr; bad arguments exit
//! with status 2, a failed run with status 1. docs/measurements.md has the methodology.

mod aggregation;
mod common;
mod detection;
mod dissemination;
mod false_positives;
mod load;
mod mass_crash;
mod partition;
mod plot;
mod scale;
mod techniques;
mod techniques_report;
mod techniques_sample;
mod theory;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, ValueEnum};

use common::Ctx;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// A node joins a warm cluster: fraction of members informed vs time, against the
    /// push-gossip recurrence (default N = 100).
    Dissemination,
    /// 20 crashes one after another: first-suspect, first-fail and all-know latency
    /// distributions (default N = 100).
    Detection,
    /// 10 simulated minutes under loss or pauses, Lifeguard off and on: healthy members
    /// declared dead, suspicions, and detection of 3 real crashes (N = 100). Without
    /// `--loss` (and without `--pauses`) runs the whole table.
    FalsePositives,
    /// Datagrams and bytes per node per second over 60 s of steady state (default N = 100).
    Load,
    /// 50/50 partition for 60 s, then heal: time until every view agrees (default N = 100).
    Partition,
    /// 60 s of protocol time at N nodes: wall time and peak RSS (default N = 10,000).
    Scale,
    /// Push-sum: relative error vs rounds in epoch 0, then 5 % of the nodes crash mid-epoch
    /// and the following epochs recover (default N = 100).
    Aggregation,
    /// One message by point-to-point, eager flood, gossip f=1 and f=3, feedback, and push,
    /// pull and push-pull anti-entropy, lossless, at 10 % loss and with 10 % just crashed;
    /// anti-entropy rounds against THEORY.md §1; broadcasts under churn (default N = 100).
    Techniques,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Dissemination => "dissemination",
            Scenario::Detection => "detection",
            Scenario::FalsePositives => "false-positives",
            Scenario::Load => "load",
            Scenario::Partition => "partition",
            Scenario::Scale => "scale",
            Scenario::Aggregation => "aggregation",
            Scenario::Techniques => "techniques",
        }
    }

    fn default_nodes(self) -> usize {
        match self {
            Scenario::Scale => 10_000,
            _ => 100,
        }
    }
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// Runs one scenario of epidemic's deterministic simulator and reports its figures.
#[derive(Debug, Parser)]
#[command(name = "simulate")]
struct Args {
    /// Which scenario to run.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Cluster size (default: 100, or 10,000 for `scale`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(4..=1_000_000))]
    nodes: Option<u64>,
    /// Seed every random choice derives from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Datagram loss in percent (0..=100). For `false-positives`, runs that one cell.
    #[arg(long, value_parser = parse_loss)]
    loss: Option<f64>,
    /// Lifeguard on or off (default on; `false-positives` without `--loss` runs both).
    #[arg(long, value_enum)]
    lifeguard: Option<OnOff>,
    /// `false-positives` only: run the cell where 5 nodes pause 2 s every ~20 s (no loss).
    #[arg(long)]
    pauses: bool,
    /// `aggregation`: percent of the nodes that crash mid-epoch 1 (default 5; 0 runs two
    /// quiet epochs). `scale`: percent that crash at once 10 s in (default 0), with
    /// their detection measured.
    #[arg(long, value_parser = parse_crash_pct)]
    crash_pct: Option<f64>,
    /// Output directory (default `target/simulate/<scenario>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Abort (exit 1) when the process's resident memory exceeds this many GiB.
    #[arg(long, default_value_t = 16.0)]
    max_rss_gib: f64,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn parse_loss(s: &str) -> Result<f64, String> {
    let pct: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(format!("loss must be a percentage in 0..=100, got {pct}"));
    }
    Ok(pct)
}

fn parse_crash_pct(s: &str) -> Result<f64, String> {
    let pct: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(0.0..=50.0).contains(&pct) {
        return Err(format!(
            "crash-pct must be a percentage in 0..=50, got {pct}"
        ));
    }
    Ok(pct)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let usage = |msg: &str| -> ! {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, msg)
            .exit()
    };
    if args.pauses && args.scenario != Scenario::FalsePositives {
        usage("--pauses applies to --scenario false-positives only");
    }
    if args.pauses && args.loss.is_some_and(|l| l > 0.0) {
        usage("--pauses runs the lossless pause variant; drop --loss");
    }
    if args.crash_pct.is_some() && !matches!(args.scenario, Scenario::Aggregation | Scenario::Scale)
    {
        usage("--crash-pct applies to --scenario aggregation and scale only");
    }
    if args.max_rss_gib.is_nan() || args.max_rss_gib <= 0.0 {
        usage("--max-rss-gib must be positive");
    }
    let scenario = args.scenario;
    let nodes = args.nodes.map_or(scenario.default_nodes(), |n| n as usize);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/simulate").join(scenario.name()));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let _watchdog = common::rss_watchdog(args.max_rss_gib);
    let ctx = Ctx {
        scenario: scenario.name(),
        nodes,
        seed: args.seed,
        loss_pct: args.loss,
        lifeguard: args.lifeguard.map(|l| l == OnOff::On),
        pauses: args.pauses,
        crash_pct: args.crash_pct,
        out,
        quiet: args.quiet,
        started: common::wall_now(),
    };
    let result = match scenario {
        Scenario::Dissemination => dissemination::run(&ctx),
        Scenario::Detection => detection::run(&ctx),
        Scenario::FalsePositives => false_positives::run(&ctx),
        Scenario::Load => load::run(&ctx),
        Scenario::Partition => partition::run(&ctx),
        Scenario::Scale => scale::run(&ctx),
        Scenario::Aggregation => aggregation::run(&ctx),
        Scenario::Techniques => techniques::run(&ctx),
    };
    match result {
        Ok(summary) => {
            println!("{}", summary.line(&ctx));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {} (seed {}): {e}", ctx.scenario, ctx.seed);
            ExitCode::from(1)
        }
    }
}
