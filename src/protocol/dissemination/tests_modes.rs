//! Unit tests of the broadcast modes other than the default: feedback, point-to-point,
//! eager flood; and the bound on remembered ids.

#![allow(clippy::unwrap_used)]
use super::tests::{addr, datagrams, delivered, drain, name, packet, up, user, with_config};
use super::user::SEEN_CAPACITY;
use super::*;
use crate::codec::{Known, Left, UserMessage};
use crate::config::BroadcastMode;
#[allow(unused_imports)]
use crate::protocol::RequestId;

fn mode(mode: BroadcastMode) -> Dissemination {
    let mut config = Config::lan();
    config.broadcast_mode = mode;
    let d = with_config(config, 7);
    for port in 2..5 {
        up(&d, &format!("p{port}"), port);
    }
    d
}

fn feedback(known_limit: u32) -> Dissemination {
    mode(BroadcastMode::Feedback {
        fanout: 1,
        retransmit_mult: 8,
        known_limit,
    })
}

fn known(ids: &[(&str, u64)]) -> Message {
    Message::Known(Known {
        ids: ids.iter().map(|&(o, s)| (name(o), s)).collect(),
    })
}

fn broadcast(d: &mut Dissemination, payload: &[u8]) -> Vec<Output> {
    d.handle(
        Instant::ZERO,
        DisseminationInput::Broadcast {
            request: RequestId(1),
            payload: payload.to_vec(),
        },
    );
    drain(d)
}

fn left(member: &str) -> Message {
    Message::Left(Left {
        name: name(member),
        incarnation: 1,
    })
}

/// Datagram counts per destination port, sorted.
fn per_port(sent: &[(SocketAddr, Vec<Message>)]) -> Vec<u16> {
    let mut ports: Vec<u16> = sent.iter().map(|(to, _)| to.port()).collect();
    ports.sort();
    ports
}

fn users_in(messages: &[Message]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::User(u) => Some(u.seq),
            _ => None,
        })
        .collect()
}

/// Demers's counter: a node keeps pushing a rumor until `k` distinct members said they
/// already knew it; a member saying it twice counts once; feedback about anything else
/// is ignored.
#[test]
fn feedback_stops_pushing_after_k_distinct_known_replies() {
    let mut d = feedback(2);
    broadcast(&mut d, b"news");
    let mut now = d.poll_timeout().unwrap();
    d.handle_timeout(now);
    let sent = datagrams(&drain(&mut d));
    assert_eq!(sent.len(), 1, "fanout 1");
    assert_eq!(users_in(&sent[0].1), [1]);

    d.handle(now, packet(2, vec![known(&[("me", 1), ("other", 1)])]));
    d.handle(now, packet(2, vec![known(&[("me", 1)])]));
    d.handle(now, packet(3, vec![known(&[("me", 2)])]));
    assert_eq!(
        d.queue_lens().1,
        1,
        "one distinct member said so: still pushed"
    );
    now = now + Config::lan().gossip_interval;
    d.handle_timeout(now);
    assert_eq!(users_in(&datagrams(&drain(&mut d))[0].1), [1]);

    d.handle(now, packet(3, vec![known(&[("me", 1)])]));
    assert_eq!(
        d.queue_lens().1,
        0,
        "two distinct members: no longer pushed"
    );
    assert!(d.user.known_by.is_empty());
    assert_eq!(d.poll_timeout(), None, "nothing left to gossip");
    d.handle_timeout(now + Config::lan().gossip_interval);
    assert!(datagrams(&drain(&mut d)).is_empty());
    assert_eq!(d.counters.snapshot().known_ids_in, 5);
}

/// Counts of rumors that reached their retransmit limit first are forgotten.
#[test]
fn feedback_counts_leave_with_their_rumor() {
    let mut d = feedback(3);
    broadcast(&mut d, b"news");
    d.handle(Instant::ZERO, packet(2, vec![known(&[("me", 1)])]));
    assert_eq!(d.user.known_by.len(), 1);
    while let Some(at) = d.poll_timeout() {
        d.handle_timeout(at);
        drain(&mut d);
    }
    d.handle(Instant::ZERO, DisseminationInput::Enqueue(left("x")));
    d.handle_timeout(d.poll_timeout().unwrap());
    assert!(d.user.known_by.is_empty());
}

