//! Faults a simulation can inject, scripted at times or drawn from a seed.

use std::net::SocketAddr;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::NodeId;
use super::adversary::Adversary;

/// Something that happens to the cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The node's process dies: it processes nothing more and sends nothing.
    Crash(NodeId),
    /// A crashed (or departed) node's process starts again with the same name and address
    /// and fresh state, and joins through a live node.
    Restart(NodeId),
    /// Like [`Fault::Restart`], at a new address (a container rescheduled elsewhere):
    /// datagrams to the old one are lost from then on. Ignored if another node has the
    /// address.
    RestartAt(NodeId, SocketAddr),
    /// The node processes nothing for the duration, then resumes with its backlog (a GC
    /// pause).
    Pause(NodeId, Duration),
    /// Every datagram reaches the node this much later (zero restores it).
    Slow(NodeId, Duration),
    /// Splits the network: nodes in different groups cannot reach each other; nodes in no
    /// group form one more group.
    Partition(Vec<Vec<NodeId>>),
    /// Ends any partition.
    Heal,
    /// Loss (0..1) of the directed link `from -> to` (asymmetric loss).
    LinkLoss {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// Probability of losing each datagram.
        loss: f64,
    },
    /// The node leaves gracefully.
    Leave(NodeId),
    /// A hostile peer sends forged, well-formed traffic until the attack's duration is
    /// over (see [`Adversary`]).
    Attack(Adversary),
    /// For the duration, the end of every TCP exchange (the peer's answer, a reset, a
    /// timeout) is lost before it reaches the node that opened it, as an answer dropped
    /// in a full inbox: only the node's own deadlines free the exchange's slot.
    LoseExchangeAnswers(Duration),
}

/// A random fault script over `duration` for `nodes` nodes, a pure function of `seed`:
/// crashes (some restarted later), pauses, and a partition that heals, never touching
/// more than a third of the nodes, and all over by 80 % of `duration` so the cluster has
/// time to converge.
pub fn random_faults(seed: u64, nodes: usize, duration: Duration) -> Vec<(Duration, Fault)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids: Vec<NodeId> = (1..nodes).map(NodeId).collect();
    ids.shuffle(&mut rng);
    let budget = (nodes / 3).max(1).min(ids.len());
    let window = duration.mul_f64(0.6);
    let at = |rng: &mut ChaCha8Rng| window.mul_f64(rng.random_range(0.05..1.0));
    let mut script = Vec::new();
    for &id in ids.iter().take(budget) {
        let when = at(&mut rng);
        match rng.random_range(0..4u8) {
            0 => script.push((when, Fault::Crash(id))),
            1 => {
                script.push((when, Fault::Crash(id)));
                let back = when + Duration::from_secs(rng.random_range(1..10));
                script.push((back.min(window), Fault::Restart(id)));
            }
            2 => {
                let pause = Duration::from_millis(rng.random_range(100..3_000));
                script.push((when, Fault::Pause(id, pause)));
            }
            _ => script.push((when, Fault::Leave(id))),
        }
    }
    if rng.random_bool(0.5) && nodes >= 4 {
        let split = ids.len() / 2;
        let group: Vec<NodeId> = ids[..split].to_vec();
        let when = at(&mut rng);
        script.push((when, Fault::Partition(vec![group])));
        let heal = when + Duration::from_secs(rng.random_range(2..20));
        script.push((heal.min(window), Fault::Heal));
    }
    script.sort_by_key(|(when, _)| *when);
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_a_function_of_the_seed_and_end_in_time() {
        let d = Duration::from_secs(60);
        assert_eq!(random_faults(7, 20, d), random_faults(7, 20, d));
        assert_ne!(random_faults(7, 20, d), random_faults(8, 20, d));
        for seed in 0..50 {
            let script = random_faults(seed, 12, d);
            assert!(script.iter().all(|(at, _)| *at <= d.mul_f64(0.6)));
            assert!(script.windows(2).all(|w| w[0].0 <= w[1].0));
            let partitions = script
                .iter()
                .filter(|(_, f)| matches!(f, Fault::Partition(_)));
            let heals = script.iter().filter(|(_, f)| matches!(f, Fault::Heal));
            assert_eq!(partitions.count(), heals.count());
        }
    }
}
