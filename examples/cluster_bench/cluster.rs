//! The cluster of chat processes: spawning a node, reading what the nodes report, counting
//! unexpected events, and the graceful shutdown at the end (phase 4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, tick, unbounded};

use crate::children::{Children, Msg, Sample, read_stderr, read_stdout};
use crate::{Args, Preset, Result, now};

pub(crate) struct Cluster {
    chat: PathBuf,
    config: Preset,
    cluster_name: String,
    stats_every: u64,
    /// The key every node seals with, if any.
    key_file: Option<PathBuf>,
    pub(crate) children: Children,
    tx: Sender<Msg>,
    pub(crate) rx: Receiver<Msg>,
    /// Stats samples per node, in arrival order.
    pub(crate) samples: Vec<Vec<Sample>>,
    /// Events about members that were not expected at the time (phase, kind) → count.
    unexpected: BTreeMap<(String, String), usize>,
    /// The phase, for `unexpected`.
    pub(crate) phase: &'static str,
}

impl Cluster {
    /// A cluster of `chat` processes named `cluster_name`, sealing with `key_file` if
    /// given; `live` lists the running children's pids for the signal handler.
    pub(crate) fn new(
        chat: PathBuf,
        args: &Args,
        cluster_name: String,
        key_file: Option<&Path>,
        live: Arc<Mutex<Vec<u32>>>,
    ) -> Result<Cluster> {
        let (tx, rx) = unbounded();
        Ok(Cluster {
            chat,
            config: args.config,
            cluster_name,
            stats_every: args.stats_every,
            key_file: key_file.map(Path::to_path_buf),
            children: Children {
                procs: Vec::new(),
                live,
            },
            tx,
            rx,
            samples: Vec::new(),
            unexpected: BTreeMap::new(),
            phase: "join",
        })
    }

    pub(crate) fn name(i: usize) -> String {
        format!("n{i}")
    }

    /// Starts node `i`, joining through `seed` if given.
    pub(crate) fn spawn(&mut self, i: usize, seed: Option<&str>) -> Result<()> {
        let mut cmd = Command::new(&self.chat);
        cmd.args(["--headless", "--name", &Cluster::name(i)])
            .args(["--bind", "127.0.0.1:0"])
            .args(["--config", self.config.as_str()])
            .args(["--cluster", &self.cluster_name])
            .args(["--stats-every", &self.stats_every.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(seed) = seed {
            cmd.args(["--join", seed]);
        }
        if let Some(key_file) = &self.key_file {
            cmd.arg("--key-file").arg(key_file);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.chat.display()))?;
        let out = child.stdout.take().ok_or("no stdout pipe")?;
        let err = child.stderr.take().ok_or("no stderr pipe")?;
        self.children.push(child);
        self.samples.push(Vec::new());
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("n{i}-out"))
            .spawn(move || read_stdout(i, out, tx))?;
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("n{i}-err"))
            .spawn(move || read_stderr(i, err, tx))?;
        Ok(())
    }

    /// The next event line, recording stats samples on the way; `None` at `deadline`.
    pub(crate) fn next_event(&mut self, deadline: Instant) -> Option<(usize, u64, String, String)> {
        loop {
            match self.rx.recv_deadline(deadline).ok()? {
                Msg::Event {
                    node,
                    ms,
                    kind,
                    member,
                } => return Some((node, ms, kind, member)),
                Msg::Stats { node, sample } => self.samples[node].push(sample),
                Msg::Listening { .. } => {}
            }
        }
    }

    pub(crate) fn note_unexpected(&mut self, kind: &str) {
        *self
            .unexpected
            .entry((self.phase.to_owned(), kind.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn unexpected_summary(&self) -> String {
        self.unexpected
            .iter()
            .map(|((phase, kind), count)| format!("{count} {kind} during {phase}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// SIGTERMs every remaining child and waits up to `timeout`; SIGKILLs stragglers.
    /// Returns (exited with status 0, total).
    pub(crate) fn shutdown(&mut self, timeout: Duration) -> (usize, usize) {
        self.phase = "shutdown";
        let running = self.children.running();
        let pids: Vec<String> = running
            .iter()
            .filter_map(|&i| self.children.pid(i))
            .map(|p| p.to_string())
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-TERM").args(&pids).status();
        }
        let deadline = now() + timeout;
        let poll = tick(Duration::from_millis(50));
        let mut graceful = 0;
        let mut left: Vec<usize> = running.clone();
        while !left.is_empty() && now() < deadline {
            left.retain(|&i| {
                let Some(child) = self.children.procs[i].as_mut() else {
                    return false;
                };
                match child.try_wait() {
                    Ok(Some(status)) => {
                        if status.success() {
                            graceful += 1;
                        }
                        let _ = self.children.take(i);
                        false
                    }
                    Ok(None) => true,
                    Err(_) => false,
                }
            });
            let _ = poll.recv();
        }
        if !left.is_empty() {
            println!(
                "  {} processes did not exit within {} s: SIGKILL",
                left.len(),
                timeout.as_secs()
            );
        }
        // The drop guard SIGKILLs and reaps whatever is left.
        for i in left {
            if let Some(mut child) = self.children.take(i) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Drain the leave events and stats lines of the exits.
        while self.next_event(now()).is_some() {}
        (graceful, running.len())
    }
}
