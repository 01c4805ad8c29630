//! The chat processes: the binary they run, the guard that kills them, and the threads
//! that read their stdout (event lines) and stderr (address, stats lines).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use crate::{Args, Result};

/// Builds the chat example unless told not to, and returns its path.
pub(crate) fn chat_binary(args: &Args) -> Result<PathBuf> {
    if let Some(path) = &args.chat {
        return Ok(path.clone());
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from);
    let path = target.join("release").join("examples").join("chat");
    if !args.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--example", "chat"])
            .current_dir(&manifest)
            .status()
            .map_err(|e| format!("cannot run cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --release --example chat failed: {status}").into());
        }
    }
    if !path.exists() {
        return Err(format!(
            "{} does not exist: run `cargo build --release --examples` first",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// What a child's reader threads report.
pub(crate) enum Msg {
    /// A membership event line from stdout.
    Event {
        node: usize,
        ms: u64,
        kind: String,
        member: String,
    },
    /// The node's bound address, from its stderr.
    Listening { node: usize, addr: String },
    /// A stats line from stderr.
    Stats { node: usize, sample: Sample },
}

/// One `stats` line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    pub(crate) ms: u64,
    pub(crate) packets_in: u64,
    pub(crate) packets_out: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
}

impl Sample {
    fn parse(line: &str) -> Option<Sample> {
        let mut words = line.split_whitespace();
        if words.next()? != "stats" {
            return None;
        }
        let mut sample = Sample {
            ms: words.next()?.parse().ok()?,
            ..Sample::default()
        };
        for word in words {
            let (key, value) = word.split_once('=')?;
            let value = value.parse().ok()?;
            match key {
                "packets_in" => sample.packets_in = value,
                "packets_out" => sample.packets_out = value,
                "bytes_in" => sample.bytes_in = value,
                "bytes_out" => sample.bytes_out = value,
                _ => {}
            }
        }
        Some(sample)
    }
}

/// Reads a child's stdout: `<unix_ms> <kind> <member>` lines.
pub(crate) fn read_stdout(node: usize, out: impl Read, tx: Sender<Msg>) {
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { return };
        let mut parts = line.splitn(3, ' ');
        let (Some(ms), Some(kind), Some(member)) = (parts.next(), parts.next(), parts.next())
        else {
            eprintln!("  [n{node}] unparsed stdout line: {line}");
            continue;
        };
        let Ok(ms) = ms.parse() else {
            eprintln!("  [n{node}] unparsed stdout line: {line}");
            continue;
        };
        let msg = Msg::Event {
            node,
            ms,
            kind: kind.to_owned(),
            member: member.to_owned(),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Reads a child's stderr: its address, stats lines, and diagnostics (echoed).
pub(crate) fn read_stderr(node: usize, err: impl Read, tx: Sender<Msg>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { return };
        let msg = if let Some(sample) = Sample::parse(&line) {
            Msg::Stats { node, sample }
        } else if let Some((_, addr)) = line.split_once(" is listening on ") {
            Msg::Listening {
                node,
                addr: addr.trim().to_owned(),
            }
        } else {
            if !line.contains("joined through") {
                eprintln!("  [n{node}] {line}");
            }
            continue;
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// The children, killed (SIGKILL) and reaped on drop if still running.
pub(crate) struct Children {
    pub(crate) procs: Vec<Option<Child>>,
    /// Pids of running children, for the signal handler.
    pub(crate) live: Arc<Mutex<Vec<u32>>>,
}

impl Children {
    pub(crate) fn push(&mut self, child: Child) {
        if let Ok(mut live) = self.live.lock() {
            live.push(child.id());
        }
        self.procs.push(Some(child));
    }

    pub(crate) fn pid(&self, i: usize) -> Option<u32> {
        self.procs[i].as_ref().map(Child::id)
    }

    /// Takes child `i` out of the set: its pid is no longer signalled.
    pub(crate) fn take(&mut self, i: usize) -> Option<Child> {
        let child = self.procs[i].take()?;
        if let Ok(mut live) = self.live.lock() {
            live.retain(|&p| p != child.id());
        }
        Some(child)
    }

    pub(crate) fn running(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].is_some())
            .collect()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for i in 0..self.procs.len() {
            if let Some(mut child) = self.take(i) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Installs a SIGINT/SIGTERM handler that SIGKILLs every child still listed and exits.
pub(crate) fn kill_children_on_signal(live: Arc<Mutex<Vec<u32>>>) {
    let installed = ctrlc::set_handler(move || {
        let pids: Vec<String> = live
            .lock()
            .map(|l| l.iter().map(u32::to_string).collect())
            .unwrap_or_default();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
        eprintln!("cluster_bench: interrupted; killed {} children", pids.len());
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!("cluster_bench: cannot handle SIGINT/SIGTERM ({e}); Ctrl-C may leave children");
    }
}
