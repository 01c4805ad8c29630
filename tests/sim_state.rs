//! The replicated key-value state in the simulator: convergence after a 50/50 partition
//! heals, determinism, idle clusters staying idle, late nodes learning existing state in
//! every mode, and restarts. Each test derives its seed from its name; a failure prints
//! the seed and the one command that reruns it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod seeded;

use epidemic::sim::{Fault, NetworkModel, NodeId, Simulation};
use epidemic::{Config, StateMode};
use seeded::run_seeded;

/// Runs `scenario` with the test's seed; on failure, panics with the rerun command.
fn with_seed(test: &str, scenario: impl FnOnce(u64) -> Result<(), String>) {
    run_seeded("sim_state", test, scenario);
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `n` nodes that know each other from the start, with `config`.
fn cluster(n: usize, seed: u64, config: Config) -> Simulation {
    Simulation::builder()
        .nodes(n)
        .seed(seed)
        .config(config)
        .bootstrapped(true)
        .network(NetworkModel::lan())
        .build()
}

/// When each node in `nodes` first reported `owner`'s `key` with a value (simulated time).
fn first_seen(sim: &Simulation, owner: NodeId, key: &str, nodes: &[usize]) -> Vec<Duration> {
    let owner = sim.name(owner).clone();
    nodes
        .iter()
        .filter_map(|&i| {
            sim.state_changes()
                .iter()
                .find(|c| {
                    c.node == NodeId(i) && c.owner == owner && c.key == key && c.value.is_some()
                })
                .map(|c| c.at)
        })
        .collect()
}

/// Splits 10 nodes 50/50, writes on both sides, heals: returns how long after the heal
/// every node held every write, and the run's trace hash.
fn partition_and_heal(seed: u64) -> Result<(Duration, u64), String> {
    let mut sim = cluster(10, seed, Config::lan());
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..5).collect(), (5..10).collect());
    sim.fault(Fault::Partition(vec![
        a.iter().copied().map(NodeId).collect(),
    ]));
    sim.set(NodeId(0), "from-a", b"1".to_vec())
        .map_err(|e| e.to_string())?;
    sim.set(NodeId(9), "from-b", b"2".to_vec())
        .map_err(|e| e.to_string())?;
    sim.run_for(secs(30)).map_err(|v| v.to_string())?;
    for (writer, key, own, other) in [(0, "from-a", &a, &b), (9, "from-b", &b, &a)] {
        if first_seen(&sim, NodeId(writer), key, own).len() != own.len() - 1 {
            return Err(format!("{key} did not spread within its half"));
        }
        if !first_seen(&sim, NodeId(writer), key, other).is_empty() {
            return Err(format!("{key} crossed the partition"));
        }
    }
    sim.fault(Fault::Heal);
    let healed_at = sim.now();
    let took = sim.run_until_state_converged(secs(120))?;
    let everyone: Vec<usize> = (0..10).collect();
    for (writer, key) in [(0, "from-a"), (9, "from-b")] {
        let seen = first_seen(&sim, NodeId(writer), key, &everyone);
        if seen.len() != 9 {
            return Err(format!("{key} reported by {} nodes, not 9", seen.len()));
        }
        for i in 0..10 {
            if sim.get(NodeId(i), NodeId(writer), key).is_none() {
                return Err(format!("node-{i} lacks {key}"));
            }
        }
    }
    let late = first_seen(&sim, NodeId(0), "from-a", &b);
    if late.iter().any(|at| *at < healed_at) {
        return Err("a write crossed before the heal".into());
    }
    Ok((took, sim.trace_hash()))
}

#[test]
fn state_converges_after_a_50_50_partition_heals() {
    with_seed("state_converges_after_a_50_50_partition_heals", |seed| {
        let (took, _) = partition_and_heal(seed)?;
        println!("state converged {took:?} after the heal (seed {seed})");
        Ok(())
    });
}

#[test]
fn state_runs_are_a_pure_function_of_the_seed() {
    with_seed("state_runs_are_a_pure_function_of_the_seed", |seed| {
        let first = partition_and_heal(seed)?;
        let second = partition_and_heal(seed)?;
        if first != second {
            return Err(format!("{first:?} then {second:?}"));
        }
        let other = partition_and_heal(seed + 1)?;
        if other.1 == first.1 {
            return Err("another seed gave the same trace".into());
        }
        Ok(())
    });
}

/// A cluster that never writes has no node reconciling state (no state deadline, so no
/// state traffic); one write later wakes it and spreads.
#[test]
fn an_idle_cluster_never_reconciles_state() {
    with_seed("an_idle_cluster_never_reconciles_state", |seed| {
        let mut sim = cluster(8, seed, Config::lan());
        sim.run_for(secs(60)).map_err(|v| v.to_string())?;
        if let Some(i) = (0..8).find(|&i| sim.state_active(NodeId(i))) {
            return Err(format!("node-{i} is reconciling state it does not have"));
        }
        if let Some(i) = (0..8).find(|&i| sim.state_traffic(NodeId(i)).legs() > 0) {
            return Err(format!("node-{i} sent state legs while idle"));
        }
        sim.set(NodeId(3), "k", b"v".to_vec())
            .map_err(|e| e.to_string())?;
        sim.run_until_state_converged(secs(30))?;
        let writer = sim.state_traffic(NodeId(3));
        if writer.legs() == 0 || writer.bytes() == 0 {
            return Err(format!("the writer's legs went uncounted: {writer:?}"));
        }
        Ok(())
    });
}

