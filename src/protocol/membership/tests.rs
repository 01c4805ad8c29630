//! Membership driven by hand: explicit `now`, assertions on drained outputs.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
use crate::error::ExchangeError;
#[allow(unused_imports)]
use crate::protocol::{ComponentInput, Egress, ExchangeId, RequestId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Membership;
use crate::codec::{Ack, Alive, MemberRecord, Message, Ping, PingReq, PushPull, Suspect};
use crate::config::Config;
use crate::error::JoinError;
use crate::event::Event;
use crate::member::{MemberState, NodeName};
use crate::protocol::{
    Component, Delivery, DisseminationInput, MembershipInput, NetOutput, Output, Reply,
    SuspicionInput,
};
use crate::stats::Counters;
use crate::time::Instant;

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

mod hostile;
mod lifeguard;

fn node() -> Membership {
    node_with_config(Config::lan())
}

fn node_with_config(config: Config) -> Membership {
    Membership::new(
        config,
        name("me"),
        addr(1),
        Arc::from(&b"meta"[..]),
        Instant::ZERO,
        ChaCha8Rng::seed_from_u64(1),
        Arc::new(Counters::default()),
    )
}

fn drain(m: &mut Membership) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn alive(n: &str, port: u16, incarnation: u64) -> Message {
    Message::Alive(Alive {
        name: name(n),
        incarnation,
        addr: addr(port),
        metadata: Arc::from(&[][..]),
    })
}

fn packet(m: &mut Membership, now: Instant, from: u16, messages: Vec<Message>) -> Vec<Output> {
    m.handle(
        now,
        MembershipInput::Packet {
            from: addr(from),
            messages,
        },
    );
    drain(m)
}

fn events(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Out(Egress::Deliver(Delivery::Event(e))) => Some(e.to_string()),
            _ => None,
        })
        .collect()
}

/// Primary messages handed to dissemination, with their destination.
fn sends(outputs: &[Output]) -> Vec<(SocketAddr, Message)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Probe {
                to,
                messages,
                ..
            })) => Some(
                messages
                    .iter()
                    .map(|m| (*to, m.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

fn gossiped(outputs: &[Output]) -> Vec<Message> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Enqueue(m))) => {
                Some(m.clone())
            }
            _ => None,
        })
        .collect()
}

/// Runs timeouts until `until`, collecting outputs.
fn run_until(m: &mut Membership, until: Instant) -> Vec<Output> {
    let mut out = Vec::new();
    while let Some(next) = m.poll_timeout() {
        if next > until {
            break;
        }
        m.handle_timeout(next);
        out.extend(drain(m));
    }
    out
}

#[test]
fn new_member_is_admitted_once_and_regossiped() {
    let mut m = node();
    let out = packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    assert_eq!(events(&out), ["join b"]);
    assert_eq!(gossiped(&out).len(), 1);
    let again = packet(&mut m, at(1), 2, vec![alive("b", 2, 0)]);
    assert!(events(&again).is_empty() && gossiped(&again).is_empty());
    assert_eq!(m.take_snapshot().unwrap().len(), 2);
    assert!(m.take_snapshot().is_none());
}

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
fn suspicion_expiry_declares_dead_but_a_stale_timer_does_nothing() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 3)]);
    let suspect = Message::Suspect(Suspect {
        name: name("b"),
        incarnation: 3,
        from: name("c"),
    });
    let out = packet(&mut m, at(10), 3, vec![suspect]);
    let token = out
        .iter()
        .find_map(|o| match o {
            Output::To(ComponentInput::Suspicion(SuspicionInput::Start { token, .. })) => {
                Some(*token)
            }
            _ => None,
        })
        .unwrap();
    let expire = |token| MembershipInput::SuspicionExpired {
        name: name("b"),
        incarnation: 3,
        token,
    };
    m.handle(at(20), expire(token + 1));
    assert!(events(&drain(&mut m)).is_empty());
    m.handle(at(20), expire(token));
    let out = drain(&mut m);
    assert_eq!(events(&out), ["fail b"]);
    assert!(gossiped(&out).iter().any(|g| matches!(g, Message::Dead(_))));
}

