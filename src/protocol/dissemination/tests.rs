//! Unit tests of the dissemination core: packing, gossip rounds, leave, and the default
//! broadcast mode (push rumor mongering).

#![allow(clippy::unwrap_used)]
use super::*;
use crate::codec::{Left, UserMessage, decode_packet};
use crate::error::BroadcastError;
use crate::protocol::Delivery;
#[allow(unused_imports)]
use crate::protocol::{Egress, RequestId};
use rand::SeedableRng;

pub(super) fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

pub(super) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn diss() -> Dissemination {
    with_config(Config::lan(), 5)
}

/// A component named "me" with no peers yet, its rng seeded with `seed`.
pub(super) fn with_config(config: Config, seed: u64) -> Dissemination {
    Dissemination::new(
        config,
        name("me"),
        PeerView::new(),
        Instant::ZERO,
        ChaCha8Rng::seed_from_u64(seed),
        Arc::new(Counters::default()),
    )
}

/// `peer` enters the live view, as the member table would put it there.
pub(super) fn up(d: &Dissemination, peer: &str, port: u16) {
    d.peers.push(crate::protocol::peers::Peer {
        name: name(peer),
        addr: addr(port),
    });
}

pub(super) fn drain(d: &mut Dissemination) -> Vec<Output> {
    std::iter::from_fn(|| d.poll_output()).collect()
}

/// Decoded datagrams sent, with their destination.
pub(super) fn datagrams(outputs: &[Output]) -> Vec<(SocketAddr, Vec<Message>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::SendTo { to, bytes, .. })) => {
                Some((*to, decode_packet(bytes).unwrap().messages))
            }
            _ => None,
        })
        .collect()
}

pub(super) fn user(origin: &str, seq: u64) -> Message {
    Message::User(UserMessage {
        origin: name(origin),
        seq,
        payload: Arc::from(&b"hi"[..]),
    })
}

/// The user broadcasts and feedback of one datagram from `from`.
pub(super) fn packet(from: u16, messages: Vec<Message>) -> DisseminationInput {
    DisseminationInput::Packet {
        from: addr(from),
        messages,
    }
}

/// Payloads delivered to the application, with their origin.
pub(super) fn delivered(outputs: &[Output]) -> Vec<(String, Vec<u8>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Out(Egress::Deliver(Delivery::Message { origin, payload })) => {
                Some((origin.to_string(), payload.to_vec()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn updates_ride_on_probes_up_to_the_mtu() {
    let mut d = diss();
    for i in 0..200 {
        let left = Message::Left(Left {
            name: name(&format!("member-number-{i}")),
            incarnation: 1,
        });
        d.handle(Instant::ZERO, DisseminationInput::Enqueue(left));
    }
    let ping = Message::Nack(crate::codec::Nack {
        seq: 1,
        source: name("me"),
    });
    d.handle(
        Instant::ZERO,
        DisseminationInput::Send {
            to: addr(2),
            messages: vec![ping],
        },
    );
    let out = drain(&mut d);
    let bytes = match out.as_slice() {
        [Output::Out(Egress::Net(NetOutput::SendTo { bytes, .. }))] => bytes.len(),
        other => panic!("expected one datagram, got {other:?}"),
    };
    assert!(bytes <= 1400 && bytes > 1300, "packed {bytes} bytes");
    let sent = &datagrams(&out)[0].1;
    assert!(matches!(sent[0], Message::Nack(_)));
    assert!(sent.len() > 30);
}

#[test]
fn user_messages_are_delivered_once_and_spread_on() {
    let mut d = diss();
    up(&d, "b", 2);
    for _ in 0..3 {
        d.handle(Instant::ZERO, packet(2, vec![user("b", 1)]));
    }
    d.handle(Instant::ZERO, packet(2, vec![user("me", 1)]));
    let out = drain(&mut d);
    assert_eq!(delivered(&out), [("b".to_string(), b"hi".to_vec())]);
    // Plain gossip sends no feedback for the duplicates.
    assert!(datagrams(&out).is_empty());
    d.handle_timeout(Instant::ZERO + Config::lan().gossip_interval);
    let out = datagrams(&drain(&mut d));
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0].1[..], [Message::User(u)] if u.seq == 1));
}

#[test]
fn broadcast_is_bounded_and_returns_the_payload() {
    let mut config = Config::lan();
    config.broadcast_queue = 2;
    let mut d = with_config(config, 1);
    let results: Vec<_> = (0..3u8)
        .map(|i| {
            d.handle(
                Instant::ZERO,
                DisseminationInput::Broadcast {
                    request: RequestId(u64::from(i)),
                    payload: vec![i],
                },
            );
            drain(&mut d)
        })
        .collect();
    assert!(matches!(
        results[0].as_slice(),
        [Output::Out(Egress::Reply(
            RequestId(0),
            Reply::Broadcast(Ok(()))
        ))]
    ));
    assert!(matches!(results[2].as_slice(),
        [Output::Out(Egress::Reply(RequestId(2), Reply::Broadcast(Err(BroadcastError::QueueFull(p)))))] if p == &vec![2u8]));
    d.handle(
        Instant::ZERO,
        DisseminationInput::Broadcast {
            request: RequestId(4),
            payload: vec![0; 5000],
        },
    );
    assert!(matches!(
        drain(&mut d).as_slice(),
        [Output::Out(Egress::Reply(
            RequestId(4),
            Reply::Broadcast(Err(BroadcastError::TooLarge { .. }))
        ))]
    ));
}

#[test]
fn gossip_tick_reaches_recently_dead_and_leave_is_confirmed() {
    let mut d = diss();
    up(&d, "b", 2);
    // "c" went down (membership took it out of the live view).
    let until = Instant::ZERO + Duration::from_secs(30);
    d.peers.went_down(name("c"), addr(3), until);
    // An ordinary update reaches the live member and the recently dead one.
    let update = Message::Left(Left {
        name: name("x"),
        incarnation: 1,
    });
    d.handle(Instant::ZERO, DisseminationInput::Enqueue(update));
    d.handle_timeout(d.poll_timeout().unwrap());
    let targets: Vec<SocketAddr> = datagrams(&drain(&mut d))
        .into_iter()
        .map(|(to, _)| to)
        .collect();
    assert_eq!(targets.len(), 2);
    assert!(targets.contains(&addr(2)) && targets.contains(&addr(3)));
    // Our own leave goes to live members only, so only they can confirm it: to each
    // directly, and in the gossip round that follows.
    let left = Message::Left(Left {
        name: name("me"),
        incarnation: 1,
    });
    d.handle(
        Instant::ZERO,
        DisseminationInput::Leave {
            request: RequestId(7),
            update: left,
        },
    );
    let out = drain(&mut d);
    let targets: Vec<SocketAddr> = datagrams(&out).into_iter().map(|(to, _)| to).collect();
    assert_eq!(targets, [addr(2), addr(2)]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Out(Egress::Reply(RequestId(7), Reply::LeaveSent))
    )));
    // Nothing pending once the retransmit limit is spent: no more datagrams.
    let mut now = Instant::ZERO;
    while let Some(at) = d.poll_timeout() {
        assert!(at < Instant::ZERO + Duration::from_secs(60), "never drains");
        now = at;
        d.handle_timeout(now);
        drain(&mut d);
    }
    // Drained: no deadline (an idle node sleeps) and no more datagrams.
    d.handle_timeout(now + Duration::from_secs(1));
    assert!(datagrams(&drain(&mut d)).is_empty());
}