/// In each mode, a node added after the state was written (and one restarted) learns it,
/// though it starts idle.
#[test]
fn a_late_node_learns_existing_state_in_every_mode() {
    with_seed("a_late_node_learns_existing_state_in_every_mode", |seed| {
        for mode in [StateMode::Push, StateMode::Pull, StateMode::PushPull] {
            let mut config = Config::lan();
            config.state_mode = mode;
            let mut sim = cluster(6, seed, config);
            sim.set(NodeId(1), "config", b"x".to_vec())
                .map_err(|e| e.to_string())?;
            sim.run_until_state_converged(secs(60))?;
            let late = sim.add_node();
            sim.run_until_converged(secs(30))?;
            sim.run_for(secs(30)).map_err(|v| v.to_string())?;
            if sim.get(late, NodeId(1), "config").as_deref() != Some(&b"x"[..]) {
                return Err(format!("{mode:?}: the late node did not learn the state"));
            }
        }
        Ok(())
    });
}

/// A restarted node (new generation) replaces its old state everywhere, though its new
/// version numbers start again from 1.
#[test]
fn a_restarted_node_s_new_writes_replace_its_old_ones() {
    with_seed(
        "a_restarted_node_s_new_writes_replace_its_old_ones",
        |seed| {
            let mut sim = cluster(6, seed, Config::lan());
            for v in [b"1", b"2", b"3"] {
                sim.set(NodeId(2), "leader", v.to_vec())
                    .map_err(|e| e.to_string())?;
            }
            sim.set(NodeId(2), "old-only", b"x".to_vec())
                .map_err(|e| e.to_string())?;
            sim.run_until_state_converged(secs(60))?;
            sim.fault(Fault::Crash(NodeId(2)));
            sim.run_until_converged(secs(60))?;
            sim.fault(Fault::Restart(NodeId(2)));
            sim.set(NodeId(2), "leader", b"new".to_vec())
                .map_err(|e| e.to_string())?;
            sim.run_until_converged(secs(60))?;
            sim.run_until_state_converged(secs(60))?;
            for i in (0..6).filter(|&i| i != 2) {
                let leader = sim.get(NodeId(i), NodeId(2), "leader");
                let old = sim.get(NodeId(i), NodeId(2), "old-only");
                if leader.as_deref() != Some(&b"new"[..]) || old.is_some() {
                    return Err(format!(
                        "node-{i} holds leader {leader:?}, old-only {old:?}"
                    ));
                }
            }
            Ok(())
        },
    );
}

/// How long until every node other than `owner` holds `owner`'s `key`, from `since`.
fn spread_time(sim: &mut Simulation, owner: NodeId, key: &str, since: Duration) -> Duration {
    let others: Vec<usize> = (0..sim.node_count()).filter(|&i| i != owner.0).collect();
    while first_seen(sim, owner, key, &others).len() < others.len() {
        sim.run_for(Duration::from_millis(50)).unwrap();
        assert!(sim.now() - since < secs(60), "{key} does not spread");
    }
    let seen = first_seen(sim, owner, key, &others);
    seen.into_iter().max().unwrap_or(since) - since
}

/// A cold cluster's first key wakes every node ("state is in use" is gossiped), so it
/// spreads at about the speed of a key in a cluster already reconciling, in every mode;
/// before, only nodes that had heard of state started exchanges (push speed: in pull
/// mode, twice as many rounds as a warm key).
#[test]
fn a_cold_cluster_s_first_key_spreads_at_the_mode_s_speed() {
    with_seed(
        "a_cold_cluster_s_first_key_spreads_at_the_mode_s_speed",
        |seed| {
            for mode in [StateMode::Pull, StateMode::PushPull] {
                let mut config = Config::lan();
                config.state_mode = mode;
                let interval = config.state_interval;
                let mut sim = cluster(200, seed, config);
                sim.run_for(secs(5)).map_err(|v| v.to_string())?;
                let t0 = sim.now();
                sim.set(NodeId(0), "first", b"1".to_vec())
                    .map_err(|e| e.to_string())?;
                let cold = spread_time(&mut sim, NodeId(0), "first", t0);
                if let Some(i) = (0..200).find(|&i| !sim.state_active(NodeId(i))) {
                    return Err(format!("{mode:?}: node-{i} is still idle"));
                }
                sim.run_for(secs(10)).map_err(|v| v.to_string())?;
                let t1 = sim.now();
                sim.set(NodeId(0), "second", b"2".to_vec())
                    .map_err(|e| e.to_string())?;
                let warm = spread_time(&mut sim, NodeId(0), "second", t1);
                println!("{mode:?}, N = 200: cold first key {cold:?}, warm key {warm:?}");
                if cold > warm + interval * 3 {
                    return Err(format!("{mode:?}: cold {cold:?} against warm {warm:?}"));
                }
            }
            Ok(())
        },
    );
}
