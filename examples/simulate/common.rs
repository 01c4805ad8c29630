//! What every scenario shares: the simulation's construction, a runner that reports
//! progress, the one wall-clock read, memory figures, CSV files, order statistics (with
//! how far one message spread: time until a share of the nodes held it, the share
//! reached) and the summary line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use epidemic::Config;
use epidemic::sim::{NetworkModel, NodeId, Simulation};

/// The parsed command line, as the scenarios see it.
pub(crate) struct Ctx {
    pub(crate) scenario: &'static str,
    pub(crate) nodes: usize,
    pub(crate) seed: u64,
    /// `--loss` in percent, when given.
    pub(crate) loss_pct: Option<f64>,
    /// `--lifeguard`, when given.
    pub(crate) lifeguard: Option<bool>,
    pub(crate) pauses: bool,
    /// `--crash-pct`, when given.
    pub(crate) crash_pct: Option<f64>,
    pub(crate) out: PathBuf,
    pub(crate) quiet: bool,
    pub(crate) started: std::time::Instant,
}

impl Ctx {
    /// A file in the output directory.
    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.out.join(file)
    }

    /// Wall seconds since the tool started.
    pub(crate) fn wall_s(&self) -> f64 {
        wall_now().duration_since(self.started).as_secs_f64()
    }
}

/// The tool's only clock read: wall time is what the `wall_*` fields and the progress
/// lines measure, never an input to the simulation.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The LAN preset with Lifeguard on or off.
pub(crate) fn config(lifeguard: bool) -> Config {
    let mut config = Config::lan();
    config.lifeguard = lifeguard;
    config
}

/// A bootstrapped simulation of `nodes` nodes on the LAN model with `loss_pct` loss.
pub(crate) fn build(
    ctx: &Ctx,
    nodes: usize,
    seed: u64,
    config: &Config,
    loss_pct: f64,
    record_trace: bool,
) -> Simulation {
    let mut network = NetworkModel::lan();
    network.loss = loss_pct / 100.0;
    let at = wall_now();
    let sim = Simulation::builder()
        .nodes(nodes)
        .seed(seed)
        .config(config.clone())
        .network(network)
        .bootstrapped(true)
        .record_trace(record_trace)
        .build();
    if !ctx.quiet && nodes >= 1_000 {
        let took = wall_now().duration_since(at).as_secs_f64();
        eprintln!("[{}] built {nodes} nodes in {took:.1} s", ctx.scenario);
    }
    sim
}

/// The nodes whose process runs (not crashed, not departed).
pub(crate) fn up_nodes(sim: &Simulation) -> Vec<usize> {
    (0..sim.node_count())
        .filter(|&i| sim.is_up(NodeId(i)))
        .collect()
}

/// Runs a simulation forward, printing progress every 10 simulated seconds and collecting
/// invariant violations (a violation stops `run_for`; the runner notes it and goes on).
pub(crate) struct Runner<'a> {
    ctx: &'a Ctx,
    label: String,
    next_report: Duration,
    pub(crate) violations: Vec<String>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(ctx: &'a Ctx, label: impl Into<String>) -> Runner<'a> {
        Runner {
            ctx,
            label: label.into(),
            next_report: Duration::ZERO,
            violations: Vec::new(),
        }
    }

    /// Runs `duration` more simulated time.
    pub(crate) fn run(&mut self, sim: &mut Simulation, duration: Duration) {
        let until = sim.now() + duration;
        while self.next_report <= sim.now() {
            self.next_report += Duration::from_secs(10);
        }
        while sim.now() < until {
            let stop = until.min(self.next_report);
            if let Err(v) = sim.run_for(stop - sim.now()) {
                if !self.ctx.quiet {
                    eprintln!("[{}] invariant violated {v}", self.label);
                }
                self.violations.push(v.to_string());
            }
            if sim.now() >= self.next_report {
                self.next_report += Duration::from_secs(10);
                if !self.ctx.quiet {
                    eprintln!(
                        "[{}] sim={:.0}s wall={:.1}s pending={}",
                        self.label,
                        sim.now().as_secs_f64(),
                        self.ctx.wall_s(),
                        sim.pending_events()
                    );
                }
            }
        }
    }
}

/// A `/proc/self/status` field in KiB (`VmHWM`: peak resident set; `VmRSS`: current).
pub(crate) fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak resident memory of this process in MiB (0 where /proc is unavailable).
pub(crate) fn peak_rss_mib() -> f64 {
    proc_status_kib("VmHWM:").unwrap_or(0) as f64 / 1024.0
}

/// Watches this process's resident memory from a background thread and exits with status
/// 1 once it passes `max_gib`, so an oversized run never starves the machine. It stops when
/// the returned sender is dropped.
pub(crate) fn rss_watchdog(max_gib: f64) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    let limit_kib = (max_gib * 1024.0 * 1024.0) as u64;
    std::thread::spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            stopped.recv_timeout(Duration::from_millis(200))
        {
            let rss = proc_status_kib("VmRSS:").unwrap_or(0);
            if rss > limit_kib {
                eprintln!(
                    "error: resident memory {:.1} GiB passed --max-rss-gib {max_gib}; aborting",
                    rss as f64 / 1024.0 / 1024.0
                );
                std::process::exit(1);
            }
        }
    });
    stop
}

