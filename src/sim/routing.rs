//! Where what leaves a simulated node goes, as the runtime's reactor and dispatcher would
//! take it: datagrams and exchanges through the network model, events and deliveries to
//! the trace and the logs, replies to the caller.

use std::net::SocketAddr;

use super::NodeId;
use super::aggregate::Settled;
use super::engine::Simulation;
use super::inspect::Delivered;
use super::network::Fate;
use super::node::Status;
use super::queue::Event as Scheduled;
use super::trace::{EventKind, TraceEvent};
use crate::event::Event;
use crate::member::NodeName;
use crate::protocol::{Delivery, Egress, NetOutput, Reply};
use crate::stats::Counters;

impl Simulation {
    /// Where one thing that left `node` goes.
    pub(super) fn route(&mut self, node: usize, egress: Egress) {
        match egress {
            Egress::Net(net) => self.net(node, net),
            Egress::Deliver(Delivery::StateChange(change)) => self.state_changed(node, change),
            Egress::Deliver(Delivery::Event(event)) => self.membership_event(node, event),
            Egress::Deliver(Delivery::Estimate { name, estimate }) => {
                self.settled.push(Settled {
                    at: self.now(),
                    node: NodeId(node),
                    name,
                    estimate,
                });
            }
            Egress::Deliver(Delivery::Message { origin, payload }) => {
                self.deliveries.push(Delivered {
                    at: self.now(),
                    node: NodeId(node),
                    origin,
                    payload,
                });
            }
            Egress::Reply(id, reply) => {
                if matches!(reply, Reply::LeaveSent) && self.nodes[node].leaving {
                    self.nodes[node].status = Status::Down;
                }
                self.replies.insert(id, reply);
            }
        }
    }

    /// Records a membership event in the trace, checking it first: a healthy member
    /// declared dead without loss is a violation.
    fn membership_event(&mut self, node: usize, event: Event) {
        let kind = EventKind::of(&event);
        let member = event.member();
        let trace = TraceEvent {
            at: self.now(),
            observer: NodeId(node),
            member: member.name.clone(),
            incarnation: member.incarnation,
            kind,
        };
        if kind == EventKind::Fail {
            let faulted = self.faulted(&member.name);
            let (at, observer) = (self.now(), self.nodes[node].name.clone());
            let who = member.name.clone();
            self.invariants.on_fail(at, faulted, || {
                format!("healthy {who} declared dead by {observer} without loss")
            });
        }
        self.trace.event(trace);
    }

    fn faulted(&self, name: &NodeName) -> bool {
        self.nodes
            .iter()
            .find(|n| n.name == *name)
            .is_none_or(|n| n.faulted)
    }

    fn net(&mut self, node: usize, net: NetOutput) {
        match net {
            // No queue to jump here: a datagram leaves the moment it is sent.
            NetOutput::SendTo { to, bytes, .. } => self.send(node, to, bytes),
            NetOutput::Exchange {
                exchange,
                to,
                frame,
                timeout,
            } => self.start_exchange(node, exchange, to, frame, timeout),
            NetOutput::Reply { conn, frame } => self.reply(node, conn, frame),
            NetOutput::Close { conn } => self.close(conn),
        }
    }

    fn send(&mut self, node: usize, to: SocketAddr, bytes: Vec<u8>) {
        let (at, mtu, len) = (self.now(), self.config.mtu, bytes.len());
        if len > mtu {
            self.invariants.fail(at, || {
                format!("a {len}-byte datagram exceeds the {mtu}-byte MTU")
            });
        }
        self.trace.mix(&bytes);
        self.totals.datagrams += 1;
        self.totals.bytes += len as u64;
        self.totals.largest_datagram = self.totals.largest_datagram.max(len);
        let counters = self.nodes[node].counters();
        Counters::bump(&counters.packets_out);
        Counters::add(&counters.bytes_out, len);
        let Some(&target) = self.by_addr.get(&to) else {
            self.totals.lost += 1;
            return;
        };
        match self.network.datagram(NodeId(node), NodeId(target)) {
            Fate::Lost => self.totals.lost += 1,
            Fate::Delivered(delays) => {
                let from = self.nodes[node].addr;
                let generation = self.nodes[target].generation;
                let slow = self.nodes[target].slow;
                for delay in delays {
                    let event = Scheduled::Datagram {
                        to: target,
                        generation,
                        from,
                        bytes: bytes.clone(),
                    };
                    self.queue.push(self.now + delay + slow, event);
                }
            }
        }
    }
}
