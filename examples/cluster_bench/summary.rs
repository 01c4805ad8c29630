//! The one-line summary at the end: `summary nodes=.. config=.. join_ms=.. ...`.

use std::collections::HashMap;

use crate::detection::Detection;
use crate::idle::IdleResult;
use crate::join::JoinResult;
use crate::stats::{FloatStats, quantile};

/// The figures of one pass, as `key=value` fields in print order.
pub(crate) struct Summary {
    fields: Vec<(&'static str, String)>,
}

impl Summary {
    pub(crate) fn new(
        n: usize,
        config: &str,
        join: &JoinResult,
        idle: &IdleResult,
        detection: &Detection,
    ) -> Summary {
        let d = detection;
        let complete = d.complete();
        let cpu = FloatStats::of(&idle.cpu());
        let rss = FloatStats::of(&idle.rss_mib());
        let mut fields: Vec<(&str, String)> = vec![
            ("nodes", n.to_string()),
            ("config", config.to_owned()),
            ("join_ms", join.converged_ms.to_string()),
            ("kills", d.kills.len().to_string()),
            ("undetected", d.incomplete().to_string()),
            ("detect_p50_ms", quantile(&complete, 0.5).to_string()),
            ("detect_p99_ms", quantile(&complete, 0.99).to_string()),
            (
                "detect_max_ms",
                complete.iter().max().copied().unwrap_or(0).to_string(),
            ),
            ("first_p50_ms", quantile(&d.first(), 0.5).to_string()),
            ("observer_p50_ms", quantile(&d.observer, 0.5).to_string()),
            ("observer_p99_ms", quantile(&d.observer, 0.99).to_string()),
            ("idle_cpu_pct", format!("{:.3}", cpu.median)),
            ("idle_cpu_max_pct", format!("{:.3}", cpu.max)),
            ("rss_mib", format!("{:.2}", rss.median)),
            ("rss_max_mib", format!("{:.2}", rss.max)),
        ];
        let rates: HashMap<usize, f64> = (0..4)
            .map(|k| (k, FloatStats::of(&idle.rate(k)).median))
            .collect();
        fields.push(("pkts_per_node_s", format!("{:.2}", rates[&0])));
        fields.push(("pkts_in_per_node_s", format!("{:.2}", rates[&1])));
        fields.push(("bytes_per_node_s", format!("{:.0}", rates[&2])));
        fields.push(("bytes_in_per_node_s", format!("{:.0}", rates[&3])));
        if let Some(busy) = idle.machine_busy_pct {
            fields.push(("machine_busy_pct", format!("{busy:.1}")));
        }
        Summary { fields }
    }

    /// The field `key` as a number, if it is one.
    pub(crate) fn number(&self, key: &str) -> Option<f64> {
        let (_, value) = self.fields.iter().find(|(k, _)| *k == key)?;
        value.parse().ok()
    }

    pub(crate) fn print(&self) {
        let line: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("summary {}", line.join(" "));
    }
}