/// Writes a CSV file: a header line, then one line per row.
pub(crate) fn write_csv(path: &Path, header: &str, rows: &[String]) -> Result<(), String> {
    let mut text = String::with_capacity(64 * (rows.len() + 1));
    text.push_str(header);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Nearest-rank percentile `p` (0..=100) of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Values sorted ascending (NaN-free input assumed).
pub(crate) fn sorted(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Arithmetic mean (NaN when empty).
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// When the nodes that should hold one message learned it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Spread {
    /// Milliseconds after the send at which each node that got it learned it, ascending;
    /// the origin counts, at 0.
    learned_ms: Vec<f64>,
    /// Nodes that should hold it (the origin included): every node up when it was sent
    /// and still up at the end, so crashed nodes are not counted as missed.
    population: usize,
}

impl Spread {
    /// `learned_ms`: one entry per node of the population that learned the message (the
    /// origin's 0 included), in any order; entries beyond the population are ignored.
    pub(crate) fn new(mut learned_ms: Vec<f64>, population: usize) -> Spread {
        learned_ms.sort_by(f64::total_cmp);
        learned_ms.truncate(population);
        Spread {
            learned_ms,
            population,
        }
    }

    /// Milliseconds until at least `fraction` (0..=1) of the population held it: the
    /// ⌈fraction · population⌉-th learner's time, or `None` if that many never learned it.
    pub(crate) fn time_to(&self, fraction: f64) -> Option<f64> {
        let needed = ((fraction * self.population as f64).ceil() as usize).max(1);
        self.learned_ms.get(needed - 1).copied()
    }

    /// Milliseconds until every node of the population held it.
    pub(crate) fn time_to_all(&self) -> Option<f64> {
        self.time_to(1.0)
    }

    /// The share of the population that learned it (0..=1).
    pub(crate) fn reached(&self) -> f64 {
        if self.population == 0 {
            return 1.0;
        }
        self.learned_ms.len() as f64 / self.population as f64
    }

    /// The share of the population holding it `t_ms` after the send.
    pub(crate) fn fraction_at(&self, t_ms: f64) -> f64 {
        if self.population == 0 {
            return 1.0;
        }
        let informed = self.learned_ms.partition_point(|&t| t <= t_ms);
        informed as f64 / self.population as f64
    }
}

/// The nearest-rank median (the lower middle of an even count) of values where `None`
/// means "never" and ranks above every number; `None` when the median itself is "never"
/// or there are no values.
pub(crate) fn median(values: &[Option<f64>]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    sorted[(sorted.len() - 1) / 2]
}

/// [`median`] of plain numbers (NaN when empty).
pub(crate) fn median_of(values: impl IntoIterator<Item = f64>) -> f64 {
    let values: Vec<Option<f64>> = values.into_iter().map(Some).collect();
    median(&values).unwrap_or(f64::NAN)
}

/// A float with `decimals` decimals, or `NA` when it is not finite.
pub(crate) fn fmt(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "NA".to_string()
    }
}

/// An optional float with `decimals` decimals, or `NA` when absent or not finite.
pub(crate) fn fmt_opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "NA".to_string(), |v| fmt(v, decimals))
}

/// An optional duration in seconds with 3 decimals, or `NA`.
pub(crate) fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "NA".to_string(), |d| fmt(d.as_secs_f64(), 3))
}

/// The key=value pairs of the summary line.
#[derive(Default)]
pub(crate) struct Summary {
    fields: Vec<(String, String)>,
}

impl Summary {
    pub(crate) fn new() -> Summary {
        Summary::default()
    }

    /// Adds a field (values must not contain spaces).
    pub(crate) fn kv(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Summary {
        self.fields.push((key.into(), value.to_string()));
        self
    }

    /// `summary scenario=… nodes=… seed=… key=value …`.
    pub(crate) fn line(&self, ctx: &Ctx) -> String {
        let mut line = format!(
            "summary scenario={} nodes={} seed={}",
            ctx.scenario, ctx.nodes, ctx.seed
        );
        for (k, v) in &self.fields {
            let _ = write!(line, " {k}={v}");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_to_a_share_use_the_nearest_rank_of_the_population() {
        // 10 nodes, the origin at 0 and 8 others; one never learned it.
        let learned = vec![40.0, 0.0, 10.0, 20.0, 30.0, 50.0, 60.0, 70.0, 80.0];
        let spread = Spread::new(learned, 10);
        assert_eq!(spread.time_to(0.5), Some(40.0));
        assert_eq!(spread.time_to(0.9), Some(80.0));
        assert_eq!(spread.time_to(0.99), None);
        assert_eq!(spread.time_to_all(), None);
        assert_eq!(spread.reached(), 0.9);
        assert_eq!(spread.time_to(0.0), Some(0.0));
    }

    #[test]
    fn a_complete_spread_reaches_everyone_at_the_last_learner() {
        let spread = Spread::new(vec![0.0, 5.0, 3.0, 9.0], 4);
        assert_eq!(spread.time_to_all(), Some(9.0));
        assert_eq!(spread.time_to(0.99), Some(9.0));
        assert_eq!(spread.reached(), 1.0);
    }

    #[test]
    fn the_informed_fraction_counts_learners_up_to_and_at_the_time() {
        let spread = Spread::new(vec![0.0, 10.0, 10.0, 30.0], 5);
        assert_eq!(spread.fraction_at(0.0), 0.2);
        assert_eq!(spread.fraction_at(9.9), 0.2);
        assert_eq!(spread.fraction_at(10.0), 0.6);
        assert_eq!(spread.fraction_at(1e9), 0.8);
    }

    #[test]
    fn the_median_ranks_never_above_every_time() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0)]), Some(3.0));
        assert_eq!(median(&[None, None, Some(1.0)]), None);
        assert_eq!(
            median(&[Some(4.0), Some(2.0), Some(3.0), Some(1.0)]),
            Some(2.0)
        );
        assert_eq!(median(&[]), None);
        assert!(median_of([]).is_nan());
        assert_eq!(median_of([5.0, 1.0, 3.0]), 3.0);
    }
}
