//! The formulas of /work/shared/THEORY.md that the scenarios compare against.

use std::time::Duration;

use epidemic::{Config, StateMode};

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

/// THEORY.md §1: rounds until one update reached all `n` nodes by anti-entropy with one
/// peer a round, with the table's constant terms dropped: push as push rumor spreading
/// with f = 1, log₂N + ln N (Frieze & Grimmett; Pittel); pull, log₂N + log₂ ln N; push-pull,
/// log₃N + ln ln N (Karp et al. 2000). Also the formula, for the CSV.
pub(crate) fn anti_entropy_rounds(mode: StateMode, n: usize) -> (f64, &'static str) {
    let n = n as f64;
    match mode {
        StateMode::Push => (n.log2() + n.ln(), "log2 N + ln N"),
        StateMode::Pull => (n.log2() + n.ln().log2(), "log2 N + log2 ln N"),
        StateMode::PushPull => (n.log(3.0) + n.ln().ln(), "log3 N + ln ln N"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anti_entropy_rounds_match_the_derived_table_of_theory_md() {
        // THEORY.md §1, derived round counts at N = 100 and 1,000.
        let table = [
            (StateMode::Push, 100, 11.3),
            (StateMode::Pull, 100, 8.9),
            (StateMode::PushPull, 100, 5.7),
            (StateMode::Push, 1_000, 16.9),
            (StateMode::Pull, 1_000, 12.8),
            (StateMode::PushPull, 1_000, 8.2),
        ];
        for (mode, n, rounds) in table {
            let (got, _) = anti_entropy_rounds(mode, n);
            // The table gives one decimal, and rounds 11.25 and 8.85 up.
            assert!((got - rounds).abs() <= 0.06, "{mode:?} at {n}: {got}");
        }
    }

    #[test]
    fn the_push_recurrence_informs_everyone_in_fewer_rounds_with_a_larger_fanout() {
        let one = push_curve(1_000, 1, 1_000);
        let three = push_curve(1_000, 3, 1_000);
        assert!(rounds_to_all(&three, 1_000) < rounds_to_all(&one, 1_000));
        assert_eq!(one[0], 1.0);
        assert!(one.windows(2).all(|w| w[0] < w[1]));
    }
}
