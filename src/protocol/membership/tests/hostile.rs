//! Well-formed but hostile claims: incarnations at every edge (0, 1, MAX − 1, MAX), from
//! gossip and from exchanges. No claim may panic, wrap, or leave a member unable to refute.

use super::*;
use crate::codec::{Dead, Left};
use crate::protocol::rules::{MAX_GOSSIP_JUMP, MAX_INCARNATION};

const EDGES: [u64; 4] = [0, 1, u64::MAX - 1, u64::MAX];

fn dead(n: &str, incarnation: u64) -> Message {
    Message::Dead(Dead {
        name: name(n),
        incarnation,
        from: name("liar"),
    })
}

fn left(n: &str, incarnation: u64) -> Message {
    Message::Left(Left {
        name: name(n),
        incarnation,
    })
}

fn suspect(n: &str, incarnation: u64) -> Message {
    Message::Suspect(Suspect {
        name: name(n),
        incarnation,
        from: name("liar"),
    })
}

/// The incarnation this node now holds for `n`.
fn held(m: &Membership, n: &str) -> Option<(MemberState, u64)> {
    m.state_of(&name(n))
}

#[test]
fn a_claim_beyond_the_ceiling_is_refused_about_anyone() {
    for i in [MAX_INCARNATION + 1, u64::MAX - 1, u64::MAX] {
        let mut m = node();
        packet(&mut m, at(0), 2, vec![alive("x", 2, 3)]);
        for claim in [
            dead("x", i),
            left("x", i),
            suspect("x", i),
            alive("x", 2, i),
        ] {
            packet(&mut m, at(1), 9, vec![claim]);
        }
        assert_eq!(held(&m, "x"), Some((MemberState::Alive, 3)), "x at {i}");
        // About this node: no refutation to i + 1.
        packet(&mut m, at(2), 9, vec![dead("me", i), suspect("me", i)]);
        assert_eq!(m.local_incarnation(), 0);
        // About a stranger: not admitted.
        packet(&mut m, at(3), 9, vec![alive("stranger", 7, i)]);
        assert_eq!(held(&m, "stranger"), None);
        assert_eq!(m.counters.snapshot().refused_incarnations, 7);
    }
}

#[test]
fn gossip_raises_an_incarnation_by_a_bounded_step_and_the_member_refutes_each() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("x", 2, 10)]);
    packet(&mut m, at(1), 9, vec![dead("x", 11 + MAX_GOSSIP_JUMP)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, 10)), "too far");
    packet(&mut m, at(2), 9, vec![dead("x", 10 + MAX_GOSSIP_JUMP)]);
    assert_eq!(
        held(&m, "x"),
        Some((MemberState::Dead, 10 + MAX_GOSSIP_JUMP))
    );
    // x refutes one above, and that is within the step again.
    packet(&mut m, at(3), 2, vec![alive("x", 2, 11 + MAX_GOSSIP_JUMP)]);
    assert_eq!(
        held(&m, "x"),
        Some((MemberState::Alive, 11 + MAX_GOSSIP_JUMP))
    );
}

