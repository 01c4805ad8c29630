//! Probing: pings answered for our name only, the indirect stage, acks, helpers and
//! their nacks, urgent refutations.

use super::*;

#[test]
fn ping_is_acked_only_for_our_name() {
    let mut m = node();
    let ping = |target: &str| {
        Message::Ping(Ping {
            seq: 42,
            target: name(target),
            source: name("b"),
        })
    };
    let out = packet(&mut m, at(0), 2, vec![ping("me")]);
    match sends(&out).as_slice() {
        [(to, Message::Ack(ack))] => assert!(*to == addr(2) && ack.seq == 42),
        other => panic!("expected one ack, got {other:?}"),
    }
    assert!(sends(&packet(&mut m, at(0), 2, vec![ping("someone-else")])).is_empty());
}

#[test]
fn unanswered_probe_goes_indirect_then_suspects() {
    let mut m = node();
    for (n, port) in [("b", 2), ("c", 3), ("d", 4), ("e", 5)] {
        packet(&mut m, at(0), port, vec![alive(n, port, 0)]);
    }
    // The first probe falls within the first second (random phase).
    let t0 = m.poll_timeout().unwrap();
    assert!(t0 < at(1000));
    m.handle_timeout(t0);
    let out = drain(&mut m);
    let (target_addr, ping_seq) = match sends(&out).as_slice() {
        [(to, Message::Ping(p))] => (*to, p.seq),
        other => panic!("expected one ping, got {other:?}"),
    };
    // No ack within the probe timeout: ping-req through k = 3 helpers, not the target.
    let out = run_until(&mut m, t0 + Duration::from_millis(500));
    let reqs: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, msg)| matches!(msg, Message::PingReq(r) if r.seq == ping_seq))
        .collect();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|(to, _)| *to != target_addr));
    // Still nothing by the end of the period: suspect, start its timer, gossip it.
    let out = run_until(&mut m, t0 + Duration::from_millis(1000));
    assert_eq!(
        events(&out)
            .iter()
            .filter(|e| e.starts_with("suspect"))
            .count(),
        1
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::To(ComponentInput::Suspicion(SuspicionInput::Start { .. }))
    )));
    assert!(
        gossiped(&out)
            .iter()
            .any(|g| matches!(g, Message::Suspect(_)))
    );
}

#[test]
fn acked_probe_raises_no_suspicion() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    for period in 0..5u64 {
        let out = run_until(&mut m, at(1000 * (period + 1) - 1));
        for (to, msg) in sends(&out) {
            if let Message::Ping(p) = msg {
                let ack = Message::Ack(Ack {
                    seq: p.seq,
                    source: name("b"),
                });
                let back = packet(&mut m, at(1000 * period + 10), to.port(), vec![ack]);
                assert!(events(&back).is_empty());
            }
        }
        assert!(
            events(&out).is_empty(),
            "period {period}: {:?}",
            events(&out)
        );
    }
}

#[test]
fn helper_relays_ack_and_nacks_on_silence() {
    let mut m = node();
    let req = |seq| {
        Message::PingReq(PingReq {
            seq,
            target: name("t"),
            target_addr: addr(7),
            source: name("a"),
        })
    };
    // A stranger's ping-req, or one for a target not at the address named: refused.
    let out = packet(&mut m, at(0), 5, vec![req(99)]);
    assert!(sends(&out).is_empty());
    packet(&mut m, at(0), 5, vec![alive("a", 5, 0), alive("t", 8, 0)]);
    let out = packet(&mut m, at(0), 5, vec![req(98)]);
    assert!(sends(&out).is_empty(), "t is at another address");
    assert_eq!(m.counters.snapshot().refused_probes, 2);
    packet(&mut m, at(0), 5, vec![alive("t", 7, 1)]); // a conflict: t stays at 8
    let mut m = node();
    packet(&mut m, at(0), 5, vec![alive("a", 5, 0), alive("t", 7, 0)]);
    let out = packet(&mut m, at(0), 5, vec![req(100)]);
    let relay_seq = match sends(&out).as_slice() {
        [(to, Message::Ping(p))] if *to == addr(7) => p.seq,
        other => panic!("expected a ping to the target, got {other:?}"),
    };
    let ack = Message::Ack(Ack {
        seq: relay_seq,
        source: name("t"),
    });
    let out = packet(&mut m, at(10), 7, vec![ack]);
    match sends(&out).as_slice() {
        [(to, Message::Ack(a))] => assert!(*to == addr(5) && a.seq == 100),
        other => panic!("expected the relayed ack, got {other:?}"),
    }
    packet(&mut m, at(20), 5, vec![req(200)]);
    let out = run_until(&mut m, at(600));
    assert!(
        sends(&out)
            .iter()
            .any(|(to, msg)| *to == addr(5) && matches!(msg, Message::Nack(n) if n.seq == 200))
    );
}

#[test]
fn a_refutation_is_relayed_as_urgent() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    let suspect = Message::Suspect(Suspect {
        name: name("b"),
        incarnation: 0,
        from: name("c"),
    });
    packet(&mut m, at(1), 3, vec![suspect]);
    let out = packet(&mut m, at(2), 2, vec![alive("b", 2, 1)]);
    assert!(out.iter().any(|o| matches!(o,
        Output::To(ComponentInput::Dissemination(DisseminationInput::EnqueueUrgent(Message::Alive(a)))) if a.incarnation == 1)));
    // An ordinary update (new metadata, no suspicion) is not urgent.
    let out = packet(&mut m, at(3), 2, vec![alive("b", 2, 2)]);
    assert_eq!(gossiped(&out).len(), 1);
}
