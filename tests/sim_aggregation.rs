//! Aggregation (push-sum) in the simulator: mass conservation, convergence to the true
//! count, sum, average, minimum and maximum, recovery after a crash, and bad input.
//! Each test derives its seed from its name; a failure prints the seed and the one
//! command that reruns it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod seeded;

use epidemic::sim::{Fault, NetworkModel, NodeId, Simulation, test_seed};
use epidemic::{AggregateError, Config};
use seeded::run_seeded;

/// Runs `scenario` with the test's seed; on failure, panics with the rerun command.
fn with_seed(test: &str, scenario: impl FnOnce(u64) -> Result<(), String>) {
    run_seeded("sim_aggregation", test, scenario);
}

const NAME: &str = "load";

/// `n` nodes that know each other from the start; node `i` publishes `value(i)`. Every
/// node's rounds fall on the same grid (multiples of the interval), and datagrams arrive
/// within 0.3 ms, so half an interval after a round nothing is in flight.
fn cluster(n: usize, seed: u64, value: impl Fn(usize) -> f64) -> Simulation {
    let mut sim = Simulation::builder()
        .nodes(n)
        .seed(seed)
        .bootstrapped(true)
        .network(NetworkModel::lan())
        .build();
    for i in 0..n {
        sim.publish(NodeId(i), NAME, value(i)).unwrap();
    }
    sim
}

fn interval() -> Duration {
    Config::lan().aggregation_interval
}

/// Runs to half an interval after the next round.
fn next_round(sim: &mut Simulation) -> Result<(), String> {
    let step = interval().as_micros() as u64;
    let now = sim.now().as_micros() as u64;
    let next_mid = (now / step + 1) * step + step / 2;
    sim.run_for(Duration::from_micros(next_mid - now))
        .map_err(|v| v.to_string())
}

/// `(Σ value, Σ ones, Σ weight)` over the live nodes, and their epochs.
fn totals(sim: &Simulation) -> ([f64; 3], Vec<u64>) {
    let mut sum = [0.0; 3];
    let mut epochs = Vec::new();
    for i in 0..sim.node_count() {
        if !sim.is_up(NodeId(i)) {
            continue;
        }
        if let Some(m) = sim.aggregate_mass(NodeId(i), NAME) {
            sum[0] += m.value;
            sum[1] += m.ones;
            sum[2] += m.weight;
            epochs.push(m.epoch);
        }
    }
    (sum, epochs)
}

fn rel(x: f64, truth: f64) -> f64 {
    (x - truth).abs() / truth.abs()
}

/// Mass conservation: without loss, at a point where nothing is in flight, the masses of
/// all nodes add up to what was injected. Halving is exact in binary floating point and
/// every mass is a multiple of 2^-2r after r rounds (fanout 2: quarters), so with integer
/// values the sums stay exact while they fit 53 bits (here, ≤ 2^11 · 2^40: the first 20
/// rounds); later, additions round, and the check is to a relative 1e-12.
#[test]
fn mass_is_conserved_without_loss() {
    with_seed("mass_is_conserved_without_loss", |seed| {
        let n = 50;
        let mut sim = cluster(n, seed, |i| (i + 1) as f64);
        let truth = [1275.0, n as f64, 1.0];
        for round in 1..=60 {
            next_round(&mut sim)?;
            let (sum, epochs) = totals(&sim);
            if epochs.len() != n || epochs.iter().any(|&e| e != 0) {
                return Err(format!("round {round}: epochs {epochs:?}"));
            }
            for (k, what) in ["value", "ones", "weight"].into_iter().enumerate() {
                let exact = round <= 20;
                let ok = if exact {
                    sum[k] == truth[k]
                } else {
                    rel(sum[k], truth[k]) <= 1e-12
                };
                if !ok {
                    return Err(format!(
                        "round {round}: Σ {what} = {:e}, injected {:e}",
                        sum[k], truth[k]
                    ));
                }
            }
        }
        Ok(())
    });
}

/// Convergence: every node's average, count and sum within a relative 1e-6 of the truth,
/// and the exact minimum and maximum, within THEORY.md §5's bound
/// 1.5 × (log2 N + log2 1/ε) rounds (38 at N = 50).
#[test]
fn converges_to_the_true_aggregates() {
    with_seed("converges_to_the_true_aggregates", |seed| {
        let n = 50;
        let value = |i: usize| 10.0 + 0.37 * (i * i % 17) as f64 - 0.5 * i as f64;
        let mut sim = cluster(n, seed, value);
        let values: Vec<f64> = (0..n).map(value).collect();
        let sum: f64 = values.iter().sum();
        let (avg, count) = (sum / n as f64, n as f64);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let bound = (1.5 * ((n as f64).log2() + 1e6f64.log2())).floor() as u32;
        let mut reached = None;
        for round in 1..=bound {
            next_round(&mut sim)?;
            let worst = (0..n)
                .map(|i| {
                    let m = sim.aggregate_mass(NodeId(i), NAME).unwrap();
                    let (a, c, s) = (m.value / m.ones, m.ones / m.weight, m.value / m.weight);
                    rel(a, avg).max(rel(c, count)).max(rel(s, sum))
                })
                .fold(0.0, f64::max);
            if worst <= 1e-6 {
                reached = Some(round);
                break;
            }
        }
        let Some(round) = reached else {
            return Err(format!("not within 1e-6 after {bound} rounds"));
        };
        println!("relative error ≤ 1e-6 at every node after {round} rounds (bound {bound})");
        // A few more rounds for the convergence indicator to settle.
        for _ in 0..6 {
            next_round(&mut sim)?;
        }
        for i in 0..n {
            let e = sim.estimate(NodeId(i), NAME).unwrap();
            let close = rel(e.avg, avg) <= 1e-6
                && rel(e.count, count) <= 1e-6
                && rel(e.sum, sum) <= 1e-6
                && e.nodes() == n as u64;
            if !(e.converged && close && e.min == min && e.max == max && e.epoch == 0) {
                return Err(format!(
                    "node {i}: {e:?}; truth avg {avg} sum {sum} {min}..{max}"
                ));
            }
        }
        let settled = sim.settled_estimates();
        if settled.len() != n || settled.iter().any(|s| !s.estimate.converged) {
            return Err(format!("{} settle callbacks, expected {n}", settled.len()));
        }
        Ok(())
    });
}

