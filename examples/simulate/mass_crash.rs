//! `scale --crash-pct P`: P % of the nodes crash at the same instant, 10 s into the run.
//! How long until each is suspected, declared failed, and known failed by every survivor?
//!
//! Methodology: as `scale`, with the membership trace on but read and dropped every
//! 500 ms of simulated time (kept whole, 19 million events at N = 10,000 would be a
//! gigabyte of the peak being measured). Victims are a seeded choice. Per victim,
//! latencies from the crash: the first `Suspect`, the first `Fail`, and the `Fail` of the
//! last survivor to report one. `informed` is the share of (victim, survivor) pairs with a
//! `Fail` by the end of the run; `false_fails` counts `Fail` events about survivors.

use std::collections::BTreeMap;
use std::time::Duration;

use epidemic::NodeName;
use epidemic::sim::{EventKind, Fault, NodeId, Simulation};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::common::{Runner, Summary, fmt, percentile, sorted};

/// When the victims crash.
pub(crate) const CRASH_AT: Duration = Duration::from_secs(10);
const SCAN_EVERY: Duration = Duration::from_millis(500);

/// What one victim's crash produced.
#[derive(Default)]
struct Victim {
    first_suspect: Option<Duration>,
    first_fail: Option<Duration>,
    all_know: Option<Duration>,
    /// Which survivors have reported its failure, by node index.
    knows: Vec<bool>,
    informed: usize,
}

/// One of a victim's latencies.
type Latency = fn(&Victim) -> Option<Duration>;

/// The figures of a mass crash, for the summary.
pub(crate) struct MassCrash {
    victims: Vec<Victim>,
    survivors: usize,
    false_fails: u64,
}

/// Runs `sim` (which records its trace) for `total`, crashing `pct` % of its nodes at
/// [`CRASH_AT`].
pub(crate) fn run(
    sim: &mut Simulation,
    runner: &mut Runner<'_>,
    pct: f64,
    total: Duration,
) -> MassCrash {
    let n = sim.node_count();
    runner.run(sim, CRASH_AT);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(sim.seed() ^ 0x6d61_7373));
    let count = ((n as f64) * pct / 100.0).round() as usize;
    let mut index: BTreeMap<NodeName, usize> = BTreeMap::new();
    for (i, &node) in order.iter().take(count).enumerate() {
        index.insert(sim.name(NodeId(node)).clone(), i);
        sim.fault(Fault::Crash(NodeId(node)));
    }
    let up: Vec<bool> = (0..n).map(|i| sim.is_up(NodeId(i))).collect();
    let survivors = up.iter().filter(|&&u| u).count();
    let mut victims: Vec<Victim> = (0..count)
        .map(|_| Victim {
            knows: vec![false; n],
            ..Victim::default()
        })
        .collect();
    let mut false_fails = 0;
    sim.take_trace();
    while sim.now() < total {
        runner.run(sim, SCAN_EVERY.min(total - sim.now()));
        for e in sim.take_trace() {
            let after = e.at.saturating_sub(CRASH_AT);
            let Some(&v) = index.get(&e.member) else {
                false_fails += u64::from(e.kind == EventKind::Fail);
                continue;
            };
            let victim = &mut victims[v];
            match e.kind {
                EventKind::Suspect => {
                    victim.first_suspect.get_or_insert(after);
                }
                EventKind::Fail if up[e.observer.0] && !victim.knows[e.observer.0] => {
                    victim.first_fail.get_or_insert(after);
                    victim.knows[e.observer.0] = true;
                    victim.informed += 1;
                    if victim.informed == survivors {
                        victim.all_know = Some(after);
                    }
                }
                _ => {}
            }
        }
    }
    MassCrash {
        victims,
        survivors,
        false_fails,
    }
}

impl MassCrash {
    /// Adds the crash's fields to `s`: counts, then p50/p90/p99/max latencies (s).
    pub(crate) fn report(&self, s: &mut Summary) {
        let pairs = (self.victims.len() * self.survivors).max(1);
        let informed: usize = self.victims.iter().map(|v| v.informed).sum();
        let all_known = self.victims.iter().filter(|v| v.all_know.is_some()).count();
        s.kv("crashed", self.victims.len())
            .kv("crash_at_s", CRASH_AT.as_secs())
            .kv("survivors", self.survivors)
            .kv(
                "informed_pct",
                fmt(100.0 * informed as f64 / pairs as f64, 3),
            )
            .kv("victims_known_by_all", all_known)
            .kv("false_fails", self.false_fails);
        let latencies: [(&str, Latency); 3] = [
            ("suspect", |v| v.first_suspect),
            ("fail", |v| v.first_fail),
            ("all_know", |v| v.all_know),
        ];
        for (label, of) in latencies {
            let values = sorted(self.victims.iter().filter_map(of).map(|d| d.as_secs_f64()));
            for p in [50.0, 90.0, 99.0, 100.0] {
                let key = if p == 100.0 {
                    format!("{label}_max_s")
                } else {
                    format!("{label}_p{p:.0}_s")
                };
                s.kv(key, fmt(percentile(&values, p), 2));
            }
        }
    }
}
