//! The directory's records, indexes and reuse of ids.

#![allow(clippy::unwrap_used)]
use super::*;
use std::time::Duration;

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

fn held(addr: &str, state: MemberState) -> Held {
    Held {
        addr: addr.parse().unwrap(),
        incarnation: 7,
        state,
        changed_at: Instant::ZERO + Duration::from_secs(3),
    }
}

#[test]
fn a_record_reads_back_as_written_for_both_address_families() {
    let mut dir = Directory::default();
    let v4 = held("10.1.2.3:7946", MemberState::Alive);
    let v6 = held("[fe80::1%2]:7946", MemberState::Suspect);
    let a = dir.set(name("a"), v4);
    let b = dir.set(name("b"), v6);
    assert_eq!(dir.get(a), Some((&name("a"), v4)));
    assert_eq!(dir.get(b), Some((&name("b"), v6)), "scope id kept");
    assert_eq!((dir.len(), dir.live(), dir.suspects()), (2, 2, 1));
    assert!(dir.is_live_addr(v4.addr) && dir.is_live_addr(v6.addr));
    // Moving b to IPv4 empties the side map.
    let moved = held("10.1.2.4:1", MemberState::Alive);
    assert_eq!(dir.set(name("b"), moved), b);
    assert!(dir.aside.is_empty());
    assert!(!dir.is_live_addr(v6.addr) && dir.is_live_addr(moved.addr));
    assert_eq!(dir.suspects(), 0);
}

#[test]
fn ports_and_addresses_at_the_edges_pack_exactly() {
    for addr in ["0.0.0.0:0", "255.255.255.255:65535", "127.0.0.1:1"] {
        let addr: SocketAddr = addr.parse().unwrap();
        assert_eq!(PackedAddr::pack(addr).unpack(), Some(addr));
    }
    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    assert_eq!(PackedAddr::pack(v6), PackedAddr::ASIDE);
}

#[test]
fn indexes_follow_state_changes_and_an_address_claimed_twice() {
    let mut dir = Directory::default();
    let at = "127.0.0.1:5";
    dir.set(name("real"), held(at, MemberState::Alive));
    dir.set(name("forged"), held(at, MemberState::Alive));
    dir.set(name("forged"), held(at, MemberState::Dead));
    assert!(dir.is_live_addr(at.parse().unwrap()), "real is still there");
    dir.set(name("real"), held(at, MemberState::Left));
    assert!(!dir.is_live_addr(at.parse().unwrap()));
    assert_eq!(dir.live(), 0);
    let departed: Vec<MemberId> = dir.departed().map(|(_, id)| id).collect();
    assert_eq!(departed.len(), 2);
    dir.set(name("real"), held(at, MemberState::Alive));
    assert_eq!(dir.departed().count(), 1, "revived: no longer departed");
}

#[test]
fn a_forgotten_id_is_reused_and_leaves_nothing_behind() {
    let mut dir = Directory::default();
    let a = dir.set(name("a"), held("[::1]:1", MemberState::Dead));
    dir.set(name("b"), held("127.0.0.1:2", MemberState::Alive));
    assert_eq!(dir.remove(&name("a")).map(|(id, _)| id), Some(a));
    assert_eq!(dir.remove(&name("a")), None);
    assert!(dir.aside.is_empty() && dir.departed().next().is_none());
    assert_eq!(
        (dir.len(), dir.id_of(&name("a")), dir.get(a)),
        (1, None, None)
    );
    let c = dir.set(name("c"), held("127.0.0.1:3", MemberState::Alive));
    assert_eq!(c, a, "the free id is taken first");
    assert_eq!(dir.id_bound(), 2);
    let names: Vec<&str> = dir.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, ["c", "b"], "id order");
}

#[test]
fn many_members_stay_findable_through_growth() {
    let mut dir = Directory::default();
    dir.reserve(100);
    for i in 0..3000u32 {
        let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7000));
        let state = MemberState::Alive;
        let held = Held {
            addr,
            state,
            ..held("0.0.0.0:0", state)
        };
        dir.set(name(&format!("n{i}")), held);
    }
    for i in (0..3000u32).step_by(7) {
        let id = dir.id_of(&name(&format!("n{i}"))).unwrap();
        let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7000));
        assert_eq!(dir.get(id).unwrap().1.addr, addr);
        assert!(dir.is_live_addr(addr));
    }
    assert_eq!(dir.id_of(&name("n3000")), None);
}

#[test]
fn insert_new_leaves_a_held_member_untouched() {
    let mut dir = Directory::default();
    let first = held("127.0.0.1:1", MemberState::Suspect);
    let a = dir.insert_new(name("a"), first).unwrap();
    assert_eq!(
        dir.insert_new(name("a"), held("127.0.0.1:2", MemberState::Alive)),
        None
    );
    assert_eq!(dir.get(a), Some((&name("a"), first)));
    assert_eq!((dir.len(), dir.suspects()), (1, 1));
}
