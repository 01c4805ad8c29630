//! Loopback: failure detection, graceful leave, refutation of a false suspicion, and a
//! restart under the same name.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Cluster, Observed, WAIT, builder, describe, name, send_datagram, wait_until};
use epidemic::MemberState;
use epidemic::codec::{Header, Message, Suspect, encode_packet};

/// Several suspicion timeouts of `Config::local()` for these cluster sizes
/// (3 × max(1, log10 5) × 200 ms = 600 ms each).
const SEVERAL_SUSPICION_TIMEOUTS: Duration = Duration::from_secs(2);

/// A node that stops silently is reported failed by every other node, never as leaving.
#[test]
fn a_silently_stopped_node_is_reported_failed_by_everyone_never_left() {
    let cluster = Cluster::start("node-failure-stop", "stop", 5, 100);
    let victim = cluster.name(4);
    cluster.node(4).stop();

    let others = cluster.others(&[4]);
    cluster.wait_event(&others, "fail", &victim);
    cluster.wait_state(&others, &victim, MemberState::Dead);
    for &i in &others {
        let logs = &cluster.node(i).logs;
        assert_eq!(
            logs.count("leave", &victim),
            0,
            "{} reported the crashed {victim} as leaving: [{}]",
            cluster.name(i),
            logs.dump_events()
        );
    }
}

/// A node that leaves gracefully is reported leaving by every other node, never failed,
/// not even after several suspicion timeouts.
#[test]
fn a_leaving_node_is_reported_left_by_everyone_never_failed() {
    let cluster = Cluster::start("node-failure-leave", "leave", 5, 200);
    let leaver = cluster.name(4);
    let left = cluster.node(4).leave(Duration::from_secs(2));
    assert_eq!(left, Ok(()), "leave did not confirm its announcement");

    let others = cluster.others(&[4]);
    cluster.wait_event(&others, "leave", &leaver);
    cluster.wait_state(&others, &leaver, MemberState::Left);
    // Had anyone missed the `left`, its probes would now suspect and then fail the leaver.
    common::observe_for(
        SEVERAL_SUSPICION_TIMEOUTS,
        &cluster.tap,
        |seen| match &seen.what {
            Observed::Event(e) if e.kind() == "fail" && e.member().name() == leaver => {
                Some(format!(
                    "{} reported the departed {leaver} failed: {e:?}",
                    seen.observer
                ))
            }
            _ => None,
        },
    );
    for &i in &others {
        let logs = &cluster.node(i).logs;
        assert_eq!(
            logs.count("fail", &leaver),
            0,
            "{} reported the departed {leaver} failed: [{}]",
            cluster.name(i),
            logs.dump_events()
        );
        assert_eq!(
            cluster.node(i).member(&leaver).map(|m| m.state),
            Some(MemberState::Left),
            "{} no longer holds {leaver} as left",
            cluster.name(i)
        );
    }
}

