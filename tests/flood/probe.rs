//! What the flood costs, read from `/proc` (Linux; elsewhere every reading is `None`):
//! the CPU time of one node's threads, the process's resident memory, and the kernel's
//! drop count for one UDP socket.
//!
//! A node's threads are named `epidemic/<node>/<actor>`, but Linux keeps only the first
//! 15 bytes of a thread name: `epidemic/fl0/re` for the reactor of `fl0`. The flood test
//! uses short node names, so the prefix `epidemic/<node>/` still tells its nodes apart.

use std::fs;
use std::net::SocketAddr;
use std::time::Duration;

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every Linux port
/// this runs on).
const USER_HZ: f64 = 100.0;
/// Linux keeps this many bytes of a thread's name.
const COMM_LEN: usize = 15;

/// CPU time (user + system) used so far by this process's threads whose (truncated) name
/// starts with `prefix`, and how many there are.
pub(crate) fn cpu_of_threads(prefix: &str) -> Option<(Duration, usize)> {
    let prefix = &prefix[..prefix.len().min(COMM_LEN)];
    let mut ticks = 0u64;
    let mut threads = 0;
    for task in fs::read_dir("/proc/self/task").ok()? {
        let Ok(task) = task else { continue };
        // A thread may end between the listing and the read: skip it.
        let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        // After the name: state (field 3), ..., utime (14), stime (15).
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        ticks += utime.parse::<u64>().ok()? + stime.parse::<u64>().ok()?;
        threads += 1;
    }
    Some((Duration::from_secs_f64(ticks as f64 / USER_HZ), threads))
}

/// This process's resident memory, in KiB.
pub(crate) fn rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Datagrams the kernel dropped for the IPv4 UDP socket bound to `addr` (its receive
/// buffer was full), from the last column of `/proc/net/udp`.
pub(crate) fn kernel_drops(addr: SocketAddr) -> Option<u64> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    // `/proc/net/udp` writes the address as the in-memory u32, in hex, then the port.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    let table = fs::read_to_string("/proc/net/udp").ok()?;
    let line = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(local.as_str()))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The CPU time of some threads over a stretch of wall time, as a percentage of one core.
pub(crate) fn percent_of_core(cpu: Duration, wall: Duration) -> f64 {
    100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}