#[test]
fn this_node_refutes_every_plausible_claim_about_itself_even_at_the_ceiling() {
    for i in [0, 1, MAX_GOSSIP_JUMP, MAX_INCARNATION - 1, MAX_INCARNATION] {
        let mut m = node();
        // An exchange this node opened carries the claim (a restart learns its old
        // incarnation this way), then gossip repeats it.
        let state = PushPull {
            join: false,
            members: vec![MemberRecord {
                name: name("me"),
                addr: addr(1),
                incarnation: i,
                state: MemberState::Dead,
                metadata: Arc::from(&[][..]),
            }],
        };
        m.handle(
            at(0),
            MembershipInput::Join {
                request: RequestId(1),
                seeds: vec![addr(2)],
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
            at(1),
            MembershipInput::SyncResponse {
                exchange,
                result: Ok(state),
            },
        );
        assert_eq!(m.local_incarnation(), i + 1, "refuted {i}");
        // The refutation is gossiped, and others may take it: within the ceiling + 1.
        let out = drain(&mut m);
        assert!(gossiped(&out).iter().any(
            |g| matches!(g, Message::Alive(a) if a.name == name("me") && a.incarnation == i + 1)
        ));
    }
}

#[test]
fn every_edge_value_in_every_claim_leaves_the_node_consistent() {
    for &c in &EDGES {
        for &i in &EDGES {
            let mut m = node();
            packet(
                &mut m,
                at(0),
                2,
                vec![alive("x", 2, c.min(MAX_INCARNATION))],
            );
            let claims = vec![
                alive("x", 2, i),
                suspect("x", i),
                dead("x", i),
                left("x", i),
                suspect("me", i),
                dead("me", i),
                left("me", i),
                alive("me", 1, i),
                alive("y", 3, i),
            ];
            for claim in claims {
                packet(&mut m, at(1), 9, vec![claim]);
            }
            assert!(m.local_incarnation() <= MAX_INCARNATION + 1, "{c} {i}");
            for member in m.members() {
                assert!(member.incarnation <= MAX_INCARNATION + 1, "{member:?}");
            }
            // Whatever happened, the node still answers pings and probes on schedule.
            run_until(&mut m, at(10_000));
        }
    }
}

#[test]
fn a_full_table_refuses_newcomers_and_keeps_its_members() {
    let mut config = Config::lan();
    config.max_members = 4;
    let mut m = node_with_config(config);
    // Thousands of names nobody ever heard of, from anyone.
    let flood: Vec<Message> = (0..3000)
        .map(|i| alive(&format!("fake-{i}"), 2000 + (i % 60000) as u16, 0))
        .collect();
    for chunk in flood.chunks(200) {
        packet(&mut m, at(0), 9, chunk.to_vec());
    }
    assert_eq!(m.members().len(), 4, "this node and three others");
    assert_eq!(m.counters.snapshot().refused_members, 2997);
    // Those admitted stay; once one is forgotten, a newcomer fits again.
    let admitted: Vec<_> = m.members().into_iter().map(|m| m.name).collect();
    packet(&mut m, at(1), 9, vec![alive("late", 7, 0)]);
    assert_eq!(held(&m, "late"), None);
    let victim = admitted
        .iter()
        .find(|n| n.as_str() != "me")
        .unwrap()
        .clone();
    packet(&mut m, at(2), 9, vec![dead(victim.as_str(), 0)]);
    run_until(&mut m, at(120_000)); // past reap_after
    packet(&mut m, at(121_000), 9, vec![alive("late", 7, 0)]);
    assert!(held(&m, "late").is_some());
}

#[test]
fn an_ack_carries_gossip_only_to_a_live_member_at_its_address() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    let ping = |source: &str| {
        Message::Ping(Ping {
            seq: 7,
            target: name("me"),
            source: name(source),
        })
    };
    let piggyback_of = |out: &[Output]| {
        out.iter()
            .find_map(|o| match o {
                Output::To(ComponentInput::Dissemination(DisseminationInput::Probe {
                    piggyback,
                    ..
                })) => Some(*piggyback),
                _ => None,
            })
            .unwrap()
    };
    assert!(piggyback_of(&packet(&mut m, at(1), 2, vec![ping("b")])));
    // A stranger, and a member's name from another (spoofable) address: bare acks.
    assert!(!piggyback_of(&packet(
        &mut m,
        at(2),
        9,
        vec![ping("stranger")]
    )));
    assert!(!piggyback_of(&packet(&mut m, at(3), 9, vec![ping("b")])));
}

#[test]
fn the_acks_of_one_datagram_from_a_stranger_leave_in_one_reply() {
    // Found by the `node` fuzz target: two pings in one 39-byte datagram from a stranger
    // were answered with two 23-byte datagrams, 46 bytes reflected for 39.
    let mut m = node();
    let pings = (0..3)
        .map(|seq| {
            Message::Ping(Ping {
                seq,
                target: name("me"),
                source: name("stranger"),
            })
        })
        .collect();
    let out = packet(&mut m, at(1), 9, pings);
    let replies: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Probe {
                to,
                messages,
                piggyback,
            })) => Some((*to, messages.len(), *piggyback)),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [(addr(9), 3, false)]);
}
