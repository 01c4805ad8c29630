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
use crate::codec::{
    Ack, Alive, Dead, Left, MemberRecord, Message, Ping, PingReq, PushPull, Suspect,
};
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
mod lifecycle;
mod lifeguard;
mod probe;
mod strangers;

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

/// A `dead` claim, by a liar.
fn dead(n: &str, incarnation: u64) -> Message {
    Message::Dead(Dead {
        name: name(n),
        incarnation,
        from: name("liar"),
    })
}

/// A `left` claim.
fn left(n: &str, incarnation: u64) -> Message {
    Message::Left(Left {
        name: name(n),
        incarnation,
    })
}

/// A `suspect` claim, by a liar.
fn suspect(n: &str, incarnation: u64) -> Message {
    Message::Suspect(Suspect {
        name: name(n),
        incarnation,
        from: name("liar"),
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