/// A node that receives broadcasts it already had tells the sender, in one datagram of
/// feedback with membership updates riding along but no rumors.
#[test]
fn duplicates_are_answered_with_known_to_their_sender() {
    let mut d = feedback(2);
    d.handle(Instant::ZERO, packet(2, vec![user("x", 1)]));
    d.handle(Instant::ZERO, DisseminationInput::Enqueue(left("gone")));
    assert_eq!(delivered(&drain(&mut d)).len(), 1);

    let from_c = vec![user("x", 1), user("x", 2), user("me", 5)];
    d.handle(Instant::ZERO, packet(3, from_c));
    let out = drain(&mut d);
    assert_eq!(delivered(&out), [("x".to_string(), b"hi".to_vec())]);
    let sent = datagrams(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, addr(3));
    assert!(matches!(
        &sent[0].1[..],
        [Message::Known(k), Message::Left(_)]
            if k.ids == [(name("x"), 1), (name("me"), 5)]
    ));
    let stats = d.counters.snapshot();
    assert_eq!((stats.broadcast_duplicates, stats.known_ids_out), (2, 2));
    assert_eq!(
        (stats.broadcast_datagrams_out, stats.broadcast_copies_out),
        (1, 0)
    );
}

/// A stranger (no live member at its address) pushing duplicates gets no feedback: found
/// by the `node` fuzz target, where a ping and a duplicate in one 46-byte datagram drew an
/// ack and a `known`, 51 bytes in two datagrams.
#[test]
fn duplicates_from_a_stranger_draw_no_feedback() {
    let mut d = feedback(2);
    d.handle(Instant::ZERO, packet(9, vec![user("x", 1), user("me", 5)]));
    let out = drain(&mut d);
    assert_eq!(delivered(&out).len(), 1);
    assert!(datagrams(&out).is_empty());
    let stats = d.counters.snapshot();
    assert_eq!((stats.broadcast_duplicates, stats.known_ids_out), (1, 0));
}

/// Point-to-point: the origin sends one datagram to each live member at once, with
/// membership updates riding along; nothing is queued, so no gossip round repeats it.
/// Receivers deliver and stay silent.
#[test]
fn point_to_point_sends_once_to_each_live_member_and_receivers_never_forward() {
    let mut d = mode(BroadcastMode::PointToPoint);
    d.handle(Instant::ZERO, DisseminationInput::Enqueue(left("gone")));
    let sent = datagrams(&broadcast(&mut d, b"direct"));
    assert_eq!(per_port(&sent), [2, 3, 4]);
    for (_, messages) in &sent {
        assert!(matches!(&messages[..], [Message::User(u), Message::Left(_)] if u.seq == 1));
    }
    assert_eq!(d.queue_lens().1, 0);
    d.handle_timeout(d.poll_timeout().unwrap());
    assert!(
        datagrams(&drain(&mut d))
            .iter()
            .all(|(_, m)| users_in(m).is_empty())
    );

    d.handle(Instant::ZERO, packet(2, vec![user("p2", 1)]));
    let out = drain(&mut d);
    assert_eq!(delivered(&out).len(), 1);
    assert!(datagrams(&out).is_empty());
    assert_eq!(d.queue_lens(), (0, 0));
    let stats = d.counters.snapshot();
    assert_eq!(
        (stats.broadcast_datagrams_out, stats.broadcast_copies_out),
        (3, 3)
    );
}

/// Eager flood: on first receipt a node forwards what was new, once, to every live
/// member (the sender included), all of one datagram's news together; never again.
#[test]
fn eager_flood_forwards_once_on_first_receipt() {
    let mut d = mode(BroadcastMode::EagerFlood);
    d.handle(Instant::ZERO, packet(2, vec![user("x", 1), user("x", 2)]));
    let out = drain(&mut d);
    assert_eq!(delivered(&out).len(), 2);
    let sent = datagrams(&out);
    assert_eq!(per_port(&sent), [2, 3, 4]);
    assert!(sent.iter().all(|(_, m)| users_in(m) == [1, 2]));

    d.handle(Instant::ZERO, packet(3, vec![user("x", 2), user("x", 3)]));
    let sent = datagrams(&drain(&mut d));
    assert!(sent.iter().all(|(_, m)| users_in(m) == [3]), "{sent:?}");
    d.handle(Instant::ZERO, packet(4, vec![user("x", 1), user("x", 3)]));
    assert!(drain(&mut d).is_empty());

    let sent = datagrams(&broadcast(&mut d, b"mine"));
    assert_eq!(per_port(&sent), [2, 3, 4]);
    assert_eq!(d.queue_lens().1, 0);
    assert_eq!(d.poll_timeout(), None, "nothing queued, no rounds");
}

