//! Aggregation in the simulator: publish values, read estimates, and inspect each node's
//! push-sum mass (for conservation checks).

use std::time::Duration;

use super::NodeId;
use super::engine::Simulation;
use super::node::Status;
use crate::aggregate::{AggregateName, Estimate};
use crate::error::AggregateError;
use crate::protocol::{AggregationInput, ComponentInput, Reply, check_value};

/// An estimate that settled at a node (what `on_estimate` receives in the runtime).
#[derive(Clone, Debug)]
pub struct Settled {
    /// When.
    pub at: Duration,
    /// The node.
    pub node: NodeId,
    /// The aggregate.
    pub name: AggregateName,
    /// The estimate (`converged` is false when the epoch ended before it settled).
    pub estimate: Estimate,
}

/// One node's push-sum mass for one aggregate in its current epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mass {
    /// The node's epoch.
    pub epoch: u64,
    /// Rounds it did in the epoch.
    pub round: u32,
    /// Share of the sum of values.
    pub value: f64,
    /// Share of the number of publishers.
    pub ones: f64,
    /// Share of the epoch's unit weight.
    pub weight: f64,
    /// Smallest value heard of.
    pub min: f64,
    /// Largest value heard of.
    pub max: f64,
}

impl Simulation {
    /// Publishes (or changes) `node`'s value for `name`, as `Node::publish`.
    pub fn publish(&mut self, node: NodeId, name: &str, value: f64) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        check_value(value)?;
        let reply = self.command(node, |request| {
            ComponentInput::Aggregation(AggregationInput::Publish {
                request,
                name,
                value,
            })
        });
        match reply {
            Some(Reply::Published(result)) => result,
            _ => Err(AggregateError::Stopped),
        }
    }

    /// Stops publishing `name` at `node` (from its next epoch on).
    pub fn unpublish(&mut self, node: NodeId, name: &str) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        if !self
            .nodes
            .get(node.0)
            .is_some_and(|n| n.status != Status::Down)
        {
            return Err(AggregateError::Stopped);
        }
        let input = ComponentInput::Aggregation(AggregationInput::Unpublish { name });
        self.command(node, |_| input);
        Ok(())
    }

    /// What `node` estimates for `name` (as `Node::estimate`).
    pub fn estimate(&self, node: NodeId, name: &str) -> Option<Estimate> {
        let name = AggregateName::new(name)?;
        self.nodes.get(node.0)?.parts().aggregation.estimate(&name)
    }

    /// Every estimate `node` holds, in name order.
    pub fn estimates(&self, node: NodeId) -> Vec<(AggregateName, Estimate)> {
        self.nodes
            .get(node.0)
            .map(|n| n.parts().aggregation.estimates())
            .unwrap_or_default()
    }

    /// `node`'s push-sum mass for `name` in its current epoch, if it holds any.
    pub fn aggregate_mass(&self, node: NodeId, name: &str) -> Option<Mass> {
        let name = AggregateName::new(name)?;
        let aggregation = &self.nodes.get(node.0)?.parts().aggregation;
        let [value, ones, weight, min, max] = aggregation.mass(&name)?;
        let (epoch, round) = aggregation.epoch_round();
        Some(Mass {
            epoch,
            round,
            value,
            ones,
            weight,
            min,
            max,
        })
    }

    /// `node`'s aggregation epoch and the rounds it did in it.
    pub fn aggregation_epoch(&self, node: NodeId) -> (u64, u32) {
        self.nodes[node.0].parts().aggregation.epoch_round()
    }

    /// Every estimate that settled (or whose epoch ended unsettled) so far.
    pub fn settled_estimates(&self) -> &[Settled] {
        &self.settled
    }
}