/// A forged `suspect` about a healthy node reaches it through gossip; it refutes with a
/// higher incarnation, everyone takes the refutation, and no one ever declares it dead.
#[test]
fn a_falsely_suspected_node_refutes_and_is_never_declared_dead() {
    let cluster = Cluster::start("node-failure-refute", "refute", 5, 300);
    let victim_index = 2;
    let victim = cluster.name(victim_index);
    let before = cluster
        .node(victim_index)
        .member(&victim)
        .unwrap()
        .incarnation;

    let header = Header {
        cluster: cluster.config.cluster_id(),
        flags: 0,
    };
    let lie = Message::Suspect(Suspect {
        name: name(&victim),
        incarnation: before,
        from: name("liar"),
    });
    let packet = encode_packet(&header, &[lie]).unwrap();
    // To everyone but the victim: it has to learn of the suspicion through gossip.
    let others = cluster.others(&[victim_index]);
    for &i in &others {
        send_datagram(cluster.node(i).local_addr(), &packet);
    }

    let everyone = cluster.others(&[]);
    wait_until(
        WAIT,
        || {
            format!(
                "everyone holds {victim} alive above incarnation {before}:\n{}",
                cluster.describe(&everyone)
            )
        },
        || {
            everyone.iter().all(|&i| {
                cluster
                    .node(i)
                    .member(&victim)
                    .is_some_and(|m| m.incarnation > before && m.state == MemberState::Alive)
            })
        },
    );
    let refutations = cluster.node(victim_index).stats().refutations;
    assert!(
        refutations >= 1,
        "{victim} never counted a refutation: {refutations}"
    );
    // The suspicion did spread: someone applied it (so the refutation was needed).
    assert!(
        others
            .iter()
            .any(|&i| cluster.node(i).logs.saw("suspect", &victim)),
        "no node ever applied the forged suspicion:\n{}",
        cluster.describe_events(&others)
    );

    common::observe_for(
        SEVERAL_SUSPICION_TIMEOUTS,
        &cluster.tap,
        |seen| match &seen.what {
            Observed::Event(e) if e.kind() == "fail" && e.member().name() == victim => {
                Some(format!(
                    "{} declared the refuted {victim} failed: {e:?}",
                    seen.observer
                ))
            }
            _ => None,
        },
    );
    for &i in &others {
        assert_eq!(
            cluster.node(i).logs.count("fail", &victim),
            0,
            "{} declared the refuted {victim} failed: [{}]",
            cluster.name(i),
            cluster.node(i).logs.dump_events()
        );
    }
}

/// A node that crashed and comes back under the same name, on a new port, is taken back by
/// everyone: alive, at a higher incarnation than its old record, at the new address.
///
/// A process claiming a live member's name from another address is a name conflict by
/// design (the first address is kept, the claim ignored), so the restart waits until every
/// node has declared the old process failed. The new process starts at incarnation 0, learns
/// of its own death from the seed's state and refutes it with a higher incarnation.
#[test]
fn a_restarted_node_rejoins_at_a_higher_incarnation_and_its_new_address() {
    let mut cluster = Cluster::start("node-failure-restart", "restart", 5, 400);
    let name4 = cluster.name(4);
    let old_addr = cluster.node(4).local_addr();
    cluster.node(4).stop();

    let others = cluster.others(&[4]);
    cluster.wait_state(&others, &name4, MemberState::Dead);
    let dead_at = others
        .iter()
        .map(|&i| cluster.node(i).member(&name4).unwrap().incarnation)
        .max()
        .unwrap();
    // Hold the old port so the new process cannot be handed it by chance.
    let _old_port = UdpSocket::bind(old_addr).ok();

    let restarted = cluster.start_node(&name4, builder(&name4, 450, &cluster.config));
    let new_addr = cluster.node(restarted).local_addr();
    assert_ne!(new_addr, old_addr);
    let joined = cluster
        .node(restarted)
        .join(&[cluster.node(0).local_addr()]);
    assert!(
        matches!(joined, Ok(n) if n >= 1),
        "rejoin failed: {joined:?}"
    );

    let mut everyone = others.clone();
    everyone.push(restarted);
    wait_until(
        WAIT,
        || {
            format!(
                "everyone holds {name4} alive at {new_addr} above incarnation {dead_at}:\n{}",
                describe(everyone.iter().map(|&i| &cluster.node(i).node))
            )
        },
        || {
            everyone.iter().all(|&i| {
                cluster.node(i).member(&name4).is_some_and(|m| {
                    m.state == MemberState::Alive && m.incarnation > dead_at && m.addr == new_addr
                })
            })
        },
    );
    cluster.wait_all_alive(&everyone, 5);
    // The others saw it fail, then come back.
    for &i in &others {
        let logs = &cluster.node(i).logs;
        let events = logs.events.lock();
        let about: Vec<&str> = events
            .iter()
            .filter(|e| e.member().name() == name4)
            .map(|e| e.kind())
            .collect();
        let fail = about.iter().position(|k| *k == "fail");
        let rejoin = about.iter().rposition(|k| *k == "join");
        assert!(
            matches!((fail, rejoin), (Some(f), Some(j)) if f < j),
            "{} did not report {name4} failing and then joining again: {about:?}",
            cluster.name(i)
        );
    }
}
