//! Phase 1, join: start the processes and wait until each has seen every other join.

use std::collections::HashSet;
use std::time::Duration;

use crate::children::Msg;
use crate::cluster::Cluster;
use crate::{Result, now, unix_ms};

pub(crate) struct JoinResult {
    pub(crate) spawn_ms: u64,
    pub(crate) converged_ms: u64,
    pub(crate) since_first_ms: u64,
}

impl Cluster {
    /// Starts `n` nodes and waits until each has seen every other join.
    pub(crate) fn start(&mut self, n: usize, timeout: Duration) -> Result<JoinResult> {
        let first_ms = unix_ms();
        self.spawn(0, None)?;
        let deadline = now() + Duration::from_secs(10);
        let seed = loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Msg::Listening { node: 0, addr }) => break addr,
                Ok(Msg::Stats { node, sample }) => self.samples[node].push(sample),
                Ok(_) => {}
                Err(_) => return Err("n0 did not report its address within 10 s".into()),
            }
        };
        for i in 1..n {
            self.spawn(i, Some(&seed))?;
        }
        let last_ms = unix_ms();
        let mut seen: Vec<HashSet<String>> = vec![HashSet::new(); n];
        let mut complete = 0;
        let mut converged_at = last_ms;
        let deadline = now() + timeout;
        while complete < n {
            let Some((node, ms, kind, member)) = self.next_event(deadline) else {
                let missing: Vec<String> = (0..n)
                    .filter(|&i| seen[i].len() < n - 1)
                    .map(|i| format!("n{i} saw {}", seen[i].len()))
                    .collect();
                return Err(format!(
                    "no join convergence within {} s: {}",
                    timeout.as_secs(),
                    missing.join(", ")
                )
                .into());
            };
            if kind != "join" {
                self.note_unexpected(&kind);
                continue;
            }
            if seen[node].insert(member) && seen[node].len() == n - 1 {
                complete += 1;
                converged_at = converged_at.max(ms);
            }
        }
        Ok(JoinResult {
            spawn_ms: last_ms - first_ms,
            converged_ms: converged_at.saturating_sub(last_ms),
            since_first_ms: converged_at.saturating_sub(first_ms),
        })
    }
}
