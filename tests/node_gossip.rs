//! Loopback: metadata and broadcasts spread to everyone; the API refuses what it must
//! (oversized broadcasts, bad settings, bad names, unreachable seeds).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Cluster, Observed, WAIT, builder, local_config, wait_until};
use epidemic::{BroadcastError, ConfigError, InvalidName, JoinError, Node, StartError};

/// `set_metadata` reaches every node: each holds the new bytes and reported an update
/// carrying them.
#[test]
fn metadata_updates_reach_everyone() {
    let cluster = Cluster::start("node-gossip-metadata", "meta", 5, 500);
    let changer = 1;
    let who = cluster.name(changer);
    let before = cluster.node(changer).member(&who).unwrap().incarnation;
    cluster.node(changer).set_metadata(b"v2".to_vec()).unwrap();

    let everyone = cluster.others(&[]);
    wait_until(
        WAIT,
        || {
            let tables: Vec<String> = everyone
                .iter()
                .map(|&i| {
                    let m = cluster.node(i).member(&who).unwrap();
                    format!(
                        "  {} holds {who} metadata {:?}",
                        cluster.name(i),
                        m.metadata
                    )
                })
                .collect();
            format!(
                "everyone holds {who}'s metadata \"v2\":\n{}",
                tables.join("\n")
            )
        },
        || {
            everyone.iter().all(|&i| {
                cluster
                    .node(i)
                    .member(&who)
                    .is_some_and(|m| &*m.metadata == b"v2" && m.incarnation > before)
            })
        },
    );
    let others = cluster.others(&[changer]);
    wait_until(
        WAIT,
        || {
            format!(
                "every other node reports an update of {who} with metadata \"v2\":\n{}",
                cluster.describe_events(&others)
            )
        },
        || {
            others.iter().all(|&i| {
                cluster.node(i).logs.events.lock().iter().any(|e| {
                    e.kind() == "update"
                        && e.member().name() == who
                        && &*e.member().metadata == b"v2"
                })
            })
        },
    );
}

/// One broadcast is delivered exactly once to every other node, and never to its origin.
#[test]
fn a_broadcast_reaches_every_node_exactly_once() {
    let cluster = Cluster::start("node-gossip-broadcast", "bcast", 6, 600);
    let origin = 2;
    let from = cluster.name(origin);
    let payload = b"hello, everyone".to_vec();
    cluster.node(origin).broadcast(payload.clone()).unwrap();

    let others = cluster.others(&[origin]);
    let counts = || -> Vec<(String, usize)> {
        cluster
            .nodes
            .iter()
            .map(|n| (n.name().to_string(), n.logs.deliveries(&from, &payload)))
            .collect()
    };
    wait_until(
        WAIT,
        || format!("every other node delivers the broadcast: {:?}", counts()),
        || {
            others
                .iter()
                .all(|&i| cluster.node(i).logs.deliveries(&from, &payload) >= 1)
        },
    );
    // Retransmissions keep flowing for a while; none may be delivered a second time. The
    // tap holds every delivery since the start, so counting from it covers the whole run.
    let mut seen_by: HashMap<String, usize> = HashMap::new();
    common::observe_for(Duration::from_secs(2), &cluster.tap, |seen| {
        match &seen.what {
            Observed::Message(o, p) if o.as_str() == from && *p == payload => {
                let n = seen_by.entry(seen.observer.clone()).or_default();
                *n += 1;
                if seen.observer == from {
                    Some(format!("the broadcast was delivered to its origin {from}"))
                } else if *n > 1 {
                    Some(format!(
                        "{} delivered the broadcast {n} times",
                        seen.observer
                    ))
                } else {
                    None
                }
            }
            _ => None,
        }
    });
    let mut expected: Vec<(String, usize)> = counts();
    for (node, n) in &mut expected {
        *n = usize::from(*node != from);
    }
    assert_eq!(counts(), expected, "deliveries per node (origin is {from})");
}

/// A payload over `max_broadcast_bytes` is refused, and handed back intact.
#[test]
fn an_oversized_broadcast_is_refused_with_its_payload() {
    let config = local_config("node-gossip-too-large");
    let node = builder("big", 700, &config).start().unwrap();
    let max = config.max_broadcast_bytes;
    let payload: Vec<u8> = (0..=max).map(|i| (i % 251) as u8).collect();
    match node.broadcast(payload.clone()) {
        Err(BroadcastError::TooLarge {
            payload: back,
            max: limit,
        }) => {
            assert_eq!(back, payload, "the refused payload came back altered");
            assert_eq!(limit, max);
        }
        other => panic!(
            "a {}-byte broadcast was not refused as too large: {other:?}",
            max + 1
        ),
    }
    // Exactly the limit is fine.
    node.broadcast(vec![1u8; max]).unwrap();
}

