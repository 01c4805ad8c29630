//! Push-sum aggregates as the application sees them: publish a value under a name, read
//! every node's estimate of how many publish it, their sum, average, minimum and maximum.

use super::{ACTOR_REPLY_TIMEOUT, NodeHandle};
use crate::aggregate::{AggregateName, Estimate};
use crate::error::AggregateError;
use crate::protocol::{AggregationInput, ComponentInput, Reply, check_value};
use crate::runtime::{Refused, Unanswered};

impl NodeHandle {
    /// Publishes (or changes) this node's value for the aggregate `name`: from then on
    /// every node estimates how many nodes publish `name`, their sum, average, minimum and
    /// maximum (push-sum gossip, restarted every epoch). A value takes effect within the
    /// current epoch's first rounds, else from the next epoch.
    ///
    /// ```no_run
    /// # let node = epidemic::Node::builder("a").start()?;
    /// node.publish("load", 0.42)?;
    /// if let Some(e) = node.estimate("load") {
    ///     println!("{} nodes, average load {:.3}", e.nodes(), e.avg);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(&self, name: &str, value: f64) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        check_value(value)?;
        let runtime = self.runtime().ok_or(AggregateError::Stopped)?;
        let publish = |request| {
            ComponentInput::Aggregation(AggregationInput::Publish {
                request,
                name,
                value,
            })
        };
        match runtime.ask(publish, ACTOR_REPLY_TIMEOUT) {
            Ok(Reply::Published(result)) => result,
            Err(Unanswered::Refused(refused)) => Err(refused_aggregate(&refused)),
            Ok(_) | Err(Unanswered::Late) => Err(AggregateError::Unconfirmed),
        }
    }

    /// Stops publishing `name`. Mass already spread stays in the current epoch; estimates
    /// leave this node out from the next one.
    pub fn unpublish(&self, name: &str) -> Result<(), AggregateError> {
        let name = AggregateName::new(name).ok_or(AggregateError::InvalidName(name.len()))?;
        let runtime = self.runtime().ok_or(AggregateError::Stopped)?;
        let unpublish = AggregationInput::Unpublish { name };
        runtime
            .send(ComponentInput::Aggregation(unpublish))
            .map_err(|refused| refused_aggregate(&refused))
    }

    /// This node's estimate for the aggregate `name`: the current epoch's once it settled,
    /// else the newest settled one of an earlier epoch, else the current unsettled one.
    /// `None` until some publisher's mass reached this node.
    pub fn estimate(&self, name: &str) -> Option<Estimate> {
        let estimates = self.runtime()?.estimates();
        let i = estimates
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()?;
        estimates.get(i).map(|(_, e)| *e)
    }

    /// Every aggregate this node has an estimate for, in name order.
    pub fn estimates(&self) -> Vec<(AggregateName, Estimate)> {
        self.runtime()
            .map_or_else(Vec::new, |r| r.estimates().to_vec())
    }
}

fn refused_aggregate(refused: &Refused) -> AggregateError {
    match refused {
        Refused::Stopped(_) => AggregateError::Stopped,
        Refused::Full(_) => AggregateError::Overloaded,
    }
}
