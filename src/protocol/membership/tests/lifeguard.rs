//! Lifeguard driven by hand: local health, nacks, confirmations and the buddy system, and
//! the same scenarios with `lifeguard = false` showing plain SWIM.

#[allow(unused_imports)]
use crate::protocol::ComponentInput;
use std::net::SocketAddr;
use std::time::Duration;

use super::{addr, alive, at, drain, gossiped, name, packet, run_until, sends};
use crate::codec::{Ack, Message, Nack, PingReq, Suspect};
use crate::config::Config;
use crate::protocol::membership::Membership;
use crate::protocol::{Component, DisseminationInput, Output, SuspicionInput};
use crate::time::Instant;

fn node_with(lifeguard: bool) -> Membership {
    let mut config = Config::lan();
    config.lifeguard = lifeguard;
    super::node_with_config(config)
}

/// A node that knows the given peers (port = index + 2).
fn cluster(lifeguard: bool, peers: &[&str]) -> Membership {
    let mut m = node_with(lifeguard);
    for (i, n) in peers.iter().enumerate() {
        let port = 2 + i as u16;
        packet(&mut m, at(0), port, vec![alive(n, port, 0)]);
    }
    m
}

/// Runs timeouts until `until`; returns (time, destination, seq) of every ping sent, and
/// every output.
fn pings_until(
    m: &mut Membership,
    until: Instant,
) -> (Vec<(Instant, SocketAddr, u32)>, Vec<Output>) {
    let (mut pings, mut all) = (Vec::new(), Vec::new());
    while let Some(next) = m.poll_timeout() {
        if next > until {
            break;
        }
        m.handle_timeout(next);
        let out = drain(m);
        for (to, msg) in sends(&out) {
            if let Message::Ping(p) = msg {
                pings.push((next, to, p.seq));
            }
        }
        all.extend(out);
    }
    (pings, all)
}

fn gaps_ms(pings: &[(Instant, SocketAddr, u32)]) -> Vec<u64> {
    pings
        .windows(2)
        .map(|w| w[1].0.saturating_since(w[0].0).as_millis() as u64)
        .collect()
}

fn suspect(n: &str, incarnation: u64, from: &str) -> Message {
    Message::Suspect(Suspect {
        name: name(n),
        incarnation,
        from: name(from),
    })
}

fn starts(out: &[Output]) -> Vec<(Duration, Duration, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Suspicion(SuspicionInput::Start {
                min_timeout,
                max_timeout,
                confirmations,
                ..
            })) => Some((*min_timeout, *max_timeout, *confirmations)),
            _ => None,
        })
        .collect()
}

/// The confirmation counts forwarded to the suspicion timer.
fn confirms(out: &[Output]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Suspicion(SuspicionInput::Confirm {
                confirmations,
                ..
            })) => Some(*confirmations),
            _ => None,
        })
        .collect()
}

#[test]
fn failing_probes_raise_local_health_and_stretch_the_period() {
    // One peer and no helpers: every silent period is +1, so periods grow 1 s, 2 s, ... 9 s.
    let mut m = cluster(true, &["b"]);
    let (pings, _) = pings_until(&mut m, at(60_000));
    let gaps = gaps_ms(&pings);
    assert_eq!(
        gaps[..10],
        [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 9000]
    );
    assert_eq!(m.awareness.score(), 8);
    assert_eq!(m.counters.snapshot().local_health, 8);
    // An ack lowers it by one.
    let (last_at, to, seq) = *pings.last().unwrap();
    let ack = Message::Ack(Ack {
        seq,
        source: name("b"),
    });
    packet(
        &mut m,
        last_at + Duration::from_millis(5),
        to.port(),
        vec![ack],
    );
    // That period still ends 9 s after it began; the next one is 8 s long.
    let (more, _) = pings_until(&mut m, last_at + Duration::from_secs(9));
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].0, last_at + Duration::from_secs(9));
    assert_eq!(m.awareness.score(), 7);
    assert_eq!(m.counters.snapshot().local_health, 7);
    let (after, _) = pings_until(&mut m, last_at + Duration::from_secs(17));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].0, last_at + Duration::from_secs(17));
}

#[test]
fn without_lifeguard_failing_probes_keep_the_period() {
    let mut m = cluster(false, &["b"]);
    let (pings, out) = pings_until(&mut m, at(20_000));
    assert!(gaps_ms(&pings).iter().all(|g| *g == 1000));
    assert_eq!(m.awareness.score(), 0);
    assert_eq!(m.counters.snapshot().local_health, 0);
    // b is suspect after the first period, but no ping carries its suspicion (no buddy).
    assert!(
        sends(&out)
            .iter()
            .all(|(_, msg)| !matches!(msg, Message::Suspect(_)))
    );
}

