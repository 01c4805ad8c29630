//! A hostile peer in the simulator ([`Fault::Attack`](super::Fault::Attack)): forged,
//! well-formed traffic drawn from the seed, through the victims' real inbound path.
//!
//! ```text
//! every 1/rate s, until the attack ends:
//!   adversary -- forged datagram (1..8 messages of any type), spoofed source --> victim
//!   adversary -- forged push-pull or state frame, as an exchange request ------> victim
//! a member adversary also answers exchanges opened to it with forged frames, half the time
//! ```
//! A victim is an honest running node, drawn anew for each packet. What is forged, and
//! how, is in `forge.rs`. The member adversary keeps running its honest core as well, so
//! it stays a member others probe, gossip with and exchange state with.
//!
//! Forged deaths of honest members are inherent without authentication (anyone who knows
//! the cluster name can say `dead(X)`; X refutes), so an attack turns off the invariant
//! that no healthy member is ever declared dead.

mod forge;

use std::net::SocketAddr;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::forge::{Forger, Scene};
use super::NodeId;
use super::engine::Simulation;
use super::node::Status;
use super::queue::Event;
use crate::protocol::ConnId;
use crate::time::Instant;

/// Who sends the forged traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attacker {
    /// A node of the simulation: it stays a member (its honest core keeps running), forges
    /// traffic besides, and answers half the exchanges opened to it with forged frames.
    Member(NodeId),
    /// A host that is no member, at this address (it knows the cluster name).
    Outsider(SocketAddr),
}

/// A hostile peer (see the module docs): who, how fast, for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct Adversary {
    /// Who attacks.
    pub attacker: Attacker,
    /// Forged packets per simulated second (0 sends none).
    pub rate: u32,
    /// Share (0..1) of those packets that are TCP exchange requests rather than
    /// datagrams.
    pub frames: f64,
    /// How long the attack lasts from when the fault applies; it stops then.
    pub duration: Duration,
}

/// What an adversary sent so far (all attacks of a run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttackTotals {
    /// Forged datagrams delivered to victims.
    pub datagrams: u64,
    /// Forged exchange requests delivered to victims.
    pub frames: u64,
    /// Answers of a member adversary replaced by forged frames.
    pub forged_answers: u64,
}

/// A running attack.
#[derive(Debug)]
pub(super) struct Attack {
    adversary: Adversary,
    forger: Forger,
    until: Instant,
    /// The node a member adversary runs on.
    member: Option<usize>,
}

impl Simulation {
    /// Starts `adversary` now (replacing a running attack).
    pub(super) fn start_attack(&mut self, adversary: Adversary) {
        let rng = ChaCha8Rng::from_rng(&mut self.rng);
        let forger = Forger::new(rng, self.config.cluster_id(), self.config.mtu);
        let member = match adversary.attacker {
            Attacker::Member(id) => (id.0 < self.nodes.len()).then_some(id.0),
            Attacker::Outsider(_) => None,
        };
        if let Some(m) = member {
            self.nodes[m].faulted = true;
        }
        self.invariants.lossless = false;
        let until = self.now + adversary.duration;
        let first = adversary.rate > 0;
        self.attack = Some(Attack {
            adversary,
            forger,
            until,
            member,
        });
        if first {
            self.queue.push(self.now, Event::Attack);
        }
    }

    /// Whether an attack is under way.
    pub fn under_attack(&self) -> bool {
        self.attack.as_ref().is_some_and(|a| self.now < a.until)
    }

    /// What adversaries sent so far.
    pub fn attack_totals(&self) -> AttackTotals {
        self.attack_totals
    }

    /// One forged packet, and the next one scheduled (see the module docs).
    pub(super) fn attack_tick(&mut self) {
        let Some(attack) = &self.attack else { return };
        if self.now >= attack.until {
            return;
        }
        let member = attack.member;
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| Some(i) != member && self.nodes[i].status != Status::Down)
            .collect();
        let rate = attack.adversary.rate.max(1);
        let next = self.now + Duration::from_secs(1) / rate;
        if !honest.is_empty() {
            let Some(attack) = &mut self.attack else {
                return;
            };
            let victim = honest[attack.forger.rng().random_range(0..honest.len())];
            self.forge_packet(victim);
        }
        self.queue.push(next, Event::Attack);
    }

    /// Forges one packet for `victim` and hands it over one latency later.
    fn forge_packet(&mut self, victim: usize) {
        let scene = self.scene(victim);
        let delay = self.network.stream_delay() + self.nodes[victim].slow;
        let generation = self.nodes[victim].generation;
        let Some(attack) = &mut self.attack else {
            return;
        };
        let own = match attack.adversary.attacker {
            Attacker::Member(id) => scene.nodes.get(id.0).map(|n| n.1),
            Attacker::Outsider(addr) => Some(addr),
        };
        let frame = attack
            .forger
            .rng()
            .random_bool(attack.adversary.frames.clamp(0.0, 1.0));
        if frame {
            let bytes = attack.forger.frame(&scene);
            // A connection nobody waits on: the victim's answer goes nowhere.
            self.next_conn += 1;
            let conn = ConnId(self.next_conn);
            let event = Event::SyncRequest {
                to: victim,
                generation,
                conn,
                frame: bytes,
            };
            self.queue.push(self.now + delay, event);
            self.attack_totals.frames += 1;
            return;
        }
        let spoof = attack.forger.rng().random_bool(0.6);
        let from = match own {
            Some(addr) if !spoof => addr,
            _ => attack.forger.addr(&scene),
        };
        let bytes = attack.forger.datagram(&scene);
        let event = Event::Datagram {
            to: victim,
            generation,
            from,
            bytes,
        };
        self.queue.push(self.now + delay, event);
        self.attack_totals.datagrams += 1;
    }

    /// A member adversary's answer to an exchange: half the time, a forged frame instead.
    pub(super) fn forge_answer(&mut self, node: usize, frame: Vec<u8>) -> Vec<u8> {
        let Some(attack) = &self.attack else {
            return frame;
        };
        if attack.member != Some(node) || self.now >= attack.until {
            return frame;
        }
        // The requester is unknown here: forge about the answering node's own view.
        let scene = self.scene(node);
        let Some(attack) = &mut self.attack else {
            return frame;
        };
        if !attack.forger.rng().random_bool(0.5) {
            return frame;
        }
        self.attack_totals.forged_answers += 1;
        attack.forger.frame(&scene)
    }

    /// What the adversary knows when forging for `victim` (see [`Scene`]).
    fn scene(&self, victim: usize) -> Scene {
        let view = &self.nodes[victim].parts();
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let incarnation = view.membership.state_of(&n.name).map_or(0, |(_, i)| i);
                (n.name.clone(), n.addr, incarnation)
            })
            .collect();
        Scene {
            nodes,
            victim,
            digest: view.state.digest(),
        }
    }
}