/// Direct sends batch one input's broadcasts per member up to the MTU, and no further.
#[test]
fn direct_sends_split_at_the_mtu() {
    let mut d = mode(BroadcastMode::EagerFlood);
    let big = |seq| {
        Message::User(UserMessage {
            origin: name("x"),
            seq,
            payload: Arc::from(vec![7u8; 600]),
        })
    };
    d.handle(Instant::ZERO, packet(2, vec![big(1), big(2), big(3)]));
    let sent = datagrams(&drain(&mut d));
    assert_eq!(per_port(&sent), [2, 2, 3, 3, 4, 4]);
    let batches: Vec<Vec<u64>> = sent.iter().map(|(_, m)| users_in(m)).collect();
    assert_eq!(batches.iter().filter(|b| **b == [1, 2]).count(), 3);
    assert_eq!(batches.iter().filter(|b| **b == [3]).count(), 3);
    let stats = d.counters.snapshot();
    assert_eq!(
        (stats.broadcast_datagrams_out, stats.broadcast_copies_out),
        (6, 9)
    );
    assert_eq!(stats.broadcasts_delivered, 3);
}

/// The ids remembered for exactly-once delivery stay bounded however many arrive; a
/// recent duplicate is still refused. (An id pushed out by 65,536 newer ones within two
/// minutes could be delivered again: the documented price of the bound.)
#[test]
fn remembered_ids_stay_bounded_and_recent_duplicates_are_refused() {
    let mut d = mode(BroadcastMode::PointToPoint);
    let total = SEEN_CAPACITY as u64 + 5_000;
    for first in (0..total).step_by(200) {
        let batch = (first..(first + 200).min(total))
            .map(|seq| user("x", seq))
            .collect();
        d.handle(Instant::ZERO, packet(2, batch));
        drain(&mut d);
    }
    assert_eq!(d.user.seen.len(), SEEN_CAPACITY);
    assert_eq!(d.counters.snapshot().broadcasts_delivered, total);
    d.handle(Instant::ZERO, packet(2, vec![user("x", total - 1)]));
    assert!(delivered(&drain(&mut d)).is_empty());
    assert_eq!(d.user.seen.len(), SEEN_CAPACITY);
}

/// Well-formed but hostile broadcasts and feedback: sequence numbers at every edge from a
/// thousand unknown origins, and ids of broadcasts never sent, from strangers. Nothing
/// panics or grows past its bound, and an honest broadcast after them is still delivered
/// exactly once.
#[test]
fn edge_sequence_numbers_and_unknown_ids_stay_bounded() {
    const EDGES: [u64; 4] = [0, 1, u64::MAX - 1, u64::MAX];
    let mut d = feedback(3);
    let capacity = Config::lan().broadcast_queue;
    for origin in 0..1_000 {
        let batch = EDGES
            .iter()
            .map(|&seq| user(&format!("o{origin}"), seq))
            .collect();
        d.handle(Instant::ZERO, packet(9, batch));
        let ids = EDGES
            .iter()
            .map(|&seq| (name(&format!("ghost{origin}")), seq))
            .collect();
        let known = Message::Known(crate::codec::Known { ids });
        d.handle(
            Instant::ZERO,
            packet(10 + (origin % 50) as u16, vec![known]),
        );
        drain(&mut d);
    }
    assert!(d.user.known_by.len() <= capacity);
    assert!(d.user.seen.len() <= SEEN_CAPACITY);
    d.handle(
        Instant::ZERO,
        packet(2, vec![user("honest", 7), user("honest", 7)]),
    );
    assert_eq!(
        delivered(&drain(&mut d)),
        [("honest".to_string(), b"hi".to_vec())]
    );
}