#[test]
fn refutes_suspicion_and_death_about_itself() {
    let mut m = node();
    let suspect = Message::Suspect(Suspect {
        name: name("me"),
        incarnation: 0,
        from: name("b"),
    });
    let out = packet(&mut m, at(0), 2, vec![suspect]);
    match gossiped(&out).as_slice() {
        [Message::Alive(a)] => assert!(a.name == name("me") && a.incarnation == 1),
        other => panic!("expected a refuting alive, got {other:?}"),
    }
    // A stale suspicion (older incarnation) is not refuted again.
    let stale = Message::Suspect(Suspect {
        name: name("me"),
        incarnation: 0,
        from: name("b"),
    });
    assert!(gossiped(&packet(&mut m, at(1), 2, vec![stale])).is_empty());
    assert_eq!(m.counters.snapshot().refutations, 1);
}

#[test]
fn same_name_from_another_address_is_a_conflict_not_a_flap() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    let out = packet(&mut m, at(1), 9, vec![alive("b", 9, 5)]);
    assert_eq!(events(&out), ["conflict b"]);
    assert!(gossiped(&out).is_empty());
    assert!(events(&packet(&mut m, at(2), 9, vec![alive("b", 9, 6)])).is_empty());
    let b = m.table.get(&name("b")).unwrap();
    assert_eq!((b.addr, b.incarnation), (addr(2), 0));
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
fn join_answers_at_first_seed_and_lists_every_failure() {
    let mut m = node();
    m.handle(
        at(0),
        MembershipInput::Join {
            request: RequestId(1),
            seeds: vec![addr(2), addr(3)],
        },
    );
    let requests: Vec<u64> = drain(&mut m)
        .into_iter()
        .filter_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange: ExchangeId::Membership(n),
                ..
            })) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    m.handle(
        at(5),
        MembershipInput::SyncResponse {
            exchange: requests[0],
            result: Err(ExchangeError::Connect(
                std::io::ErrorKind::ConnectionRefused,
            )),
        },
    );
    assert!(drain(&mut m).is_empty());
    let state = PushPull {
        join: false,
        members: vec![MemberRecord {
            name: name("seed"),
            addr: addr(3),
            incarnation: 0,
            state: MemberState::Alive,
            metadata: Arc::from(&[][..]),
        }],
    };
    m.handle(
        at(6),
        MembershipInput::SyncResponse {
            exchange: requests[1],
            result: Ok(state),
        },
    );
    let out = drain(&mut m);
    assert_eq!(events(&out), ["join seed"]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Out(Egress::Reply(RequestId(1), Reply::Joined(Ok(1))))
    )));

    m.handle(
        at(10),
        MembershipInput::Join {
            request: RequestId(2),
            seeds: vec![addr(8)],
        },
    );
    let exchange = drain(&mut m)
        .into_iter()
        .find_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange: ExchangeId::Membership(n),
                ..
            })) => Some(n),
            _ => None,
        })
        .unwrap();
    m.handle(
        at(11),
        MembershipInput::SyncResponse {
            exchange,
            result: Err(ExchangeError::Timeout),
        },
    );
    let out = drain(&mut m);
    assert!(out.iter().any(|o| matches!(o, Output::Out(Egress::Reply(RequestId(2), Reply::Joined(Err(JoinError::AllFailed(f))))) if f.len() == 1)));
}