/// Runs the probe `seq` sent at `ping_at` to its indirect stage, then answers with nacks
/// from `nacking` of its three helpers (each delivered twice).
fn nack_round(m: &mut Membership, ping_at: Instant, seq: u32, nacking: usize) {
    let (_, out) = pings_until(m, ping_at + m.awareness.scale(Duration::from_millis(500)));
    let helpers: Vec<(SocketAddr, String)> = sends(&out)
        .into_iter()
        .filter_map(|(to, msg)| match msg {
            Message::PingReq(PingReq { seq: s, .. }) if s == seq => Some(to),
            _ => None,
        })
        .map(|to| {
            (
                to,
                ["b", "c", "d", "e"][usize::from(to.port() - 2)].to_string(),
            )
        })
        .collect();
    assert_eq!(helpers.len(), 3);
    let now = ping_at + m.awareness.scale(Duration::from_millis(900));
    for (to, helper) in helpers.iter().take(nacking) {
        let nack = Message::Nack(Nack {
            seq,
            source: name(helper),
        });
        // Delivered twice: a duplicate is not counted again.
        packet(m, now, to.port(), vec![nack.clone(), nack]);
    }
}

#[test]
fn nacks_are_counted_and_only_missing_ones_raise_local_health() {
    let mut m = cluster(true, &["b", "c", "d", "e"]);
    let t0 = m.poll_timeout().unwrap();
    let (pings, _) = pings_until(&mut m, t0);
    let (_, _, seq) = pings[0];
    // First probe: all three helpers nack. A failed probe, but no missing nack: +1 only.
    nack_round(&mut m, t0, seq, 3);
    let (pings, _) = pings_until(&mut m, t0 + Duration::from_millis(1000));
    assert_eq!(m.awareness.score(), 1);
    let stats = m.counters.snapshot();
    assert_eq!((stats.nacks_received, stats.missed_nacks), (3, 0));
    // Second probe, at t0 + 1 s, with the timeout doubled: one nack of three, so +1 + 2.
    let (t1, _, seq) = *pings.last().unwrap();
    assert_eq!(t1, t0 + Duration::from_millis(1000));
    nack_round(&mut m, t1, seq, 1);
    let (pings, _) = pings_until(&mut m, t1 + Duration::from_millis(2000));
    assert_eq!(m.awareness.score(), 4);
    assert_eq!(m.counters.snapshot().missed_nacks, 2);
    // The period the second probe ran in was stretched to 2 s.
    assert_eq!(pings.last().unwrap().0, t1 + Duration::from_millis(2000));
}

#[test]
fn helpers_nack_at_80_percent_of_the_probe_timeout_with_lifeguard() {
    for (lifeguard, nack_ms) in [(true, 420), (false, 520)] {
        let mut m = node_with(lifeguard);
        packet(&mut m, at(0), 5, vec![alive("a", 5, 0), alive("t", 7, 0)]);
        let req = Message::PingReq(PingReq {
            seq: 5,
            target: name("t"),
            target_addr: addr(7),
            source: name("a"),
        });
        packet(&mut m, at(20), 5, vec![req]);
        let nacked = |out: &[Output]| {
            sends(out)
                .iter()
                .any(|(to, msg)| *to == addr(5) && matches!(msg, Message::Nack(n) if n.seq == 5))
        };
        assert!(!nacked(&run_until(&mut m, at(nack_ms - 1))));
        assert!(
            nacked(&run_until(&mut m, at(nack_ms))),
            "lifeguard {lifeguard}"
        );
    }
}

