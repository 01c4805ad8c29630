//! Loopback: five nodes publish a value each; every node's estimates of the count, sum,
//! average, minimum and maximum converge to the truth (bounded waits, no sleeps).

#![allow(clippy::unwrap_used)]

mod common;

use common::{Cluster, WAIT, wait_until};
use crossbeam_channel::unbounded;
use epidemic::{AggregateError, Estimate};

fn rel(x: f64, truth: f64) -> f64 {
    (x - truth).abs() / truth.abs()
}

fn exact(e: &Estimate, n: usize, sum: f64, min: f64, max: f64) -> bool {
    e.converged
        && e.nodes() == n as u64
        && rel(e.count, n as f64) <= 1e-6
        && rel(e.sum, sum) <= 1e-6
        && rel(e.avg, sum / n as f64) <= 1e-6
        && e.min == min
        && e.max == max
}

#[test]
fn five_nodes_agree_on_count_sum_and_average() {
    const N: usize = 5;
    let (settled_tx, settled) = unbounded();
    let cluster = Cluster::start_with("node-aggregation-5", "agg", N, 6000, |i, b| {
        let tx = settled_tx.clone();
        b.on_estimate(move |name, estimate| {
            let _ = tx.send((i, name.to_string(), *estimate));
        })
    });
    let value = |i: usize| 10.0 * (i + 1) as f64 + 0.25;
    for (i, node) in cluster.nodes.iter().enumerate() {
        node.publish("load", value(i)).unwrap();
    }
    let sum: f64 = (0..N).map(value).sum();
    let describe = || {
        cluster
            .nodes
            .iter()
            .map(|n| format!("{}: {:?}", n.name(), n.estimate("load")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    wait_until(
        WAIT,
        || format!("every node's estimate is exact:\n{}", describe()),
        || {
            cluster.nodes.iter().all(|n| {
                n.estimate("load")
                    .is_some_and(|e| exact(&e, N, sum, value(0), value(N - 1)))
            })
        },
    );
    for node in &cluster.nodes {
        let all = node.estimates();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.as_str(), "load");
    }
    // Every node's callback reported a settled estimate of "load".
    let mut reported = [false; N];
    for (i, name, estimate) in settled.try_iter() {
        if name == "load" && estimate.converged {
            reported[i] = true;
        }
    }
    assert!(
        reported.iter().all(|r| *r),
        "settle callbacks: {reported:?}"
    );
}

#[test]
fn bad_values_get_a_typed_error() {
    let cluster = Cluster::start("node-aggregation-bad", "aggbad", 1, 6100);
    let node = &cluster.nodes[0];
    assert_eq!(node.publish("x", f64::NAN), Err(AggregateError::NotANumber));
    assert_eq!(
        node.publish("x", f64::NEG_INFINITY),
        Err(AggregateError::Infinite(f64::NEG_INFINITY))
    );
    assert_eq!(
        node.publish("x", 1e300),
        Err(AggregateError::OutOfRange(1e300))
    );
    assert_eq!(node.publish("", 1.0), Err(AggregateError::InvalidName(0)));
    assert_eq!(
        node.publish(&"y".repeat(40), 1.0),
        Err(AggregateError::InvalidName(40))
    );
    assert!(node.estimate("x").is_none());
    // Alone, a node's estimate is its own value, exactly.
    node.publish("x", 7.5).unwrap();
    wait_until(
        WAIT,
        || format!("a lone node settles: {:?}", node.estimate("x")),
        || {
            node.estimate("x")
                .is_some_and(|e| exact(&e, 1, 7.5, 7.5, 7.5))
        },
    );
    node.unpublish("x").unwrap();
    node.stop();
    assert_eq!(node.publish("x", 1.0), Err(AggregateError::Stopped));
}
