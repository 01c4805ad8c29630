//! Push-sum messages from the network that must not be taken in: invalid mass, epochs
//! and rounds out of bounds.

use super::*;

#[test]
fn invalid_mass_from_the_network_is_dropped() {
    let mut a = node("a");
    let bad = |value: f64, ones: f64| AggregateEntry {
        name: agg("x"),
        value,
        ones,
        weight: 0.0,
        min: 0.0,
        max: 0.0,
    };
    let message = Aggregate {
        epoch: 0,
        round: 0,
        entries: vec![bad(f64::NAN, 1.0), bad(1.0, -1.0), bad(f64::INFINITY, 1.0)],
    };
    a.handle(Instant::ZERO, AggregationInput::Message(message));
    assert!(a.mass(&agg("x")).is_none());
}

/// Epochs and rounds at every edge from the wire: nothing overflows or wedges, a far-ahead
/// epoch moves a node taking part by at most `MAX_EPOCH_JUMP`, and an inactive node that
/// took a forged epoch follows the next honest one back.
#[test]
fn hostile_epochs_and_rounds_are_refused_or_undone() {
    use super::epoch::{MAX_EPOCH, MAX_EPOCH_JUMP};
    let entry = || AggregateEntry {
        name: agg("x"),
        value: 1.0,
        ones: 0.5,
        weight: 0.0,
        min: 1.0,
        max: 1.0,
    };
    let msg = |epoch, round| {
        AggregationInput::Message(Aggregate {
            epoch,
            round,
            entries: vec![entry()],
        })
    };
    // Taking part: edges are refused, a bounded jump is taken.
    let mut a = node("a");
    up(&mut a, "b", 2);
    publish(&mut a, "x", 1.0).unwrap();
    for (epoch, round) in [
        (u64::MAX, 0),
        (u64::MAX - 1, 1),
        (MAX_EPOCH + 1, 1),
        (MAX_EPOCH_JUMP + 1, 1),
        (0, u32::MAX),
        (0, u32::MAX - 1),
    ] {
        a.handle(Instant::ZERO, msg(epoch, round));
        assert_eq!(a.epoch_round().0, 0, "{epoch}/{round}");
    }
    assert_eq!(a.counters.snapshot().refused_aggregates, 6);
    a.handle(Instant::ZERO, msg(MAX_EPOCH_JUMP, 1));
    assert_eq!(a.epoch_round(), (MAX_EPOCH_JUMP, 1));
    // Not taking part: a forged epoch (within the ceiling) is taken, then the next honest
    // message brings the node back.
    let mut b = node("b");
    up(&mut b, "a", 1);
    b.handle(Instant::ZERO, msg(MAX_EPOCH, 1));
    assert_eq!(b.epoch_round().0, MAX_EPOCH);
    // A relay (nothing published) carried into a forged epoch holds nothing once that
    // epoch ends, and then follows the next honest epoch back down.
    let mut d = node("d");
    up(&mut d, "a", 1);
    d.handle(Instant::ZERO, msg(MAX_EPOCH, 1));
    assert_eq!(d.epoch_round().0, MAX_EPOCH);
    while d.poll_timeout().is_some() {
        tick(&mut d);
    }
    d.handle(Instant::ZERO, msg(3, 1));
    assert_eq!(d.epoch_round().0, 3);
    // At the ceiling, a publishing node's epoch still advances without overflow.
    publish(&mut b, "x", 2.0).unwrap();
    for _ in 0..2 * Config::lan().aggregation_epoch_rounds {
        tick(&mut b);
    }
    assert!(b.epoch_round().0 > MAX_EPOCH);
    // Mass out of range is refused entry by entry.
    let bad = AggregationInput::Message(Aggregate {
        epoch: MAX_EPOCH_JUMP,
        round: 2,
        entries: vec![AggregateEntry {
            min: f64::NEG_INFINITY,
            ..entry()
        }],
    });
    let before = a.counters.snapshot().refused_aggregates;
    a.handle(Instant::ZERO, bad);
    assert_eq!(a.counters.snapshot().refused_aggregates, before + 1);
}
