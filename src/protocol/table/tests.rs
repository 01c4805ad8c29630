//! The member table's indexes: live members, live addresses, the departed.

#![allow(clippy::unwrap_used)]
use super::*;
use rand::SeedableRng;

fn record(state: MemberState) -> Record {
    Record {
        addr: "127.0.0.1:1".parse().unwrap(),
        incarnation: 0,
        state,
        metadata: Arc::from(&[][..]),
        changed_at: Instant::ZERO,
        suspicion_token: 0,
    }
}

fn live_names(t: &MemberTable) -> Vec<NodeName> {
    t.live_ids()
        .into_iter()
        .filter_map(|id| t.live_name(id))
        .collect()
}

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

#[test]
fn live_index_follows_state_changes() {
    let mut t = MemberTable::new(name("me"), record(MemberState::Alive));
    assert_eq!(t.cluster_size(), 1);
    for n in ["a", "b", "c"] {
        t.upsert(name(n), record(MemberState::Alive));
    }
    let view = t.peer_view();
    assert_eq!(view.count(Pick::Live), 3);
    t.upsert(name("b"), record(MemberState::Suspect));
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (3, 2));
    t.upsert(name("b"), record(MemberState::Dead));
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (2, 2));
    assert!(!live_names(&t).contains(&name("b")));
    t.remove(&name("a"));
    assert_eq!(live_names(&t), [name("c")]);
    assert_eq!(t.len(), 3);
    assert!(t.remove(&name("me")).is_none());
}

#[test]
fn live_addresses_follow_state_and_address_changes() {
    let at = |port: u16, state| Record {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        ..record(state)
    };
    let live = |t: &MemberTable, port| t.is_live_addr(SocketAddr::from(([127, 0, 0, 1], port)));
    let mut t = MemberTable::new(name("me"), at(9, MemberState::Alive));
    assert!(!live(&t, 9), "this node is not indexed");
    t.upsert(name("a"), at(2, MemberState::Alive));
    t.upsert(name("b"), at(2, MemberState::Suspect));
    t.upsert(name("a"), at(3, MemberState::Alive));
    assert!(live(&t, 2) && live(&t, 3));
    t.upsert(name("b"), at(2, MemberState::Dead));
    assert!(!live(&t, 2));
    t.remove(&name("a"));
    assert!(!live(&t, 3));
    t.bulk_insert(vec![(name("c"), at(4, MemberState::Alive))]);
    assert!(live(&t, 4) && !live(&t, 2));
}

#[test]
fn departed_members_come_out_oldest_first_and_leave_when_revived_or_removed() {
    let at = |s: u64| Instant::ZERO + Duration::from_secs(s);
    let gone = |state, s| Record {
        changed_at: at(s),
        ..record(state)
    };
    let mut t = MemberTable::new(name("me"), record(MemberState::Alive));
    t.upsert(name("a"), gone(MemberState::Dead, 5));
    t.upsert(name("b"), gone(MemberState::Left, 1));
    t.upsert(name("c"), gone(MemberState::Dead, 3));
    t.upsert(name("d"), record(MemberState::Alive));
    let after = Duration::from_secs(10);
    assert_eq!(t.departed_before(at(12), after), [name("b")]);
    assert_eq!(
        t.departed_before(at(15), after),
        [name("b"), name("c"), name("a")]
    );
    // Revived, and removed: neither is reaped any more.
    t.upsert(name("b"), gone(MemberState::Alive, 6));
    t.remove(&name("c"));
    assert_eq!(t.departed_before(at(100), after), [name("a")]);
    // A newer death restarts the clock.
    t.upsert(name("a"), gone(MemberState::Left, 50));
    assert!(t.departed_before(at(59), after).is_empty());
    // This node is never reaped, whatever its state.
    t.upsert(name("me"), gone(MemberState::Left, 0));
    assert_eq!(t.departed_before(at(100), after), [name("a")]);
}

#[test]
fn random_live_respects_exclusions_and_k() {
    let mut t = MemberTable::new(name("me"), record(MemberState::Alive));
    for n in ["a", "b", "c", "d"] {
        t.upsert(name(n), record(MemberState::Alive));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..50 {
        let a = name("a");
        let picked = t.random_live(3, &[&a], &mut rng);
        assert_eq!(picked.len(), 3);
        assert!(!picked.contains(&a));
        let mut dedup = picked.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 3);
    }
    assert_eq!(t.random_live(10, &[], &mut rng).len(), 4);
}