/// A crashed node's mass is lost mid-epoch; once membership knows, the next epoch
/// counts the N − 1 survivors and their average again.
#[test]
fn a_crash_is_recovered_by_the_next_epoch() {
    with_seed("a_crash_is_recovered_by_the_next_epoch", |seed| {
        let n = 20;
        let value = |i: usize| (3 * i + 1) as f64;
        let mut sim = cluster(n, seed, value);
        let epoch = Duration::from_micros(
            interval().as_micros() as u64 * u64::from(Config::lan().aggregation_epoch_rounds),
        );
        sim.run_for(epoch + epoch / 2).map_err(|v| v.to_string())?;
        let before = sim.estimate(NodeId(0), NAME).unwrap();
        if before.nodes() != n as u64 || !before.converged {
            return Err(format!("before the crash: {before:?}"));
        }
        let dead = NodeId(7);
        sim.fault(Fault::Crash(dead));
        sim.run_until_converged(Duration::from_secs(60))?;
        let (_, epochs) = totals(&sim);
        let detected = epochs.into_iter().max().unwrap_or(0);
        // The next epoch starts at most one epoch later; give it all its rounds.
        sim.run_for(epoch * 2).map_err(|v| v.to_string())?;
        let survivors: Vec<f64> = (0..n).filter(|&i| i != dead.0).map(value).collect();
        let avg = survivors.iter().sum::<f64>() / survivors.len() as f64;
        for i in (0..n).filter(|&i| i != dead.0) {
            let e = sim.estimate(NodeId(i), NAME).unwrap();
            let ok = e.epoch > detected
                && e.converged
                && rel(e.count, (n - 1) as f64) <= 1e-6
                && rel(e.avg, avg) <= 1e-6
                && e.max == value(n - 1);
            if !ok {
                return Err(format!(
                    "node {i}: {e:?}; expected {} nodes, avg {avg}, epoch > {detected}",
                    n - 1
                ));
            }
        }
        Ok(())
    });
}

/// A node added mid-epoch relays mass in it and is counted from the next epoch on.
#[test]
fn a_joining_node_is_counted_from_the_next_epoch() {
    with_seed("a_joining_node_is_counted_from_the_next_epoch", |seed| {
        let n = 12;
        let mut sim = cluster(n, seed, |_| 1.0);
        let rounds = Config::lan().aggregation_epoch_rounds;
        let epoch = interval() * rounds;
        sim.run_for(epoch + epoch / 2).map_err(|v| v.to_string())?;
        let newcomer = sim.add_node();
        sim.publish(newcomer, NAME, 14.0).unwrap();
        sim.run_until_converged(Duration::from_secs(30))?;
        sim.run_for(epoch * 2 + epoch / 2)
            .map_err(|v| v.to_string())?;
        for i in 0..=n {
            let e = sim.estimate(NodeId(i), NAME).unwrap();
            let ok = e.converged
                && rel(e.count, (n + 1) as f64) <= 1e-6
                && rel(e.avg, 2.0) <= 1e-6
                && e.max == 14.0;
            if !ok {
                return Err(format!("node {i}: {e:?}"));
            }
        }
        Ok(())
    });
}

#[test]
fn bad_values_get_a_typed_error() {
    let mut sim = Simulation::builder()
        .nodes(2)
        .bootstrapped(true)
        .seed(test_seed("bad_values_get_a_typed_error"))
        .build();
    let a = NodeId(0);
    assert_eq!(
        sim.publish(a, NAME, f64::NAN),
        Err(AggregateError::NotANumber)
    );
    assert_eq!(
        sim.publish(a, NAME, f64::INFINITY),
        Err(AggregateError::Infinite(f64::INFINITY))
    );
    assert_eq!(
        sim.publish(a, NAME, -1e16),
        Err(AggregateError::OutOfRange(-1e16))
    );
    assert_eq!(sim.publish(a, "", 1.0), Err(AggregateError::InvalidName(0)));
    let long = "x".repeat(33);
    assert_eq!(
        sim.publish(a, &long, 1.0),
        Err(AggregateError::InvalidName(33))
    );
    for i in 0..epidemic::aggregate::MAX_PUBLISHED {
        sim.publish(a, &format!("n{i}"), i as f64).unwrap();
    }
    assert!(matches!(
        sim.publish(a, "too-many", 1.0),
        Err(AggregateError::TooMany(_))
    ));
    assert!(sim.estimate(a, NAME).is_none(), "nothing was published");
    sim.fault(Fault::Crash(NodeId(1)));
    assert_eq!(
        sim.publish(NodeId(1), NAME, 1.0),
        Err(AggregateError::Stopped)
    );
}
