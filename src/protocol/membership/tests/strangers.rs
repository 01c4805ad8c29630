//! What an address that is no member can draw from this node: bare acks (one reply per
//! datagram, at a bounded rate), relays at a bounded rate, no introductions.

use super::*;

/// The incarnation this node now holds for `n`.
fn held(m: &Membership, n: &str) -> Option<(MemberState, u64)> {
    m.state_of(&name(n))
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

/// Acks drawn (one output to dissemination each) by `pings` pings from port `from`.
fn acks_for(m: &mut Membership, now: Instant, from: u16, source: &str, pings: usize) -> usize {
    let ping = Message::Ping(Ping {
        seq: 1,
        target: name("me"),
        source: name(source),
    });
    (0..pings)
        .map(|_| packet(m, now, from, vec![ping.clone()]))
        .filter(|out| {
            out.iter().any(|o| {
                matches!(
                    o,
                    Output::To(ComponentInput::Dissemination(
                        DisseminationInput::Probe { .. }
                    ))
                )
            })
        })
        .count()
}

#[test]
fn a_flood_of_spoofed_pings_draws_acks_at_a_bounded_rate_and_members_are_always_answered() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    let burst = acks_for(&mut m, at(10), 9, "spoofed", 1_000);
    assert_eq!(burst, 256, "a burst of twice the rate");
    assert_eq!(
        acks_for(&mut m, at(1_010), 9, "spoofed", 1_000),
        128,
        "then the rate"
    );
    assert_eq!(
        acks_for(&mut m, at(1_010), 2, "b", 500),
        500,
        "a member, always"
    );
    assert!(
        m.counters
            .refused_probes
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1_616
    );
}

#[test]
fn ping_reqs_are_relayed_at_a_bounded_rate() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0), alive("c", 3, 0)]);
    let req = |seq| {
        Message::PingReq(PingReq {
            seq,
            target: name("c"),
            target_addr: addr(3),
            source: name("b"),
        })
    };
    let relayed = (0..1_000)
        .filter(|&seq| {
            let out = packet(&mut m, at(5), 2, vec![req(seq)]);
            sends(&out).iter().any(|(to, _)| *to == addr(3))
        })
        .count();
    assert_eq!(relayed, 128, "a burst of twice the rate");
}

/// Only members introduce members: a stranger's `alive`s about names nobody holds are
/// refused and counted (they would fill the table with ghosts and dilute every random
/// choice); a member's, a node's about itself, and anyone's about a name held here (the
/// precedence rules decide) are taken in.
#[test]
fn only_members_introduce_members() {
    let mut m = node();
    let out = packet(
        &mut m,
        at(0),
        9,
        vec![alive("ghost", 7, 0), alive("g2", 8, 0)],
    );
    assert!(events(&out).is_empty() && gossiped(&out).is_empty());
    assert_eq!(m.counters.snapshot().refused_members, 2);
    assert!(held(&m, "ghost").is_none());
    // A node introducing itself, then the others it knows.
    let out = packet(&mut m, at(1), 2, vec![alive("b", 2, 0), alive("c", 3, 0)]);
    assert_eq!(events(&out), ["join b", "join c"]);
    // A stranger may still speak about a member held here: the rules decide.
    let out = packet(&mut m, at(2), 9, vec![alive("c", 3, 1)]);
    assert_eq!(held(&m, "c"), Some((MemberState::Alive, 1)));
    assert_eq!(events(&out), ["update c"]);
    // Once b is dead, its address introduces nobody.
    packet(&mut m, at(3), 2, vec![dead("b", 0)]);
    packet(&mut m, at(4), 2, vec![alive("d", 4, 0)]);
    assert!(held(&m, "d").is_none());
    assert_eq!(m.counters.snapshot().refused_members, 3);
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
