#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
use crate::protocol::{ComponentInput, Egress, RequestId};
use rand::SeedableRng;

use super::*;
use crate::codec::{Header, PacketWriter, decode_packet};
use crate::protocol::peers::Peer;

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

fn agg(s: &str) -> AggregateName {
    AggregateName::new(s).unwrap()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn node(me: &str) -> Aggregation {
    Aggregation::new(
        &Config::lan(),
        name(me),
        PeerView::new(),
        Instant::ZERO,
        ChaCha8Rng::seed_from_u64(3),
        Arc::new(crate::stats::Counters::default()),
    )
}

fn drain(a: &mut Aggregation) -> Vec<Output> {
    std::iter::from_fn(|| a.poll_output()).collect()
}

fn publish(a: &mut Aggregation, n: &str, v: f64) -> Result<(), AggregateError> {
    a.handle(
        Instant::ZERO,
        AggregationInput::Publish {
            request: RequestId(1),
            name: agg(n),
            value: v,
        },
    );
    match drain(a).as_slice() {
        [Output::Out(Egress::Reply(RequestId(1), Reply::Published(r)))] => r.clone(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// The aggregate messages sent, with their destination.
fn sent(outputs: &[Output]) -> Vec<(SocketAddr, Aggregate)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Send {
                to,
                messages,
            })) => match messages.as_slice() {
                [Message::Aggregate(m)] => Some((*to, m.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Fires the next round and returns what it output.
fn tick(a: &mut Aggregation) -> Vec<Output> {
    let at = a.poll_timeout().unwrap();
    a.handle_timeout(at);
    drain(a)
}

/// `peer` enters the live view, as the member table would put it there.
fn up(a: &mut Aggregation, peer: &str, port: u16) {
    a.peers.push(Peer {
        name: name(peer),
        addr: addr(port),
    });
}

#[test]
fn a_round_keeps_half_and_sends_quarters_to_two_peers() {
    let mut a = node("a");
    up(&mut a, "b", 2);
    up(&mut a, "c", 3);
    publish(&mut a, "load", 8.0).unwrap();
    let out = sent(&tick(&mut a));
    assert_eq!(out.len(), 2, "fanout 2");
    assert_ne!(out[0].0, out[1].0);
    for (_, m) in &out {
        assert_eq!((m.epoch, m.round), (0, 0));
        let e = &m.entries[0];
        assert_eq!((e.value, e.ones, e.min, e.max), (2.0, 0.25, 8.0, 8.0));
    }
    let [value, ones, weight, ..] = a.mass(&agg("load")).unwrap();
    assert_eq!((value, ones), (4.0, 0.5));
    let total_weight = weight + out.iter().map(|(_, m)| m.entries[0].weight).sum::<f64>();
    assert!(total_weight == 0.0 || total_weight == 1.0);
}

#[test]
fn received_mass_is_absorbed_and_extremes_merge() {
    let mut a = node("a");
    publish(&mut a, "load", 1.0).unwrap();
    let message = Aggregate {
        epoch: 0,
        round: 3,
        entries: vec![AggregateEntry {
            name: agg("load"),
            value: 5.0,
            ones: 1.0,
            weight: 0.0, // alone, `a` holds the unit weight itself
            min: -2.0,
            max: 5.0,
        }],
    };
    a.handle(Instant::ZERO, AggregationInput::Message(message));
    let e = a.estimate(&agg("load")).unwrap();
    assert_eq!((e.avg, e.count, e.sum), (3.0, 2.0, 6.0));
    assert_eq!((e.min, e.max, e.rounds), (-2.0, 5.0, 3));
    assert!(!e.converged);
}

#[test]
fn epochs_jump_forward_and_ignore_the_past() {
    let mut a = node("a");
    up(&mut a, "b", 2);
    publish(&mut a, "x", 1.0).unwrap();
    let entry = |v: f64| AggregateEntry {
        name: agg("x"),
        value: v,
        ones: 0.5,
        weight: 0.5,
        min: v,
        max: v,
    };
    let newer = Aggregate {
        epoch: 5,
        round: 1,
        entries: vec![entry(3.0)],
    };
    a.handle(Instant::ZERO, AggregationInput::Message(newer));
    assert_eq!(a.epoch_round(), (5, 1));
    // Early in the epoch: restarts from its own value, plus what arrived.
    let [value, ones, ..] = a.mass(&agg("x")).unwrap();
    assert_eq!((value, ones), (4.0, 1.5));
    let older = Aggregate {
        epoch: 4,
        round: 60,
        entries: vec![entry(100.0)],
    };
    a.handle(Instant::ZERO, AggregationInput::Message(older));
    assert_eq!(a.mass(&agg("x")).unwrap()[0], 4.0);
    assert_eq!(a.epoch_round(), (5, 1));
}

#[test]
fn a_node_joining_mid_epoch_relays_and_takes_part_from_the_next() {
    let mut a = node("a");
    up(&mut a, "b", 2);
    publish(&mut a, "x", 10.0).unwrap();
    let mid = Aggregate {
        epoch: 7,
        round: 30,
        entries: vec![AggregateEntry {
            name: agg("x"),
            value: 1.0,
            ones: 1.0,
            weight: 1.0,
            min: 1.0,
            max: 1.0,
        }],
    };
    a.handle(Instant::ZERO, AggregationInput::Message(mid));
    let [value, ones, weight, min, max] = a.mass(&agg("x")).unwrap();
    assert_eq!([value, ones, weight, min, max], [1.0, 1.0, 1.0, 1.0, 1.0]);
    // Relays: half goes on.
    let out = sent(&tick(&mut a));
    assert_eq!(out[0].1.entries[0].value, 0.5);
    while a.epoch_round().1 < Config::lan().aggregation_epoch_rounds {
        tick(&mut a);
    }
    tick(&mut a);
    assert_eq!(a.epoch_round(), (8, 1));
    let [value, ones, ..] = a.mass(&agg("x")).unwrap();
    assert_eq!((value, ones), (5.0, 0.5), "its own value, halved once");
}

#[test]
fn alone_the_estimate_is_exact_and_settles() {
    let mut a = node("a");
    publish(&mut a, "x", 4.0).unwrap();
    let mut settled = Vec::new();
    for _ in 0..8 {
        for o in tick(&mut a) {
            if let Output::Out(Egress::Deliver(Delivery::Estimate { name, estimate })) = o {
                settled.push((name, estimate));
            }
        }
    }
    let e = a.estimate(&agg("x")).unwrap();
    assert!(e.converged);
    assert_eq!(
        (e.count, e.sum, e.avg, e.min, e.max),
        (1.0, 4.0, 4.0, 4.0, 4.0)
    );
    assert_eq!(settled.len(), 1, "the callback runs once per epoch");
    assert_eq!(a.estimates().len(), 1);
}

#[test]
fn bad_values_and_too_many_names_are_refused() {
    let mut a = node("a");
    assert_eq!(
        publish(&mut a, "x", f64::NAN),
        Err(AggregateError::NotANumber)
    );
    assert_eq!(
        publish(&mut a, "x", f64::NEG_INFINITY),
        Err(AggregateError::Infinite(f64::NEG_INFINITY))
    );
    assert_eq!(
        publish(&mut a, "x", 2e15),
        Err(AggregateError::OutOfRange(2e15))
    );
    assert!(a.poll_timeout().is_none(), "nothing published: idle");
    for i in 0..MAX_PUBLISHED {
        publish(&mut a, &format!("n{i}"), 1.0).unwrap();
    }
    assert_eq!(
        publish(&mut a, "one-more", 1.0),
        Err(AggregateError::TooMany(MAX_PUBLISHED))
    );
    publish(&mut a, "n0", 2.0).unwrap();
    assert!(a.poll_timeout().is_some());
}

#[test]
fn many_aggregates_are_split_into_datagrams_within_the_mtu() {
    let mut config = Config::lan();
    config.mtu = crate::config::MIN_MTU;
    let mut a = Aggregation::new(
        &config,
        name("a"),
        PeerView::new(),
        Instant::ZERO,
        ChaCha8Rng::seed_from_u64(1),
        Arc::new(crate::stats::Counters::default()),
    );
    up(&mut a, "b", 2);
    for i in 0..MAX_PUBLISHED {
        let long = format!("{i:0>32}");
        a.handle(
            Instant::ZERO,
            AggregationInput::Publish {
                request: RequestId(1),
                name: agg(&long),
                value: i as f64,
            },
        );
    }
    drain(&mut a);
    let out = sent(&tick(&mut a));
    assert!(out.len() > 1);
    assert_eq!(
        out.iter().map(|(_, m)| m.entries.len()).sum::<usize>(),
        MAX_PUBLISHED
    );
    let header = Header {
        cluster: 1,
        flags: 0,
    };
    for (_, m) in out {
        let mut w = PacketWriter::new(&header, config.mtu);
        assert!(w.push(&Message::Aggregate(m.clone())));
        assert_eq!(
            decode_packet(&w.finish()).unwrap().messages,
            vec![Message::Aggregate(m)]
        );
    }
}

#[test]
fn exactly_one_node_of_a_shared_view_holds_the_weight() {
    let names: Vec<String> = (0..20).map(|i| format!("node-{i}")).collect();
    for epoch in 0..50 {
        let holders = names
            .iter()
            .filter(|me| {
                let mut a = node(me);
                for (port, peer) in names.iter().enumerate() {
                    if peer != *me {
                        up(&mut a, peer, port as u16);
                    }
                }
                a.holds_weight(epoch)
            })
            .count();
        assert_eq!(holders, 1, "epoch {epoch}");
    }
}

mod hostile;
