//! Random choice over the directory, counts and growth.

#![allow(clippy::unwrap_used)]
use super::*;
use rand::SeedableRng;

fn name(s: &str) -> NodeName {
    NodeName::new(s).unwrap()
}

fn peer(name_: &str, port: u16) -> Peer {
    Peer {
        name: name(name_),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

#[test]
fn a_full_list_grows_by_an_eighth() {
    let mut list: Vec<u64> = (0..800).collect();
    list.shrink_to_fit();
    reserve_one(&mut list);
    assert!(
        (801..=904).contains(&list.capacity()),
        "{}",
        list.capacity()
    );
    let before = list.capacity();
    reserve_one(&mut list);
    assert_eq!(list.capacity(), before, "room left: nothing reserved");
}

#[test]
fn counts_and_picks_follow_states() {
    let view = PeerView::new();
    view.push(peer("a", 1));
    view.push_as(peer("b", 2), MemberState::Suspect);
    view.push(peer("c", 3));
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (3, 2));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..20 {
        let alive = view.random_addrs(3, Pick::Alive, &mut rng);
        assert_eq!(alive.len(), 2);
        assert!(!alive.contains(&peer("b", 2).addr));
    }
    view.forget(&name("a"));
    assert_eq!((view.count(Pick::Live), view.count(Pick::Alive)), (2, 1));
    let skip_c = view.random(1, Pick::Live, |n| n.as_str() == "c", &mut rng);
    assert_eq!(skip_c.len(), 1);
    assert_eq!(skip_c[0].name, name("b"));
    assert!(view.all(Pick::Alive, |n| n.as_str() == "c"));
    assert_eq!(view.addrs(Pick::Alive), [peer("c", 3).addr]);
    assert!(view.is_at(&name("b"), peer("b", 2).addr));
    assert!(!view.is_at(&name("b"), peer("c", 3).addr));
    view.mark_all_dead();
    assert!(view.random(3, Pick::Live, |_| false, &mut rng).is_empty());
    assert!(view.knows(&name("b")), "down, not forgotten");
}

/// A directory mostly of the dead (a mass failure not yet reaped) still yields every
/// live member, uniformly enough that each is picked.
#[test]
fn picks_among_few_live_in_a_large_directory_find_them_all() {
    let view = PeerView::new();
    for i in 0..1000u16 {
        view.push(peer(&format!("n{i}"), i + 1));
    }
    view.mark_all_dead();
    for i in [5u16, 500, 999] {
        view.push(peer(&format!("n{i}"), i + 1));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let picked = view.random(2, Pick::Live, |_| false, &mut rng);
        assert_eq!(picked.len(), 2);
        assert_ne!(picked[0].name, picked[1].name);
        seen.extend(picked.into_iter().map(|p| p.name));
    }
    assert_eq!(seen.len(), 3);
}

/// In a large, healthy directory a pick is random: over many picks every member comes
/// up, none far more often than the rest.
#[test]
fn picks_in_a_dense_directory_are_spread() {
    let view = PeerView::new();
    for i in 0..200u16 {
        view.push(peer(&format!("n{i}"), i + 1));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut counts = std::collections::BTreeMap::<NodeName, u32>::new();
    for _ in 0..4000 {
        for p in view.random(3, Pick::Live, |_| false, &mut rng) {
            *counts.entry(p.name).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 200);
    let max = counts.values().max().copied().unwrap();
    assert!(max < 120, "expected about 60 each, got {max}");
}
