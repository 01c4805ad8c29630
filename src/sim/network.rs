//! The simulated network: per-link latency, jitter, loss, duplication, reordering, and
//! partitions, all decided by one seeded RNG.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::NodeId;

/// How packets travel between simulated nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkModel {
    /// One-way base latency.
    pub latency: Duration,
    /// Extra latency drawn uniformly from `0..=jitter` per packet.
    pub jitter: Duration,
    /// Probability (0..1) that a datagram is lost.
    pub loss: f64,
    /// Probability (0..1) that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability (0..1) that a datagram is held back by an extra `4 × latency`, so later
    /// ones overtake it.
    pub reorder: f64,
}

impl NetworkModel {
    /// A LAN: 200 µs ± 100 µs, no loss.
    pub fn lan() -> NetworkModel {
        NetworkModel {
            latency: Duration::from_micros(200),
            jitter: Duration::from_micros(100),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }

    /// The LAN with `loss` (0..1) datagram loss.
    pub fn lossy(loss: f64) -> NetworkModel {
        NetworkModel {
            loss,
            ..NetworkModel::lan()
        }
    }
}

impl Default for NetworkModel {
    fn default() -> NetworkModel {
        NetworkModel::lan()
    }
}

/// What happens to one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Dropped (loss or partition).
    Lost,
    /// Delivered after each of these delays (two for a duplicate).
    Delivered(Vec<Duration>),
}

/// The network's state: the model, partitions, and per-link overrides.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) model: NetworkModel,
    /// Group of each node while a partition is active; nodes in different groups cannot
    /// reach each other.
    groups: Option<Vec<u32>>,
    /// Loss of one direction of a link (asymmetric loss), overriding the model.
    link_loss: BTreeMap<(NodeId, NodeId), f64>,
    rng: ChaCha8Rng,
}

impl Network {
    /// A network following `model`, drawing from `rng`.
    pub(crate) fn new(model: NetworkModel, rng: ChaCha8Rng) -> Network {
        Network {
            model,
            groups: None,
            link_loss: BTreeMap::new(),
            rng,
        }
    }

    /// Splits the nodes into groups; nodes not listed form one more group.
    pub(crate) fn partition(&mut self, nodes: usize, groups: &[Vec<NodeId>]) {
        let rest = groups.len() as u32;
        let mut of = vec![rest; nodes];
        for (g, members) in groups.iter().enumerate() {
            for id in members {
                if let Some(slot) = of.get_mut(id.0) {
                    *slot = g as u32;
                }
            }
        }
        self.groups = Some(of);
    }

    /// Ends every partition.
    pub(crate) fn heal(&mut self) {
        self.groups = None;
    }

    /// Sets the loss of the directed link `from -> to`.
    pub(crate) fn set_link_loss(&mut self, from: NodeId, to: NodeId, loss: f64) {
        self.link_loss.insert((from, to), loss);
    }

    /// Whether `from` can reach `to` at all (partitions only).
    pub(crate) fn connected(&self, from: NodeId, to: NodeId) -> bool {
        match &self.groups {
            Some(of) => of.get(from.0) == of.get(to.0),
            None => true,
        }
    }

    /// One-way delay of a reliable (TCP) message.
    pub(crate) fn stream_delay(&mut self) -> Duration {
        self.delay()
    }

    /// Decides the fate of one datagram.
    pub(crate) fn datagram(&mut self, from: NodeId, to: NodeId) -> Fate {
        if !self.connected(from, to) {
            return Fate::Lost;
        }
        let loss = self
            .link_loss
            .get(&(from, to))
            .copied()
            .unwrap_or(self.model.loss);
        if loss > 0.0 && self.rng.random_bool(loss.clamp(0.0, 1.0)) {
            return Fate::Lost;
        }
        let mut delays = vec![self.delay()];
        if self.model.duplicate > 0.0 && self.rng.random_bool(self.model.duplicate.clamp(0.0, 1.0))
        {
            delays.push(self.delay());
        }
        if self.model.reorder > 0.0 && self.rng.random_bool(self.model.reorder.clamp(0.0, 1.0)) {
            delays[0] += self.model.latency * 4;
        }
        Fate::Delivered(delays)
    }

    fn delay(&mut self) -> Duration {
        let jitter = self.model.jitter.as_micros() as u64;
        let extra = if jitter == 0 {
            0
        } else {
            self.rng.random_range(0..=jitter)
        };
        self.model.latency + Duration::from_micros(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_cut_links_both_ways_until_healed() {
        let mut net = Network::new(NetworkModel::lan(), ChaCha8Rng::seed_from_u64(1));
        net.partition(4, &[vec![NodeId(0), NodeId(1)]]);
        assert!(net.connected(NodeId(0), NodeId(1)));
        assert!(net.connected(NodeId(2), NodeId(3)));
        assert_eq!(net.datagram(NodeId(0), NodeId(2)), Fate::Lost);
        assert_eq!(net.datagram(NodeId(3), NodeId(1)), Fate::Lost);
        net.heal();
        assert!(matches!(
            net.datagram(NodeId(0), NodeId(2)),
            Fate::Delivered(_)
        ));
    }

    #[test]
    fn loss_rate_is_close_to_the_model() {
        let mut net = Network::new(NetworkModel::lossy(0.2), ChaCha8Rng::seed_from_u64(2));
        let lost = (0..10_000)
            .filter(|_| net.datagram(NodeId(0), NodeId(1)) == Fate::Lost)
            .count();
        assert!((1_800..2_200).contains(&lost), "lost {lost}");
        net.set_link_loss(NodeId(1), NodeId(0), 0.0);
        assert!((0..100).all(|_| net.datagram(NodeId(1), NodeId(0)) != Fate::Lost));
    }

    #[test]
    fn delays_stay_within_latency_and_jitter() {
        let mut net = Network::new(NetworkModel::lan(), ChaCha8Rng::seed_from_u64(3));
        for _ in 0..1000 {
            if let Fate::Delivered(d) = net.datagram(NodeId(0), NodeId(1)) {
                assert!(d[0] >= Duration::from_micros(200) && d[0] <= Duration::from_micros(300));
            }
        }
    }
}
