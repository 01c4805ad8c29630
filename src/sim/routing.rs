//! Where a simulated node's outputs go, as the runtime's router and reactor would send
//! them: inputs to the node's own components (through the event queue), events and
//! deliveries to the trace and the logs, datagrams through the network model.

use std::net::SocketAddr;

use super::NodeId;
use super::aggregate::Settled;
use super::engine::{Delivered, Simulation};
use super::network::Fate;
use super::node::{Input, Status};
use super::queue::Event;
use super::trace::{EventKind, TraceEvent};
use crate::member::NodeName;
use crate::protocol::{Delivery, DisseminationInput, NetOutput, Output, Reply};
use crate::stats::Counters;

impl Simulation {
    pub(super) fn route(&mut self, node: usize, output: Output) {
        match output {
            Output::Membership(i) => self.input(node, Input::Membership(i)),
            Output::Suspicion(i) => self.input(node, Input::Suspicion(i)),
            Output::Dissemination(i) => {
                if let DisseminationInput::Send { messages, .. } = &i {
                    self.count_state_datagram(node, messages);
                }
                self.input(node, Input::Dissemination(i));
            }
            Output::Net(net) => self.net(node, net),
            Output::Deliver(Delivery::StateChange(change)) => self.state_changed(node, change),
            Output::Deliver(Delivery::Event(event)) => {
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
            Output::Deliver(Delivery::Estimate { name, estimate }) => {
                self.settled.push(Settled {
                    at: self.now(),
                    node: NodeId(node),
                    name,
                    estimate,
                });
            }
            Output::Deliver(Delivery::Message { origin, payload }) => {
                self.deliveries.push(Delivered {
                    at: self.now(),
                    node: NodeId(node),
                    origin,
                    payload,
                });
            }
            Output::Reply(id, reply) => {
                if matches!(reply, Reply::LeaveSent) && self.nodes[node].leaving {
                    self.nodes[node].status = Status::Down;
                }
                self.replies.insert(id, reply);
            }
        }
    }

    fn faulted(&self, name: &NodeName) -> bool {
        self.nodes
            .iter()
            .find(|n| n.name == *name)
            .is_none_or(|n| n.faulted)
    }

    fn net(&mut self, node: usize, net: NetOutput) {
        match net {
            NetOutput::SendTo { to, bytes } => self.send(node, to, bytes),
            NetOutput::Exchange {
                request,
                to,
                frame,
                timeout,
            } => self.start_exchange(node, request, to, frame, timeout),
            NetOutput::Reply { conn, frame } => self.reply(node, conn, frame),
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
        let counters = &self.nodes[node].counters;
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
                    let event = Event::Datagram {
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
