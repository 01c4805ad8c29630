//! Unit tests of `failure_detector`.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::member::MemberState;
use crate::protocol::table::Record;
use rand::SeedableRng;
use std::sync::Arc;

fn table(n: usize) -> MemberTable {
    let rec = |state| Record {
        addr: "127.0.0.1:1".parse().unwrap(),
        incarnation: 0,
        state,
        metadata: Arc::from(&[][..]),
        changed_at: Instant::ZERO,
        suspicion_token: 0,
    };
    let mut t = MemberTable::new(NodeName::new("me").unwrap(), rec(MemberState::Alive));
    for i in 0..n {
        t.upsert(
            NodeName::new(&format!("m{i}")).unwrap(),
            rec(MemberState::Alive),
        );
    }
    t
}

fn probe(seq: u32, incarnation: Incarnation) -> Probe {
    Probe::new(
        seq,
        NodeName::new("b").unwrap(),
        incarnation,
        "127.0.0.1:2".parse().unwrap(),
        (Instant::ZERO, Instant::from_micros(10)),
    )
}

#[test]
fn each_cycle_probes_every_member_once() {
    let t = table(10);
    let mut fd = FailureDetector::new(Instant::ZERO, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _cycle in 0..3 {
        let mut seen: Vec<NodeName> = (0..10)
            .map(|_| fd.next_target(&t, &mut rng).unwrap())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 10);
    }
}

#[test]
fn no_target_when_alone() {
    let t = table(0);
    let mut fd = FailureDetector::new(Instant::ZERO, 0);
    assert!(
        fd.next_target(&t, &mut ChaCha8Rng::seed_from_u64(1))
            .is_none()
    );
}

#[test]
fn acks_match_probe_then_relay_then_nothing() {
    let mut fd = FailureDetector::new(Instant::ZERO, 0);
    fd.start_probe(probe(5, 0));
    let relay = Relay {
        requester: "127.0.0.1:3".parse().unwrap(),
        seq: 77,
        expires_at: Instant::from_micros(50),
    };
    assert!(fd.add_relay(6, relay));
    assert!(matches!(
        fd.on_ack(Instant::ZERO, 5),
        AckMatch::Probe(Some(_))
    ));
    assert!(matches!(fd.on_ack(Instant::ZERO, 5), AckMatch::Probe(None)));
    assert!(fd.take_indirect_due(Instant::from_micros(20)).is_none());
    assert!(matches!(fd.on_ack(Instant::ZERO, 6), AckMatch::Relay(r) if r.seq == 77));
    assert!(matches!(fd.on_ack(Instant::ZERO, 6), AckMatch::Unknown));
    assert!(fd.end_period().unwrap().acked);
    assert!(fd.end_period().is_none());
}

#[test]
fn unacked_probe_is_returned_and_relays_expire() {
    let mut fd = FailureDetector::new(Instant::ZERO, 0);
    fd.start_probe(probe(1, 3));
    assert!(fd.take_indirect_due(Instant::from_micros(5)).is_none());
    assert!(fd.take_indirect_due(Instant::from_micros(10)).is_some());
    assert!(fd.take_indirect_due(Instant::from_micros(11)).is_none());
    let relay = Relay {
        requester: "127.0.0.1:3".parse().unwrap(),
        seq: 9,
        expires_at: Instant::from_micros(50),
    };
    fd.add_relay(2, relay);
    assert_eq!(fd.poll_timeout(), Instant::ZERO);
    assert!(fd.expired_relays(Instant::from_micros(49)).is_empty());
    assert_eq!(fd.expired_relays(Instant::from_micros(50)).len(), 1);
    let failed = fd.end_period().unwrap();
    assert!(!failed.acked);
    assert_eq!(failed.incarnation, 3);
}

#[test]
fn nacks_count_once_per_asked_helper_of_the_current_probe() {
    let name = |s: &str| NodeName::new(s).unwrap();
    let mut fd = FailureDetector::new(Instant::ZERO, 0);
    fd.start_probe(probe(8, 0));
    assert!(fd.take_indirect_due(Instant::from_micros(10)).is_some());
    fd.set_helpers(8, vec![name("c1"), name("c2"), name("c3")]);
    assert!(fd.on_nack(8, &name("c1")));
    assert!(!fd.on_nack(8, &name("c1")), "a duplicate is not counted");
    assert!(!fd.on_nack(8, &name("x")), "not a helper we asked");
    assert!(!fd.on_nack(7, &name("c2")), "another probe's nack");
    assert!(fd.on_nack(8, &name("c2")));
    let done = fd.end_period().unwrap();
    assert_eq!((done.nacked.len(), done.missed_nacks()), (2, 1));
    // Once acked, silent helpers are not held against us.
    fd.start_probe(probe(9, 0));
    fd.set_helpers(9, vec![name("c1")]);
    assert!(matches!(fd.on_ack(Instant::ZERO, 9), AckMatch::Probe(_)));
    assert_eq!(fd.end_period().unwrap().missed_nacks(), 0);
}

#[test]
fn the_next_period_is_set_separately() {
    let mut fd = FailureDetector::new(Instant::from_micros(5), 0);
    assert!(!fd.period_due(Instant::from_micros(4)));
    assert!(fd.period_due(Instant::from_micros(5)));
    fd.schedule_period(Instant::from_micros(500));
    assert!(!fd.period_due(Instant::from_micros(499)));
    assert_eq!(fd.poll_timeout(), Instant::from_micros(500));
}