#[test]
fn dead_member_rejoins_with_higher_incarnation_and_is_reaped_otherwise() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    packet(&mut m, at(0), 3, vec![alive("c", 3, 0)]);
    let dead = |n: &str| {
        Message::Dead(crate::codec::Dead {
            name: name(n),
            incarnation: 0,
            from: name("x"),
        })
    };
    let out = packet(&mut m, at(1), 2, vec![dead("b"), dead("c")]);
    assert_eq!(events(&out), ["fail b", "fail c"]);
    assert!(events(&packet(&mut m, at(2), 2, vec![alive("b", 2, 0)])).is_empty());
    assert_eq!(
        events(&packet(&mut m, at(3), 2, vec![alive("b", 2, 1)])),
        ["join b"]
    );
    // c stays dead and is forgotten after reap_after, at the next probe period; the
    // unanswered probes of b stretch periods up to (awareness_max + 1) × probe_interval.
    let config = Config::lan();
    let longest_period = config.probe_interval * (config.awareness_max + 1);
    run_until(&mut m, at(1) + config.reap_after + longest_period);
    assert!(m.table.get(&name("c")).is_none());
    assert!(m.table.get(&name("b")).is_some());
}

#[test]
fn leave_gossips_left_at_a_higher_incarnation_and_stops_probing() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    m.handle(
        at(1),
        MembershipInput::Leave {
            request: RequestId(9),
        },
    );
    let out = drain(&mut m);
    assert!(out.iter().any(|o| matches!(o,
        Output::To(ComponentInput::Dissemination(DisseminationInput::Leave { request: RequestId(9), update: Message::Left(l) }))
            if l.incarnation == 1)));
    assert_eq!(m.poll_timeout(), None);
    // Others gossiping our suspicion while we leave are not refuted.
    let suspect = Message::Suspect(Suspect {
        name: name("me"),
        incarnation: 1,
        from: name("b"),
    });
    assert!(gossiped(&packet(&mut m, at(2), 2, vec![suspect])).is_empty());
    let _ = Event::Join;
}

#[test]
fn a_stale_accusation_is_corrected_at_its_source() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    let suspect = |incarnation| {
        Message::Suspect(Suspect {
            name: name("me"),
            incarnation,
            from: name("b"),
        })
    };
    // Refuted once: we are at incarnation 1 and gossip it.
    assert_eq!(
        gossiped(&packet(&mut m, at(1), 3, vec![suspect(0)])).len(),
        1
    );
    // The old suspicion still circulates (relayed by c): b never heard the refutation, so
    // b gets our current alive directly, once per probe interval.
    let out = packet(&mut m, at(2), 3, vec![suspect(0)]);
    match sends(&out).as_slice() {
        [(to, Message::Alive(a))] => assert!(*to == addr(2) && a.incarnation == 1),
        other => panic!("expected a correction to b, got {other:?}"),
    }
    assert!(
        gossiped(&out).is_empty(),
        "a stale suspicion is not refuted again"
    );
    assert!(sends(&packet(&mut m, at(3), 3, vec![suspect(0)])).is_empty());
    assert_eq!(
        sends(&packet(&mut m, at(1500), 3, vec![suspect(0)])).len(),
        1
    );
    // An accuser we do not know cannot be corrected.
    let unknown = Message::Dead(crate::codec::Dead {
        name: name("me"),
        incarnation: 0,
        from: name("stranger"),
    });
    assert!(sends(&packet(&mut m, at(4000), 3, vec![unknown])).is_empty());
}

#[test]
fn the_peer_view_marks_a_suspect_until_it_refutes_and_drops_the_dead() {
    use crate::protocol::peers::Pick;
    let mut m = node();
    let view = m.peer_view();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (1, 1));
    let suspect = Message::Suspect(Suspect {
        name: name("b"),
        incarnation: 0,
        from: name("c"),
    });
    packet(&mut m, at(1), 3, vec![suspect]);
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (1, 0));
    packet(&mut m, at(2), 2, vec![alive("b", 2, 1)]);
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (1, 1));
    let dead = Message::Dead(crate::codec::Dead {
        name: name("b"),
        incarnation: 1,
        from: name("c"),
    });
    packet(&mut m, at(3), 3, vec![dead]);
    assert_eq!(view.count(Pick::Live), 0);
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
