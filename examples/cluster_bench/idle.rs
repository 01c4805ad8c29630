//! Phase 2, idle: CPU, memory and traffic of a quiet cluster, per node.

use std::time::Duration;

use crate::children::Sample;
use crate::cluster::Cluster;
use crate::procfs::{cpu_reading, machine_ticks, proc_status_kib};
use crate::stats::FloatStats;
use crate::{Result, now, unix_ms};

impl Cluster {
    /// Lets the cluster idle for `window` and measures CPU, RSS and traffic.
    pub(crate) fn idle(&mut self, window: Duration, clk_tck: u64) -> Result<IdleResult> {
        self.phase = "idle";
        let nodes = self.children.running();
        let start_ms = unix_ms();
        let start_machine = machine_ticks();
        let start_cpu: Vec<Option<(u64, u64)>> = nodes
            .iter()
            .map(|&i| self.children.pid(i).and_then(cpu_reading))
            .collect();
        let deadline = now() + window;
        while let Some((_, _, kind, _)) = self.next_event(deadline) {
            self.note_unexpected(&kind);
        }
        let end_cpu: Vec<Option<(u64, u64)>> = nodes
            .iter()
            .map(|&i| self.children.pid(i).and_then(cpu_reading))
            .collect();
        let end_machine = machine_ticks();
        let end_ms = unix_ms();
        // Stats lines stamped up to end_ms may still be in flight: wait a moment for them.
        let settle = now() + Duration::from_millis(300);
        while let Some((_, _, kind, _)) = self.next_event(settle) {
            self.note_unexpected(&kind);
        }
        let secs = (end_ms - start_ms) as f64 / 1000.0;
        let mut per_node = Vec::new();
        for (k, &i) in nodes.iter().enumerate() {
            let (cpu_pct, tick_pct) = match (start_cpu[k], end_cpu[k]) {
                (Some((ns_a, ticks_a)), Some((ns_b, ticks_b))) => (
                    (ns_b - ns_a) as f64 / 1e9 / secs * 100.0,
                    (ticks_b - ticks_a) as f64 / clk_tck as f64 / secs * 100.0,
                ),
                _ => return Err(format!("cannot read /proc for n{i}").into()),
            };
            let pid = self.children.pid(i);
            let rss_kib = pid.and_then(|p| proc_status_kib(p, "VmRSS")).unwrap_or(0);
            let anon_kib = pid.and_then(|p| proc_status_kib(p, "RssAnon")).unwrap_or(0);
            let inside: Vec<&Sample> = self.samples[i]
                .iter()
                .filter(|s| s.ms >= start_ms && s.ms <= end_ms)
                .collect();
            let rates = match (inside.first(), inside.last()) {
                (Some(a), Some(b)) if b.ms > a.ms => {
                    let dt = (b.ms - a.ms) as f64 / 1000.0;
                    Some([
                        (b.packets_out - a.packets_out) as f64 / dt,
                        (b.packets_in - a.packets_in) as f64 / dt,
                        (b.bytes_out - a.bytes_out) as f64 / dt,
                        (b.bytes_in - a.bytes_in) as f64 / dt,
                    ])
                }
                _ => None,
            };
            per_node.push(NodeIdle {
                cpu_pct,
                tick_pct,
                rss_kib,
                anon_kib,
                rates,
            });
        }
        let machine_busy_pct = match (start_machine, end_machine) {
            (Some((busy_a, total_a)), Some((busy_b, total_b))) if total_b > total_a => {
                Some((busy_b - busy_a) as f64 / (total_b - total_a) as f64 * 100.0)
            }
            _ => None,
        };
        Ok(IdleResult {
            secs,
            per_node,
            machine_busy_pct,
        })
    }
}

struct NodeIdle {
    /// CPU % of one core, from the threads' schedstat run times.
    cpu_pct: f64,
    /// The same from utime + stime (whole clock ticks), as a cross-check.
    tick_pct: f64,
    rss_kib: u64,
    /// The anonymous part of the RSS (heap, stacks, channel buffers), KiB.
    anon_kib: u64,
    /// packets out, packets in, bytes out, bytes in, per second.
    rates: Option<[f64; 4]>,
}

pub(crate) struct IdleResult {
    secs: f64,
    per_node: Vec<NodeIdle>,
    pub(crate) machine_busy_pct: Option<f64>,
}

impl IdleResult {
    pub(crate) fn cpu(&self) -> Vec<f64> {
        self.per_node.iter().map(|n| n.cpu_pct).collect()
    }

    pub(crate) fn rss_mib(&self) -> Vec<f64> {
        self.per_node
            .iter()
            .map(|n| n.rss_kib as f64 / 1024.0)
            .collect()
    }

    fn anon_mib(&self) -> Vec<f64> {
        self.per_node
            .iter()
            .map(|n| n.anon_kib as f64 / 1024.0)
            .collect()
    }

    pub(crate) fn rate(&self, k: usize) -> Vec<f64> {
        self.per_node
            .iter()
            .filter_map(|n| n.rates.map(|r| r[k]))
            .collect()
    }

    pub(crate) fn print(&self) {
        println!(
            "  window {:.1} s; machine busy {}; {} nodes together used {:.2} % of one core \
             ({:.2} % by utime + stime)",
            self.secs,
            self.machine_busy_pct
                .map_or("?".into(), |p| format!("{p:.1} % of all CPUs")),
            self.per_node.len(),
            self.cpu().iter().sum::<f64>(),
            self.per_node.iter().map(|n| n.tick_pct).sum::<f64>()
        );
        println!(
            "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "per node", "min", "median", "mean", "p90", "max"
        );
        let rows: [(&str, Vec<f64>); 7] = [
            ("CPU % of one core", self.cpu()),
            ("RSS MiB", self.rss_mib()),
            ("  of which anonymous MiB", self.anon_mib()),
            ("packets out /s", self.rate(0)),
            ("packets in /s", self.rate(1)),
            ("bytes out /s", self.rate(2)),
            ("bytes in /s", self.rate(3)),
        ];
        for (label, values) in rows {
            let s = FloatStats::of(&values);
            println!(
                "  {label:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                s.min, s.median, s.mean, s.p90, s.max
            );
        }
        let missing = self.per_node.iter().filter(|n| n.rates.is_none()).count();
        if missing > 0 {
            println!("  ({missing} nodes printed fewer than two stats lines in the window)");
        }
    }
}