#[test]
fn a_new_confirmer_is_forwarded_and_regossiped_once() {
    let mut m = cluster(true, &["b", "c", "d", "e"]);
    // N = 5, log10 5 < 1: min = 4 × 1 s; max = 6 × min; k = 4 − 2.
    let out = packet(&mut m, at(10), 3, vec![suspect("b", 0, "c")]);
    assert_eq!(
        starts(&out),
        [(Duration::from_secs(4), Duration::from_secs(24), 2)]
    );
    assert!(confirms(&out).is_empty());
    // The original suspector again: not a confirmation.
    let out = packet(&mut m, at(11), 3, vec![suspect("b", 0, "c")]);
    assert!(confirms(&out).is_empty() && gossiped(&out).is_empty());
    // A new confirmer: forwarded to the timer and re-gossiped as received.
    let out = packet(&mut m, at(12), 4, vec![suspect("b", 0, "d")]);
    assert_eq!(confirms(&out), [1]);
    assert!(matches!(gossiped(&out).as_slice(), [Message::Suspect(s)] if s.from == name("d")));
    // The same confirmer twice: nothing.
    let out = packet(&mut m, at(13), 4, vec![suspect("b", 0, "d")]);
    assert!(confirms(&out).is_empty() && gossiped(&out).is_empty());
    // The k-th confirmer counts; beyond k nothing more is forwarded.
    assert_eq!(
        confirms(&packet(&mut m, at(14), 5, vec![suspect("b", 0, "e")])),
        [2]
    );
    let out = packet(&mut m, at(15), 9, vec![suspect("b", 0, "x")]);
    assert!(confirms(&out).is_empty() && gossiped(&out).is_empty());
    assert_eq!(m.counters.snapshot().suspicion_confirmations, 2);
    // A refutation ends the suspicion and its reports.
    packet(&mut m, at(16), 2, vec![alive("b", 2, 1)]);
    assert_eq!(m.reports.len(), 0);
}

#[test]
fn a_stale_or_newer_suspicion_is_not_a_confirmation() {
    let mut m = cluster(true, &["c", "d", "e"]);
    packet(&mut m, at(0), 9, vec![alive("b", 9, 3)]);
    packet(&mut m, at(10), 3, vec![suspect("b", 3, "c")]);
    let out = packet(&mut m, at(11), 4, vec![suspect("b", 2, "d")]);
    assert!(confirms(&out).is_empty() && gossiped(&out).is_empty());
    // A higher incarnation is a new suspicion: a fresh timer, not a confirmation.
    let out = packet(&mut m, at(12), 4, vec![suspect("b", 4, "d")]);
    assert!(confirms(&out).is_empty());
    assert_eq!(starts(&out).len(), 1);
}

#[test]
fn without_lifeguard_the_timeout_is_fixed_and_confirmations_ignored() {
    let mut m = cluster(false, &["b", "c", "d", "e"]);
    let out = packet(&mut m, at(10), 3, vec![suspect("b", 0, "c")]);
    assert_eq!(
        starts(&out),
        [(Duration::from_secs(4), Duration::from_secs(4), 0)]
    );
    let out = packet(&mut m, at(12), 4, vec![suspect("b", 0, "d")]);
    assert!(confirms(&out).is_empty() && gossiped(&out).is_empty());
    assert_eq!(m.counters.snapshot().suspicion_confirmations, 0);
}

#[test]
fn a_small_cluster_runs_the_shortest_timeout() {
    // N = 3: only one member could confirm, fewer than k = 2.
    let mut m = cluster(true, &["b", "c"]);
    let out = packet(&mut m, at(10), 3, vec![suspect("b", 0, "c")]);
    assert_eq!(
        starts(&out),
        [(Duration::from_secs(4), Duration::from_secs(4), 0)]
    );
}

#[test]
fn the_ping_to_a_suspect_carries_its_suspicion() {
    let mut m = cluster(true, &["b"]);
    packet(&mut m, at(0), 3, vec![suspect("b", 0, "c")]);
    let t0 = m.poll_timeout().unwrap();
    m.handle_timeout(t0);
    let out = drain(&mut m);
    let batches: Vec<&[Message]> = out
        .iter()
        .filter_map(|o| match o {
            Output::To(ComponentInput::Dissemination(DisseminationInput::Probe {
                to,
                messages,
                ..
            })) if *to == addr(2) => Some(messages.as_slice()),
            _ => None,
        })
        .collect();
    match batches.as_slice() {
        [[Message::Ping(p), Message::Suspect(s)]] => {
            assert_eq!(p.target, name("b"));
            assert_eq!(
                (s.name.clone(), s.incarnation, s.from.clone()),
                (name("b"), 0, name("me"))
            );
        }
        other => panic!("expected ping + suspect in one send, got {other:?}"),
    }
}

#[test]
fn refuting_raises_local_health_only_with_lifeguard() {
    for (lifeguard, expected) in [(true, 1), (false, 0)] {
        let mut m = node_with(lifeguard);
        packet(&mut m, at(0), 2, vec![suspect("me", 0, "b")]);
        assert_eq!(m.counters.snapshot().refutations, 1);
        assert_eq!(m.counters.snapshot().local_health, expected);
    }
}
