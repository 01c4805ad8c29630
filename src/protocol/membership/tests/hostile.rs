//! Well-formed but hostile claims: incarnations at every edge (0, 1, MAX − 1, MAX), from
//! gossip and from exchanges. No claim may panic, wrap, or leave a member unable to refute.

use super::*;
use crate::protocol::rules::{MAX_GOSSIP_JUMP, MAX_INCARNATION};

const EDGES: [u64; 4] = [0, 1, u64::MAX - 1, u64::MAX];

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
        // About a stranger introducing itself: not admitted.
        packet(&mut m, at(3), 7, vec![alive("stranger", 7, i)]);
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

/// Opens a join and answers its exchange with `members`: what this node takes from an
/// exchange it opened (`Source::Exchange`), as from a member adversary answering it.
fn answer_join(m: &mut Membership, now: Instant, members: Vec<MemberRecord>) {
    m.handle(
        now,
        MembershipInput::Join {
            request: RequestId(1),
            seeds: vec![addr(2)],
        },
    );
    let exchange = drain(m)
        .into_iter()
        .find_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange: ExchangeId::Membership(n),
                ..
            })) => Some(n),
            _ => None,
        })
        .unwrap();
    let state = PushPull {
        join: false,
        members,
    };
    m.handle(
        now,
        MembershipInput::SyncResponse {
            exchange,
            result: Ok(state),
        },
    );
}

