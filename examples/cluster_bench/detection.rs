//! Phase 3, failure detection: kill nodes one at a time and measure how long the others
//! take to report each failure.

use std::collections::HashSet;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cluster::Cluster;
use crate::stats::quantile;
use crate::{Args, Result, now, unix_ms};

impl Cluster {
    /// Kills nodes one at a time and measures how long the others take to report it.
    pub(crate) fn kills(&mut self, args: &Args) -> Result<Detection> {
        self.phase = "kills";
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let mut detection = Detection::default();
        for round in 0..args.kills {
            let candidates: Vec<usize> = self
                .children
                .running()
                .into_iter()
                .filter(|&i| i != 0)
                .collect();
            if candidates.is_empty() || self.children.running().len() < 3 {
                println!("  (stopping after {round} kills: too few nodes left)");
                break;
            }
            let victim = candidates[rng.random_range(0..candidates.len())];
            let name = Cluster::name(victim);
            let mut child = self.children.take(victim).ok_or("victim already gone")?;
            let killed_ms = unix_ms();
            child.kill()?;
            let _ = child.wait();
            let mut waiting: HashSet<usize> = self.children.running().into_iter().collect();
            let observers = waiting.len();
            let mut first_suspect: Option<u64> = None;
            let mut first_fail: Option<u64> = None;
            let mut latencies = Vec::new();
            let deadline = now() + Duration::from_secs(args.detect_timeout_secs);
            let mut other_events = 0;
            while !waiting.is_empty() {
                let Some((node, ms, kind, member)) = self.next_event(deadline) else {
                    break;
                };
                if member != name {
                    self.note_unexpected(&kind);
                    other_events += 1;
                    continue;
                }
                let after = ms.saturating_sub(killed_ms);
                match kind.as_str() {
                    "suspect" => {
                        first_suspect = Some(first_suspect.map_or(after, |f| f.min(after)));
                    }
                    "fail" => {
                        first_fail = Some(first_fail.map_or(after, |f| f.min(after)));
                        if waiting.remove(&node) {
                            latencies.push(after);
                        }
                    }
                    _ => {}
                }
            }
            let kill = Kill {
                victim: name,
                observers,
                reported: latencies.len(),
                first: first_suspect
                    .into_iter()
                    .chain(first_fail)
                    .min()
                    .unwrap_or(0),
                first_fail: first_fail.unwrap_or(0),
                all: latencies.iter().copied().max().unwrap_or(0),
            };
            println!(
                "  kill {}: {:>4}  first suspect/fail {:>6} ms, first fail {:>6} ms, \
                 all {}/{} reported fail after {:>6} ms{}",
                round + 1,
                kill.victim,
                kill.first,
                kill.first_fail,
                kill.reported,
                kill.observers,
                kill.all,
                if other_events > 0 {
                    format!(" ({other_events} events about other members!)")
                } else {
                    String::new()
                }
            );
            if kill.reported < kill.observers {
                let mut missing: Vec<String> = waiting.iter().map(|&i| format!("n{i}")).collect();
                missing.sort();
                println!(
                    "    not reported within {} s by: {}",
                    args.detect_timeout_secs,
                    missing.join(" ")
                );
            }
            detection.observer.extend(latencies);
            detection.kills.push(kill);
            if round + 1 < args.kills {
                let gap = now() + Duration::from_secs(args.gap_secs);
                while let Some((_, _, kind, _)) = self.next_event(gap) {
                    self.note_unexpected(&kind);
                }
            }
        }
        Ok(detection)
    }
}

pub(crate) struct Kill {
    victim: String,
    observers: usize,
    reported: usize,
    /// Kill → first suspect or fail line anywhere, ms.
    first: u64,
    /// Kill → first fail line anywhere, ms.
    first_fail: u64,
    /// Kill → the last observer's fail line, ms (if all reported).
    all: u64,
}

#[derive(Default)]
pub(crate) struct Detection {
    pub(crate) kills: Vec<Kill>,
    /// Every (kill, observer) latency, ms.
    pub(crate) observer: Vec<u64>,
}

impl Detection {
    pub(crate) fn complete(&self) -> Vec<u64> {
        self.kills
            .iter()
            .filter(|k| k.reported == k.observers)
            .map(|k| k.all)
            .collect()
    }

    pub(crate) fn first(&self) -> Vec<u64> {
        self.kills.iter().map(|k| k.first).collect()
    }

    fn first_fail(&self) -> Vec<u64> {
        self.kills.iter().map(|k| k.first_fail).collect()
    }

    pub(crate) fn incomplete(&self) -> usize {
        self.kills
            .iter()
            .filter(|k| k.reported < k.observers)
            .count()
    }

    pub(crate) fn print(&self) {
        println!(
            "  {:<40} {:>5} {:>8} {:>8} {:>8} {:>8}",
            "latency from kill, ms", "n", "min", "p50", "p99", "max"
        );
        let rows = [
            ("first suspect/fail anywhere", self.first()),
            ("first fail anywhere", self.first_fail()),
            ("every other node reports fail", self.complete()),
            ("each observer's fail", self.observer.clone()),
        ];
        for (label, values) in rows {
            println!(
                "  {label:<40} {:>5} {:>8} {:>8} {:>8} {:>8}",
                values.len(),
                values.iter().copied().min().unwrap_or(0),
                quantile(&values, 0.5),
                quantile(&values, 0.99),
                values.iter().copied().max().unwrap_or(0)
            );
        }
        if self.incomplete() > 0 {
            println!(
                "  {} kills were not reported by every node in time",
                self.incomplete()
            );
        }
    }
}
