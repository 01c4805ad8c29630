//! Loopback: twenty nodes in one process join through one seed and converge.

#![allow(clippy::unwrap_used)]

mod common;

use common::Cluster;

/// Twenty nodes join through the first; every one ends up seeing all twenty alive, under
/// their own names and real addresses.
#[test]
fn twenty_nodes_join_through_one_seed_and_all_see_twenty_alive() {
    const N: usize = 20;
    // `Cluster::start` joins nodes 1..20 to node 0 and waits (bounded) until every node's
    // `alive_members().len() == 20`; it panics with every member table otherwise.
    let cluster = Cluster::start("node-cluster-20", "c20", N, 2000);
    let expected: Vec<String> = (0..N).map(|i| format!("c20-{i}")).collect();
    // The members are the right twenty, each at the address it is really bound to.
    for test_node in &cluster.nodes {
        let mut known: Vec<String> = test_node
            .members()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        known.sort_by_key(|n| n[4..].parse::<usize>().unwrap());
        assert_eq!(
            known,
            expected,
            "{} knows the wrong members",
            test_node.name()
        );
        for other in &cluster.nodes {
            let seen = test_node.member(other.name().as_str()).unwrap();
            assert_eq!(
                seen.addr,
                other.local_addr(),
                "{} holds a wrong address for {}",
                test_node.name(),
                seen.name
            );
        }
    }
}