#[test]
fn this_node_refutes_every_plausible_claim_about_itself_even_at_the_ceiling() {
    for i in [0, 1, MAX_GOSSIP_JUMP, MAX_INCARNATION - 1, MAX_INCARNATION] {
        // A claim at the ceiling could not be refused above it: it is refused instead.
        let expected = if i < MAX_INCARNATION { i + 1 } else { 0 };
        let mut m = node();
        // An exchange this node opened carries the claim (a restart learns its old
        // incarnation this way), then gossip repeats it.
        let claim = MemberRecord {
            name: name("me"),
            addr: addr(1),
            incarnation: i,
            state: MemberState::Dead,
            metadata: Arc::from(&[][..]),
        };
        answer_join(&mut m, at(0), vec![claim]);
        assert_eq!(m.local_incarnation(), expected, "refuted {i}");
        if i == MAX_INCARNATION {
            continue;
        }
        // The refutation is gossiped, and others take it: it is within the ceiling.
        let out = drain(&mut m);
        assert!(gossiped(&out).iter().any(
            |g| matches!(g, Message::Alive(a) if a.name == name("me") && a.incarnation == i + 1)
        ));
        let taken = crate::protocol::rules::admitted(
            Some(i),
            MemberState::Alive,
            i + 1,
            crate::protocol::rules::Source::Gossip,
        );
        assert_eq!(taken, Some(i + 1));
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
fn a_full_table_refuses_newcomers_keeps_its_live_members_and_recycles_the_dead() {
    let mut config = Config::lan();
    config.max_members = 4;
    let mut m = node_with_config(config);
    // Thousands of names nobody ever heard of, from a member.
    packet(&mut m, at(0), 9, vec![alive("relay", 9, 0)]);
    let flood: Vec<Message> = (0..3000)
        .map(|i| alive(&format!("fake-{i}"), 2000 + (i % 60000) as u16, 0))
        .collect();
    for chunk in flood.chunks(200) {
        packet(&mut m, at(0), 9, chunk.to_vec());
    }
    assert_eq!(m.members().len(), 4, "this node and three others");
    assert_eq!(m.counters.snapshot().refused_members, 2998);
    // Those admitted stay while alive or suspect; once one is dead, a newcomer takes its
    // place at once instead of waiting for it to be reaped.
    let admitted: Vec<_> = m.members().into_iter().map(|m| m.name).collect();
    packet(&mut m, at(1), 7, vec![alive("late", 7, 0)]);
    assert_eq!(held(&m, "late"), None);
    let fakes: Vec<_> = admitted
        .iter()
        .filter(|n| n.as_str() != "me" && n.as_str() != "relay")
        .cloned()
        .collect();
    packet(&mut m, at(2), 9, vec![suspect(fakes[0].as_str(), 0)]);
    packet(&mut m, at(3), 7, vec![alive("late", 7, 0)]);
    assert_eq!(held(&m, "late"), None, "a suspect keeps its place");
    packet(&mut m, at(4), 9, vec![dead(fakes[1].as_str(), 0)]);
    packet(&mut m, at(5), 9, vec![dead(fakes[0].as_str(), 0)]);
    packet(&mut m, at(6), 7, vec![alive("late", 7, 0)]);
    assert!(held(&m, "late").is_some());
    assert_eq!(
        held(&m, fakes[1].as_str()),
        None,
        "the longest dead made room"
    );
    assert_eq!(held(&m, fakes[0].as_str()), Some((MemberState::Dead, 0)));
    assert_eq!(m.members().len(), 4);
}

/// A node restarted at a new address (fresh, at incarnation 0) meets the claims the
/// cluster still holds about its name at the old one. An `alive` from there is a conflict
/// (never refuted: that would flap); a suspicion or death it refutes above; and another
/// node takes the new address once the old record is no longer held alive.
#[test]
fn a_node_moved_to_a_new_address_refutes_and_wins_once_the_old_record_fails() {
    let old = 50;
    // The restarted node: "me" at addr(1).
    let mut me = node();
    packet(&mut me, at(0), 2, vec![alive("b", 2, 0)]);
    let out = packet(&mut me, at(1), 2, vec![alive("me", old, 5)]);
    assert_eq!(events(&out), ["conflict me"]);
    assert_eq!(me.local_incarnation(), 0);
    let out = packet(&mut me, at(2), 2, vec![suspect("me", 5)]);
    assert_eq!(me.local_incarnation(), 6);
    let refuted = gossiped(&out);
    assert!(
        matches!(&refuted[..], [Message::Alive(a)] if a.addr == addr(1) && a.incarnation == 6),
        "{refuted:?}"
    );
    packet(&mut me, at(3), 2, vec![dead("me", 7)]);
    assert_eq!(me.local_incarnation(), 8);

    // Another node, holding "x" alive at the old address.
    let mut other = node();
    packet(&mut other, at(0), old, vec![alive("x", old, 5)]);
    let moved = |inc| alive("x", 1, inc);
    assert_eq!(
        events(&packet(&mut other, at(1), 1, vec![moved(6)])),
        ["conflict x"]
    );
    // Once the old record is suspect (its probes fail), the refutation from the new
    // address wins.
    packet(&mut other, at(2), 3, vec![suspect("x", 5)]);
    let out = packet(&mut other, at(3), 1, vec![moved(7)]);
    assert_eq!(events(&out), ["update x"], "{:?}", events(&out));
    let x = other.table.get(&name("x")).unwrap();
    assert_eq!(
        (x.addr, x.incarnation, x.state),
        (addr(1), 7, MemberState::Alive)
    );
}

#[test]
fn a_member_moved_to_a_forged_address_refutes_from_its_real_one_once_suspected() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("x", 2, 3)]);
    // A forged death, then a forged alive at another address: taken (x was down here).
    packet(&mut m, at(1), 9, vec![dead("x", 3), alive("x", 66, 4)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, 4)));
    // While x is held alive there, its real address is a conflict, as before.
    packet(&mut m, at(2), 2, vec![alive("x", 2, 5)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, 4)));
    // Probes to the forged address fail: x is suspected, and its refutation from its
    // real address is taken.
    packet(&mut m, at(3), 9, vec![suspect("x", 4)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Suspect, 4)));
    packet(&mut m, at(4), 2, vec![alive("x", 2, 5)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, 5)));
    let peers = m.peer_view();
    assert!(peers.is_at(&name("x"), addr(2)));
}

