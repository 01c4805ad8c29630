//! The formulas of /work/shared/THEORY.md that the scenarios compare against.

use std::time::Duration;

use epidemic::Config;

/// THEORY.md §1: the expected number informed after each push round,
/// `E[I_{t+1}] = N − (N − I_t)(1 − 1/N)^{f·I_t}` from `I_0 = 1`, until fewer than half a
/// member is expected uninformed (the last entry), at most `max_rounds` rounds.
pub(crate) fn push_curve(n: usize, fanout: usize, max_rounds: usize) -> Vec<f64> {
    let n_f = n as f64;
    let miss = 1.0 - 1.0 / n_f;
    let mut curve = vec![1.0];
    let mut informed = 1.0_f64;
    while n_f - informed >= 0.5 && curve.len() <= max_rounds {
        informed = n_f - (n_f - informed) * miss.powf(fanout as f64 * informed);
        curve.push(informed);
    }
    curve
}

/// First round at which the expected informed fraction reaches `fraction` (from
/// [`push_curve`]); `None` if the curve never does.
pub(crate) fn rounds_to_fraction(curve: &[f64], n: usize, fraction: f64) -> Option<usize> {
    curve.iter().position(|&i| i >= fraction * n as f64)
}

/// First round at which fewer than half a member is expected uninformed.
pub(crate) fn rounds_to_all(curve: &[f64], n: usize) -> Option<usize> {
    curve.iter().position(|&i| n as f64 - i < 0.5)
}

/// THEORY.md §3: expected probe periods until some member probes a given failed member,
/// `e / (e − 1)`.
pub(crate) fn first_detection_periods() -> f64 {
    let e = std::f64::consts::E;
    e / (e - 1.0)
}

/// The shortest suspicion timeout, `suspicion_mult × max(1, log10 N) × probe_interval`
/// (plain SWIM's only one).
pub(crate) fn suspicion_min(config: &Config, n: usize) -> Duration {
    let scale = (n as f64).log10().max(1.0);
    config
        .probe_interval
        .mul_f64(f64::from(config.suspicion_mult) * scale)
}

/// Lifeguard's timeout after `c` independent confirmations (THEORY.md §4):
/// `max(min, max − (max − min)·log(c+1)/log(k+1))` with `max = suspicion_max_mult × min`,
/// `k = suspicion_mult − 2`; with Lifeguard off, `min`.
pub(crate) fn suspicion_timeout(config: &Config, n: usize, c: u32) -> Duration {
    let min = suspicion_min(config, n);
    let k = config.suspicion_mult.saturating_sub(2);
    if !config.lifeguard || k == 0 {
        return min;
    }
    let max = min.mul_f64(f64::from(config.suspicion_max_mult.max(1)));
    let frac = (f64::from(c) + 1.0).ln() / (f64::from(k) + 1.0).ln();
    let t = max.as_secs_f64() - (max - min).as_secs_f64() * frac;
    Duration::from_secs_f64(t.max(min.as_secs_f64()))
}

/// THEORY.md §6: one ping and one ack out per probe interval, 28 B IP+UDP header plus a
/// ~20 B payload each: datagrams and bytes (with headers) per node per second, sent.
pub(crate) fn traffic_floor(config: &Config) -> (f64, f64) {
    let per_s = 1.0 / config.probe_interval.as_secs_f64();
    (2.0 * per_s, 2.0 * 48.0 * per_s)
}

/// IP + UDP header bytes per datagram (THEORY.md §6).
pub(crate) const UDP_IP_HEADER: f64 = 28.0;