/// Bad settings are refused at start, naming the field.
#[test]
fn invalid_config_is_refused_at_start() {
    let base = local_config("node-gossip-config");
    let mut zero_interval = base.clone();
    zero_interval.probe_interval = Duration::ZERO;
    let mut tiny_mtu = base.clone();
    tiny_mtu.mtu = 100;
    let mut no_fanout = base.clone();
    no_fanout.gossip_nodes = 0;
    let cases = [
        (zero_interval, ConfigError::Zero("probe_interval")),
        (tiny_mtu, ConfigError::Mtu(100)),
        (no_fanout, ConfigError::Zero("gossip_nodes")),
    ];
    for (config, expected) in cases {
        match builder("cfg", 710, &config).start() {
            Err(StartError::Config(e)) => assert_eq!(e, expected),
            other => panic!("expected StartError::Config({expected:?}), got {other:?}"),
        }
    }
}

/// Empty and over-long names are refused at start.
#[test]
fn invalid_names_are_refused_at_start() {
    let config = local_config("node-gossip-names");
    let long = "x".repeat(65);
    let cases = [
        ("", InvalidName::Empty),
        (long.as_str(), InvalidName::TooLong(65)),
    ];
    for (bad, expected) in cases {
        match builder(bad, 720, &config).start() {
            Err(StartError::Name(e)) => assert_eq!(e, expected),
            other => panic!("expected StartError::Name({expected:?}) for {bad:?}, got {other:?}"),
        }
    }
    // 64 bytes is the limit, and fine.
    let ok = Node::builder("y".repeat(64))
        .bind("127.0.0.1:0")
        .config(config)
        .seed(721)
        .start();
    assert!(ok.is_ok(), "a 64-byte name was refused: {ok:?}");
}

/// Joining through a port nobody listens on fails, naming that seed.
#[test]
fn joining_a_dead_seed_fails_listing_it() {
    let config = local_config("node-gossip-dead-seed");
    let node = builder("lonely", 730, &config).start().unwrap();
    // A TCP socket bound but never listening: the port is ours, so no other test can start
    // a listener on it, and a connect to it is refused at once.
    let reserved =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    reserved.bind(&any.into()).unwrap();
    let dead: SocketAddr = reserved.local_addr().unwrap().as_socket().unwrap();

    match node.join(&[dead]) {
        Err(JoinError::AllFailed(failures)) => {
            assert!(
                failures.iter().any(|(addr, _)| *addr == dead),
                "the failures do not list {dead}: {failures:?}"
            );
        }
        other => panic!("joining through {dead} (no listener) did not fail: {other:?}"),
    }
    // The node itself carries on, alone.
    assert_eq!(node.alive_members().len(), 1);
}

/// A node that crashes and comes back under the same name numbers its broadcasts after
/// every one it sent before: members that still remember the old ids (for two minutes)
/// deliver the new broadcasts instead of dropping them as duplicates.
#[test]
fn a_restarted_node_s_broadcasts_are_delivered() {
    let mut cluster = Cluster::start("node-gossip-restart", "rbcast", 4, 1700);
    let origin = 3;
    let from = cluster.name(origin);
    let others = cluster.others(&[origin]);
    let delivered_everywhere = |cluster: &Cluster, payload: &[u8]| {
        wait_until(
            WAIT,
            || format!("every other node delivers {payload:?} from {from}"),
            || {
                others
                    .iter()
                    .all(|&i| cluster.node(i).logs.deliveries(&from, payload) == 1)
            },
        );
    };
    cluster.node(origin).broadcast(b"before".to_vec()).unwrap();
    delivered_everywhere(&cluster, b"before");

    let old_addr = cluster.node(origin).local_addr();
    cluster.node(origin).stop();
    cluster.wait_state(&others, &from, epidemic::MemberState::Dead);
    // Hold the old port so the new process cannot be handed it by chance.
    let _old_port = std::net::UdpSocket::bind(old_addr).ok();
    let restarted = cluster.add(&from, 1750, 0);
    cluster.wait_state(&others, &from, epidemic::MemberState::Alive);
    cluster
        .node(restarted)
        .broadcast(b"after".to_vec())
        .unwrap();
    delivered_everywhere(&cluster, b"after");
}
