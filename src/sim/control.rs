//! The simulator's TCP exchanges, fault injection, and per-node invariant checks.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rand::RngExt;

use super::NodeId;
use super::engine::{PendingExchange, Simulation};
use super::faults::Fault;
use super::node::{SimNode, Status};
use super::queue::Event;
use crate::error::ExchangeError;
use crate::protocol::{ComponentInput, ConnId, ExchangeId, MembershipInput};
use crate::stats::Counters;
use crate::time::Instant;

/// Exchanges a node's process opened that were answered (a frame came back), by kind:
/// what stops rising when exchanges wedge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answered {
    /// Membership push-pull exchanges (joins included).
    pub membership: u64,
    /// Key-value state exchanges.
    pub state: u64,
}

impl Answered {
    /// Counts the end of `exchange` if it was answered.
    pub(super) fn count(&mut self, exchange: ExchangeId, result: &Result<Vec<u8>, ExchangeError>) {
        match (exchange, result) {
            (ExchangeId::Membership(_), Ok(_)) => self.membership += 1,
            (ExchangeId::State(_), Ok(_)) => self.state += 1,
            (_, Err(_)) => {}
        }
    }
}

/// How long a leaving node waits for its `left` to go out before stopping anyway.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

impl Simulation {
    /// Opens a simulated TCP exchange: the frame reaches the peer after one network delay;
    /// a stopped peer refuses at once, a partitioned one times out.
    pub(super) fn start_exchange(
        &mut self,
        node: usize,
        exchange: ExchangeId,
        to: SocketAddr,
        frame: Vec<u8>,
        timeout: Duration,
    ) {
        self.totals.exchanges += 1;
        self.totals.frame_bytes += frame.len() as u64;
        let generation = self.nodes[node].generation;
        let target = self.by_addr.get(&to).copied();
        let reachable = target.filter(|&t| self.network.connected(NodeId(node), NodeId(t)));
        let Some(target) = reachable else {
            let event = Event::SyncResponse {
                to: node,
                generation,
                exchange,
                result: Err(ExchangeError::Timeout),
            };
            self.queue.push(self.now + timeout, event);
            return;
        };
        let delay = self.network.stream_delay();
        if self.nodes[target].status == Status::Down {
            let event = Event::SyncResponse {
                to: node,
                generation,
                exchange,
                result: Err(ExchangeError::Connect(io::ErrorKind::ConnectionRefused)),
            };
            self.queue.push(self.now + delay * 2, event);
            return;
        }
        // Connected: the request is written, as the runtime counts it.
        Counters::bump(&self.nodes[node].counters().frames_out);
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        let deadline = self.now + timeout;
        self.exchanges.insert(
            conn,
            PendingExchange {
                requester: node,
                generation,
                exchange,
                deadline,
            },
        );
        let event = Event::SyncRequest {
            to: target,
            generation: self.nodes[target].generation,
            conn,
            frame,
        };
        self.queue.push(self.now + delay, event);
        self.queue.push(deadline, Event::SyncTimeout { conn });
    }

    /// The peer answers an exchange: its frame reaches the requester one delay later,
    /// unless that is past the requester's deadline.
    pub(super) fn reply(&mut self, node: usize, conn: ConnId, frame: Vec<u8>) {
        let Some(pending) = self.exchanges.remove(&conn) else {
            return;
        };
        let frame = self.forge_answer(node, frame);
        self.totals.frame_bytes += frame.len() as u64;
        Counters::bump(&self.nodes[node].counters().frames_out);
        let arrives = self.now + self.network.stream_delay();
        let connected = self
            .network
            .connected(NodeId(node), NodeId(pending.requester));
        let (at, result) = if connected && arrives <= pending.deadline {
            (arrives, Ok(frame))
        } else {
            (pending.deadline, Err(ExchangeError::Timeout))
        };
        self.answer(pending, at, result);
    }

    /// The peer closes an exchange without answering (its request was unusable): the
    /// requester learns one delay later, as from a reset connection.
    pub(super) fn close(&mut self, conn: ConnId) {
        if let Some(pending) = self.exchanges.remove(&conn) {
            let at = (self.now + self.network.stream_delay()).min(pending.deadline);
            self.answer(pending, at, Err(ExchangeError::Closed));
        }
    }

    /// An exchange's deadline passed without an answer.
    pub(super) fn exchange_timeout(&mut self, conn: ConnId) {
        if let Some(pending) = self.exchanges.remove(&conn) {
            self.answer(pending, self.now, Err(ExchangeError::Timeout));
        }
    }