/// With membership churn and a backlog of broadcasts, every gossip packet carries both:
/// broadcasts about half of it, membership updates the rest (memberlist issue 299).
#[test]
fn broadcasts_and_membership_updates_share_each_packet() {
    let mut d = diss();
    for port in 2..5 {
        up(&d, &format!("p{port}"), port);
    }
    for i in 0..300 {
        let left = Message::Left(Left {
            name: name(&format!("member-number-{i}")),
            incarnation: 1,
        });
        d.handle(Instant::ZERO, DisseminationInput::Enqueue(left));
        let payload = vec![i as u8; 40];
        d.handle(
            Instant::ZERO,
            DisseminationInput::Broadcast {
                request: RequestId(i),
                payload,
            },
        );
    }
    drain(&mut d);
    d.handle_timeout(d.poll_timeout().unwrap());
    let sent = datagrams(&drain(&mut d));
    assert_eq!(sent.len(), Config::lan().gossip_nodes);
    for (_, messages) in sent {
        let user: usize = messages
            .iter()
            .filter(|m| matches!(m, Message::User(_)))
            .map(Message::encoded_len)
            .sum();
        let total: usize = messages.iter().map(Message::encoded_len).sum();
        let share = user as f64 / total as f64;
        assert!((0.4..=0.6).contains(&share), "user share {share}");
    }
}

/// A packet is filled in passes (rumors, membership updates, rumors again); a rumor the
/// first pass packed must not ride again in the second, which would spend two of its
/// transmissions on one peer.
#[test]
fn a_rumor_rides_once_in_a_packet_that_also_carries_membership_updates() {
    let mut d = diss();
    for port in 2..5 {
        up(&d, &format!("p{port}"), port);
    }
    let left = Message::Left(Left {
        name: name("gone"),
        incarnation: 1,
    });
    d.handle(Instant::ZERO, DisseminationInput::Enqueue(left));
    let broadcast = DisseminationInput::Broadcast {
        request: RequestId(1),
        payload: b"once".to_vec(),
    };
    d.handle(Instant::ZERO, broadcast);
    drain(&mut d);
    d.handle_timeout(d.poll_timeout().unwrap());
    let sent = datagrams(&drain(&mut d));
    assert!(!sent.is_empty());
    for (to, messages) in sent {
        let copies = messages
            .iter()
            .filter(|m| matches!(m, Message::User(_)))
            .count();
        assert_eq!(copies, 1, "datagram to {to}: {messages:?}");
    }
}
