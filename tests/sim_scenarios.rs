//! Simulator scenarios at small N. Each test derives its seed from its name; a failure
//! prints the seed and the one command that reruns it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod seeded;

use epidemic::sim::{EventKind, Fault, NetworkModel, NodeId, Simulation, random_faults, test_seed};
use epidemic::{Config, MemberState};
use seeded::run_seeded;

/// Runs `scenario` with the test's seed; on failure, panics with the rerun command.
fn with_seed(test: &str, scenario: impl FnOnce(u64) -> Result<(), String>) {
    run_seeded("sim_scenarios", test, scenario);
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn joined(
    nodes: usize,
    seed: u64,
    config: Config,
    network: NetworkModel,
) -> Result<Simulation, String> {
    let mut sim = Simulation::builder()
        .nodes(nodes)
        .seed(seed)
        .config(config)
        .network(network)
        .build();
    sim.run_until_converged(secs(30))?;
    Ok(sim)
}

/// Observers (other than `member`) that reported `kind` about `member`.
fn reporters(sim: &Simulation, member: NodeId, kind: EventKind) -> Vec<NodeId> {
    let name = sim.name(member).clone();
    let mut who: Vec<NodeId> = sim
        .trace()
        .iter()
        .filter(|e| e.member == name && e.kind == kind)
        .map(|e| e.observer)
        .collect();
    who.sort();
    who.dedup();
    who
}

#[test]
fn crash_is_detected_by_every_node() {
    with_seed("crash_is_detected_by_every_node", |seed| {
        let mut sim = joined(12, seed, Config::lan(), NetworkModel::lan())?;
        sim.fault(Fault::Crash(NodeId(5)));
        sim.run_until_converged(secs(60))?;
        let failed = reporters(&sim, NodeId(5), EventKind::Fail);
        if failed.len() != 11 {
            return Err(format!("{} of 11 reported the failure", failed.len()));
        }
        if !reporters(&sim, NodeId(5), EventKind::Leave).is_empty() {
            return Err("a crash was reported as a leave".into());
        }
        Ok(())
    });
}

#[test]
fn leave_is_reported_as_leave_never_as_failure() {
    with_seed("leave_is_reported_as_leave_never_as_failure", |seed| {
        let mut sim = joined(12, seed, Config::lan(), NetworkModel::lan())?;
        sim.fault(Fault::Leave(NodeId(4)));
        sim.run_until_converged(secs(30))?;
        if reporters(&sim, NodeId(4), EventKind::Leave).len() != 11 {
            return Err("not every node reported the leave".into());
        }
        if !reporters(&sim, NodeId(4), EventKind::Fail).is_empty() {
            return Err("a leave was reported as a failure".into());
        }
        Ok(())
    });
}

#[test]
fn suspicions_under_ten_percent_loss_are_refuted() {
    with_seed("suspicions_under_ten_percent_loss_are_refuted", |seed| {
        let mut sim = joined(16, seed, Config::lan(), NetworkModel::lossy(0.10))?;
        sim.run_for(secs(120)).map_err(|v| v.to_string())?;
        let trace = sim.trace();
        let suspected = trace
            .iter()
            .filter(|e| e.kind == EventKind::Suspect)
            .count();
        let refuted: u64 = (0..16).map(|i| sim.stats(NodeId(i)).refutations).sum();
        let deaths = trace.iter().filter(|e| e.kind == EventKind::Fail).count();
        if suspected == 0 || refuted == 0 {
            return Err(format!(
                "expected false suspicions to refute ({suspected} suspicions, {refuted} refutations)"
            ));
        }
        if deaths != 0 {
            return Err(format!(
                "{deaths} false deaths at 10 % loss with Lifeguard on"
            ));
        }
        sim.run_until_converged(secs(30)).map(|_| ())
    });
}

#[test]
fn a_paused_node_resumes_without_being_declared_dead() {
    with_seed(
        "a_paused_node_resumes_without_being_declared_dead",
        |seed| {
            let mut sim = joined(10, seed, Config::lan(), NetworkModel::lan())?;
            sim.fault(Fault::Pause(NodeId(3), secs(2)));
            sim.run_for(secs(60)).map_err(|v| v.to_string())?;
            let dead = reporters(&sim, NodeId(3), EventKind::Fail);
            if !dead.is_empty() {
                return Err(format!("declared dead by {dead:?}"));
            }
            sim.run_until_converged(secs(10)).map(|_| ())
        },
    );
}

#[test]
fn a_healed_partition_re_merges() {
    with_seed("a_healed_partition_re_merges", |seed| {
        let mut sim = joined(10, seed, Config::lan(), NetworkModel::lan())?;
        let half: Vec<NodeId> = (0..5).map(NodeId).collect();
        sim.fault(Fault::Partition(vec![half]));
        // Long enough that each side declares the other dead and reaps it.
        sim.run_for(secs(120)).map_err(|v| v.to_string())?;
        if sim
            .view(NodeId(0), NodeId(9))
            .is_some_and(|(s, _)| s.is_live())
        {
            return Err("the partition was not detected".into());
        }
        sim.fault(Fault::Heal);
        sim.run_until_converged(secs(120)).map(|_| ())
    });
}

#[test]
fn a_restarted_node_rejoins_with_a_higher_incarnation() {
    with_seed(
        "a_restarted_node_rejoins_with_a_higher_incarnation",
        |seed| {
            let mut sim = joined(8, seed, Config::lan(), NetworkModel::lan())?;
            sim.fault(Fault::Crash(NodeId(2)));
            sim.run_until_converged(secs(60))?;
            let before = sim
                .view(NodeId(0), NodeId(2))
                .map(|(_, inc)| inc)
                .unwrap_or(0);
            sim.fault(Fault::Restart(NodeId(2)));
            sim.run_until_converged(secs(60))?;
            for observer in (0..8).filter(|&i| i != 2) {
                match sim.view(NodeId(observer), NodeId(2)) {
                    Some((MemberState::Alive, inc)) if inc > before => {}
                    other => return Err(format!("node-{observer} holds node-2 as {other:?}")),
                }
            }
            Ok(())
        },
    );
}

/// TCP exchanges (joins, periodic push-pull) show in each node's `Stats` as the runtime
/// counts them: a frame out per request written and reply sent, a frame in per frame
/// read; without faults every frame sent is read.
#[test]
fn exchanges_are_counted_per_node_as_frames() {
    with_seed("exchanges_are_counted_per_node_as_frames", |seed| {
        let sim = joined(8, seed, Config::lan(), NetworkModel::lan())?;
        let stats: Vec<_> = (0..8).map(|i| sim.stats(NodeId(i))).collect();
        let out: u64 = stats.iter().map(|s| s.frames_out).sum();
        let read: u64 = stats.iter().map(|s| s.frames_in).sum();
        // Seven joins through node 0: a request and a reply each, at least.
        if out < 14 || out != read {
            return Err(format!("{out} frames out, {read} in"));
        }
        if stats[0].frames_in < 7 || stats[0].frames_out < 7 {
            return Err(format!("the seed node: {:?}", stats[0]));
        }
        Ok(())
    });
}

#[test]
fn a_run_is_a_pure_function_of_its_seed() {
    let run = |seed| {
        let mut sim = Simulation::builder()
            .nodes(12)
            .seed(seed)
            .network(NetworkModel::lossy(0.05))
            .build();
        for (at, fault) in random_faults(seed, 12, secs(40)) {
            sim.schedule(at, fault);
        }
        sim.run_for(secs(60)).ok();
        (sim.trace_hash(), sim.trace().len())
    };
    let seed = test_seed("a_run_is_a_pure_function_of_its_seed");
    assert_eq!(run(seed), run(seed), "seed {seed}");
    assert_ne!(run(seed).0, run(seed + 1).0);
}

/// Random crashes, restarts, pauses, leaves and partitions over 50 seeds, invariants on:
/// every run must end converged.
#[test]
fn randomised_fault_sweep_over_50_seeds() {
    sweep("randomised_fault_sweep_over_50_seeds", 50);
}

/// The long sweep: `cargo test --release --test sim_scenarios -- --ignored`.
#[test]
#[ignore]
fn randomised_fault_sweep_over_1000_seeds() {
    sweep("randomised_fault_sweep_over_1000_seeds", 1000);
}

fn sweep(test: &str, seeds: u64) {
    let base = test_seed(test);
    for k in 0..seeds {
        let seed = base.wrapping_add(k);
        let result = (|| {
            let mut sim = Simulation::builder().nodes(12).seed(seed).build();
            sim.run_until_converged(secs(30))?;
            for (at, fault) in random_faults(seed, 12, secs(60)) {
                sim.schedule(at, fault);
            }
            sim.run_for(secs(60)).map_err(|v| v.to_string())?;
            sim.run_until_converged(secs(180)).map(|_| ())
        })();
        if let Err(why) = result {
            panic!(
                "{test}: seed {seed} failed: {why}\n\
                 rerun this seed: EPIDEMIC_SEED={seed} cargo test --release --test sim_scenarios {test}"
            );
        }
    }
}