    /// Schedules the end of an exchange at its requester.
    fn answer(
        &mut self,
        pending: PendingExchange,
        at: Instant,
        result: Result<Vec<u8>, ExchangeError>,
    ) {
        let event = Event::SyncResponse {
            to: pending.requester,
            generation: pending.generation,
            exchange: pending.exchange,
            result,
        };
        self.queue.push(at, event);
    }

    /// Injects a fault.
    pub(super) fn apply_fault(&mut self, fault: Fault) {
        match fault {
            Fault::Crash(id) => {
                if let Some(n) = self.nodes.get_mut(id.0) {
                    n.status = Status::Down;
                    n.faulted = true;
                }
            }
            Fault::Restart(id) => self.restart(id.0, None),
            Fault::RestartAt(id, addr) => self.restart(id.0, Some(addr)),
            Fault::Pause(id, pause) => {
                let until = self.now + pause;
                if let Some(n) = self.nodes.get_mut(id.0) {
                    if n.status != Status::Down {
                        n.status = Status::Paused(until);
                        n.faulted = true;
                    }
                }
            }
            Fault::Slow(id, delay) => {
                if let Some(n) = self.nodes.get_mut(id.0) {
                    n.slow = delay;
                    n.faulted = true;
                }
                self.invariants.lossless = false;
            }
            Fault::Partition(groups) => {
                self.network.partition(self.nodes.len(), &groups);
                for n in &mut self.nodes {
                    n.faulted = true;
                }
            }
            Fault::Heal => self.network.heal(),
            Fault::LinkLoss { from, to, loss } => {
                self.network.set_link_loss(from, to, loss);
                if loss > 0.0 {
                    self.invariants.lossless = false;
                }
            }
            Fault::Leave(id) => self.leave(id.0),
            Fault::Attack(adversary) => self.start_attack(adversary),
            Fault::LoseExchangeAnswers(duration) => {
                self.answers_lost_until = self.now + duration;
            }
        }
    }

    /// Restarts a stopped node, at `at` if given (and free), else where it was.
    fn restart(&mut self, node: usize, at: Option<SocketAddr>) {
        let Some(old) = self.nodes.get(node) else {
            return;
        };
        if old.status != Status::Down {
            return;
        }
        let (name, old_addr, generation) = (old.name.clone(), old.addr, old.generation + 1);
        let addr = at.unwrap_or(old_addr);
        if addr != old_addr {
            if self.by_addr.contains_key(&addr) {
                return;
            }
            self.by_addr.remove(&old_addr);
            self.by_addr.insert(addr, node);
        }
        let seed = self.rng.random();
        let (names, seal) = (&self.names, old.seal.clone());
        self.nodes[node] = SimNode::new(
            &self.config,
            name,
            addr,
            self.now,
            seed,
            generation,
            names,
            seal,
        );
        if let Some(peer) = self.random_live_node(node) {
            let peer_addr = self.nodes[peer].addr;
            self.queue_join(node, peer_addr, self.now);
        }
        self.drain(node);
    }

    fn leave(&mut self, node: usize) {
        let Some(n) = self.nodes.get(node) else {
            return;
        };
        if n.status == Status::Down || n.leaving {
            return;
        }
        let generation = n.generation;
        let request = self.next_request();
        self.nodes[node].leaving = true;
        self.nodes[node].faulted = true;
        let input = ComponentInput::Membership(MembershipInput::Leave { request });
        let event = Event::Input {
            node,
            generation,
            input,
        };
        self.queue.push(self.now, event);
        let deadline = Event::LeaveDeadline { node, generation };
        self.queue.push(self.now + LEAVE_TIMEOUT, deadline);
    }

    /// Invariants of one node after it handled an input: its own incarnation never falls
    /// within a process lifetime, and its queues stay within their bounds.
    pub(super) fn check_node(&mut self, node: usize) {
        if !self.invariants.enabled {
            return;
        }
        let at = self.now();
        let n = &mut self.nodes[node];
        let incarnation = n.parts().membership.local_incarnation();
        if incarnation < n.incarnation_floor {
            let (name, floor) = (n.name.clone(), n.incarnation_floor);
            self.invariants.fail(at, || {
                format!("{name}'s incarnation fell from {floor} to {incarnation}")
            });
        }
        n.incarnation_floor = incarnation;
        let (members, user) = n.parts().dissemination.queue_lens();
        let (max_members, max_user) = n.parts().dissemination.queue_bounds();
        if members > max_members || user > max_user {
            let name = n.name.clone();
            self.invariants.fail(at, || {
                format!(
                    "{name}'s gossip queues hold {members}/{user}, bounds {max_members}/{max_user}"
                )
            });
        }
    }
}