#[test]
fn a_refutation_far_beyond_a_lagging_holder_is_taken_at_the_jump() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("x", 2, 3)]);
    packet(&mut m, at(1), 9, vec![suspect("x", 3)]);
    // x refuted many forged claims this node missed: it is far above what is held here.
    let far = 3 + 10 * MAX_GOSSIP_JUMP;
    packet(&mut m, at(2), 2, vec![alive("x", 2, far)]);
    assert_eq!(
        held(&m, "x"),
        Some((MemberState::Alive, 3 + MAX_GOSSIP_JUMP))
    );
    // A death that far ahead is still refused.
    packet(&mut m, at(3), 9, vec![dead("x", far + 5 * MAX_GOSSIP_JUMP)]);
    assert_eq!(
        held(&m, "x"),
        Some((MemberState::Alive, 3 + MAX_GOSSIP_JUMP))
    );
}

#[test]
fn a_member_planted_alive_at_the_ceiling_at_a_wrong_address_is_still_suspected_and_replaced() {
    // Found by the simulator's adversary: while x was suspected, a member answering an
    // exchange planted x alive at 2^48, at another node's address. Nothing outbids the ceiling, and x's own alives
    // from its real address are conflicts; if this node's probes could not suspect it
    // either, x would be held at the wrong address for good.
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("x", 2, 3), suspect("x", 3)]);
    let planted = MemberRecord {
        name: name("x"),
        addr: addr(9),
        incarnation: MAX_INCARNATION,
        state: MemberState::Alive,
        metadata: Arc::from(&[][..]),
    };
    answer_join(&mut m, at(1), vec![planted]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, MAX_INCARNATION)));
    packet(&mut m, at(2), 2, vec![alive("x", 2, 4)]);
    assert_eq!(held(&m, "x"), Some((MemberState::Alive, MAX_INCARNATION)));
    // Pings to addr(9) go unanswered: suspected, at the ceiling.
    let out = run_until(&mut m, at(10_000));
    let token = out
        .iter()
        .find_map(|o| match o {
            Output::To(ComponentInput::Suspicion(SuspicionInput::Start {
                name: n, token, ..
            })) if *n == name("x") => Some(*token),
            _ => None,
        })
        .expect("x suspected");
    assert_eq!(held(&m, "x"), Some((MemberState::Suspect, MAX_INCARNATION)));
    // The suspicion runs out: dead, and forgotten after `reap_after`.
    let expired = MembershipInput::SuspicionExpired {
        name: name("x"),
        incarnation: MAX_INCARNATION,
        token,
    };
    m.handle(at(12_000), expired);
    assert_eq!(held(&m, "x"), Some((MemberState::Dead, MAX_INCARNATION)));
    run_until(
        &mut m,
        at(12_000) + Config::lan().reap_after + Duration::from_secs(5),
    );
    assert_eq!(held(&m, "x"), None);
    // x, from its own address, is taken in afresh there.
    packet(&mut m, at(80_000), 2, vec![alive("x", 2, 4)]);
    let x = m
        .members()
        .into_iter()
        .find(|r| r.name == name("x"))
        .unwrap();
    assert_eq!((x.state, x.addr), (MemberState::Alive, addr(2)));
}

#[test]
fn a_suspicion_from_a_holder_far_ahead_is_outbid_a_jump_at_a_time() {
    // Found by the simulator's adversary: a holder took forged alives about this node, a
    // jump at a time, and then suspected it at that incarnation. Refusing the suspicion as
    // beyond the jump left it unrefuted, and the holder declared this node dead.
    let mut m = node();
    let ahead = 2 * MAX_GOSSIP_JUMP + 100;
    packet(&mut m, at(0), 2, vec![suspect("me", ahead)]);
    assert_eq!(
        m.local_incarnation(),
        MAX_GOSSIP_JUMP + 1,
        "taken at the jump"
    );
    // The holder's suspicion is retransmitted: each time one more jump, until above it.
    packet(&mut m, at(1), 3, vec![suspect("me", ahead)]);
    assert_eq!(m.local_incarnation(), 2 * MAX_GOSSIP_JUMP + 2);
    packet(&mut m, at(2), 4, vec![suspect("me", ahead)]);
    assert_eq!(m.local_incarnation(), ahead + 1, "outbids the holder");
    // Nothing at the ceiling is taken, and nothing wraps.
    packet(&mut m, at(3), 4, vec![suspect("me", MAX_INCARNATION)]);
    assert_eq!(m.local_incarnation(), ahead + 1);
}
