//! Exchange answers lost for 60 s (`Fault::LoseExchangeAnswers`): the answer of every TCP
//! exchange — membership push-pull and key-value sync alike — and even its timeout are lost
//! before they reach the node that opened it, as answers dropped in a full inbox. Only the
//! node's own slot deadlines (`tcp_timeout` + 1 s) can free the slots.
//!
//! After the outage, within [`resume_bound`] (the slot deadline, two push-pull intervals and
//! ten state intervals: 81 s on the LAN config), every node has completed new push-pull
//! exchanges, key-value exchanges are answered again, and keys too large for a datagram
//! (so they travel only over TCP) written during and after the outage are read at every
//! node. During the outage every node writes such a key every 5 s, so each opens more TCP
//! exchanges than it has slots. A wedge — slots never freed — fails it: no node would open a push-pull again, and
//! the large keys could not travel.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod seeded;

use epidemic::Config;
use epidemic::sim::{Answered, Fault, NodeId, Simulation};
use seeded::run_seeded;

const NODES: usize = 8;
const OUTAGE: Duration = Duration::from_secs(60);

/// How long after the outage exchanges must have resumed (see the module docs).
fn resume_bound(config: &Config) -> Duration {
    config.tcp_timeout
        + Duration::from_secs(1)
        + config.push_pull_interval * 2
        + config.state_interval * 10
}

fn answered(sim: &Simulation) -> Vec<Answered> {
    (0..NODES).map(|i| sim.answered(NodeId(i))).collect()
}

/// A value larger than a datagram: it travels only in TCP exchanges.
fn large(tag: u8) -> Vec<u8> {
    vec![tag; 3000]
}

fn outage(seed: u64) -> Result<(), String> {
    let mut config = Config::lan();
    config.state_max_value_len = 4096;
    let mut sim = Simulation::builder()
        .nodes(NODES)
        .seed(seed)
        .config(config.clone())
        .bootstrapped(true)
        .record_trace(false)
        .build();
    let err = |e: epidemic::StateError| e.to_string();
    sim.set(NodeId(0), "before", large(1)).map_err(err)?;
    sim.run_for(Duration::from_secs(60))
        .map_err(|v| v.to_string())?;
    sim.check_state_converged()?;
    let start = answered(&sim);
    if start.iter().any(|a| a.membership == 0) || start.iter().all(|a| a.state == 0) {
        return Err(format!("no exchange answered before the outage: {start:?}"));
    }
    sim.fault(Fault::LoseExchangeAnswers(OUTAGE));
    // Every node writes a large key every 5 s: each opens a TCP exchange most rounds,
    // more than its slots, so a slot that is never freed would be felt.
    for step in 0..OUTAGE.as_secs() / 5 {
        sim.run_for(Duration::from_secs(5))
            .map_err(|v| v.to_string())?;
        for i in 0..NODES {
            sim.set(NodeId(i), &format!("busy-{step}"), large(10))
                .map_err(err)?;
        }
        if step == 0 {
            sim.set(NodeId(3), "during", large(2)).map_err(err)?;
        }
    }
    let after = answered(&sim);
    if after != start {
        return Err(format!(
            "answers got through the outage: {start:?} -> {after:?}"
        ));
    }
    for i in 0..NODES {
        let f = sim.footprint(NodeId(i));
        if f.exchanges > 2 + 8 {
            return Err(format!("node-{i} holds {} exchange slots", f.exchanges));
        }
    }
    sim.set(NodeId(5), "after", large(3)).map_err(err)?;
    let bound = resume_bound(&config);
    let took = sim.run_until_state_converged(bound)?;
    for (key, owner, tag) in [("before", 0, 1), ("during", 3, 2), ("after", 5, 3)] {
        for i in 0..NODES {
            if sim.get(NodeId(i), NodeId(owner), key) != Some(large(tag)) {
                return Err(format!("node-{i} lacks {key}"));
            }
        }
    }
    sim.run_for(bound.saturating_sub(took))
        .map_err(|v| v.to_string())?;
    let resumed = answered(&sim);
    for (i, (a, b)) in after.iter().zip(&resumed).enumerate() {
        if b.membership <= a.membership {
            return Err(format!("node-{i} completed no push-pull after the outage"));
        }
    }
    let state_before: u64 = after.iter().map(|a| a.state).sum();
    let state_now: u64 = resumed.iter().map(|a| a.state).sum();
    if state_now <= state_before {
        return Err("no key-value exchange answered after the outage".into());
    }
    println!("outage: state converged {took:?} after it; answers {after:?} -> {resumed:?}");
    Ok(())
}

#[test]
fn exchanges_resume_after_their_answers_are_lost_for_60_s() {
    run_seeded(
        "sim_exchange_outage",
        "exchanges_resume_after_their_answers_are_lost_for_60_s",
        outage,
    );
}
