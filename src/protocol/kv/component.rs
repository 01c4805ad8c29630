//! The component's behaviour: local writes, the periodic round, and the inputs it takes
//! (sending a leg is in `legs.rs`, taking one in `intake.rs`).

use super::summary::{self, Lacks, Told};
use super::{
    Back, Component, DisseminationInput, Header, KvState, Message, Output, Replica, Reply,
    StateConfig, StateDigest, StateError, StateInput, StateMode, StateWant, Store, check_key,
    check_value_len,
};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::codec::StateKey;
use crate::member::NodeName;
use crate::protocol::RequestId;
use crate::protocol::peers::{PeerView, Pick};
use crate::stats::Counters;
use crate::time::Instant;

impl KvState {
    /// This node's empty map under `generation` (which must grow across restarts), with
    /// the node's shared live `peers`; counted in `counters`. It starts idle: no
    /// deadline until it writes a key or hears of state (see the module docs).
    pub(crate) fn new(
        config: StateConfig,
        local: NodeName,
        generation: u64,
        peers: PeerView,
        now: Instant,
        rng: ChaCha8Rng,
        counters: Arc<Counters>,
    ) -> KvState {
        debug_assert!(
            generation >= 1,
            "generation 0 means \"none held\" on the wire"
        );
        let mut replicas = BTreeMap::new();
        replicas.insert(local.clone(), Replica::new(generation));
        KvState {
            header: Header {
                cluster: config.cluster,
                flags: 0,
            },
            store: Store {
                local,
                replicas,
                max_owners: config.max_owners,
                max_entries: config.max_keys.saturating_mul(2),
                max_value_len: config.max_value_len,
            },
            peers,
            in_flight: BTreeMap::new(),
            now,
            last_exchange: 0,
            next_round_at: now + config.interval,
            rng,
            counters,
            outputs: VecDeque::new(),
            active: false,
            started: (now, generation),
            owner_checks: (0, now),
            swept_to: None,
            config,
        }
    }

    /// `owner`'s value for `key`, as this node knows it.
    pub(crate) fn get(&self, owner: &NodeName, key: &str) -> Option<Arc<[u8]>> {
        let key = StateKey::new(key)?;
        self.store.replicas.get(owner)?.get(&key).cloned()
    }

    /// Every key of `owner` with a value, in key order.
    pub(crate) fn owner_state(&self, owner: &NodeName) -> Vec<(StateKey, Arc<[u8]>)> {
        self.store.replicas.get(owner).map_or_else(Vec::new, |r| {
            r.values().map(|(k, v)| (k.clone(), v.clone())).collect()
        })
    }

    /// This node's digest (one entry per owner held, in name order).
    pub(crate) fn digest(&self) -> Vec<StateDigest> {
        self.store.digest()
    }

    /// Adds what the state holds to `f`: owners, entries, exchanges in flight.
    pub(crate) fn add_footprint(&self, f: &mut crate::protocol::Footprint) {
        f.state_owners = self.store.replicas.len();
        f.state_entries = self.store.replicas.values().map(|r| r.len()).sum();
        f.exchanges += self.in_flight.len();
    }

    /// `(entries, tombstones)` held for `owner`.
    #[cfg(test)]
    pub(crate) fn held(&self, owner: &NodeName) -> Option<(usize, usize)> {
        let r = self.store.replicas.get(owner)?;
        Some((r.len(), r.tombstones()))
    }

    /// Whether `owner`'s replica is resyncing after missing collected deletions.
    #[cfg(test)]
    pub(crate) fn resyncing(&self, owner: &NodeName) -> bool {
        self.store
            .replicas
            .get(owner)
            .is_some_and(Replica::resyncing)
    }

    /// Whether this node reconciles on a schedule (it holds or held state).
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Starts the round schedule, if it has not started yet: the first round at a random
    /// point of the next interval. Nodes that start together (a cluster's first key
    /// reaches many at once) would otherwise reconcile in lockstep, every exchange of a
    /// round racing the others with the same news instead of carrying it on.
    ///
    /// And gossips that state is in use: a leg that asks nothing, which wakes every idle
    /// node it reaches (and each of those gossips it on). Without it only nodes that had
    /// heard of state would start exchanges, so a cold cluster's first key spread at
    /// push speed (log₂ N + ln N rounds) whatever the mode; with it every node is
    /// reconciling within a few gossip intervals, and the key spreads at the mode's speed.
    pub(super) fn activate(&mut self, now: Instant) {
        if !self.active {
            self.active = true;
            let interval = self.config.interval.as_micros().max(1) as u64;
            let phase = self.rng.random_range(1..=interval);
            self.next_round_at = now + Duration::from_micros(phase);
            let gossip = DisseminationInput::Enqueue(Message::State(summary::in_use()));
            self.outputs.push_back(Output::from(gossip));
        }
    }

    /// Sets `key` in this node's map; returns the version written.
    pub(crate) fn set(
        &mut self,
        now: Instant,
        key: &str,
        value: Vec<u8>,
    ) -> Result<u64, StateError> {
        let key = check_key(key)?;
        check_value_len(value.len(), self.config.max_value_len)?;
        let max_keys = self.config.max_keys;
        let local = self.store.local.clone();
        let own = self.own();
        if own.get(&key).is_none() && own.live() >= max_keys {
            return Err(StateError::TooManyKeys(max_keys));
        }
        let version = own.max_version + 1;
        own.write(&local, key, version, Some(Arc::from(value)), now, None);
        own.max_version = version;
        self.activate(now);
        Ok(version)
    }

    /// Deletes `key` from this node's map (a tombstone); returns the version written, or
    /// `None` if the key had no value.
    pub(crate) fn delete(&mut self, now: Instant, key: &str) -> Result<Option<u64>, StateError> {
        let key = check_key(key)?;
        let max_keys = self.config.max_keys;
        let local = self.store.local.clone();
        let own = self.own();
        if own.get(&key).is_none() {
            return Ok(None);
        }
        let version = own.max_version + 1;
        own.write(&local, key, version, None, now, None);
        own.max_version = version;
        own.collect_beyond(max_keys);
        self.activate(now);
        Ok(Some(version))
    }

    fn reply(&mut self, request: RequestId, reply: Reply) {
        self.outputs.push_back(Output::reply(request, reply));
    }

    fn own(&mut self) -> &mut Replica {
        let local = self.store.local.clone();
        self.store
            .replicas
            .entry(local)
            .or_insert_with(|| Replica::new(0))
    }

    /// One round: collect old tombstones, then open an exchange with `fanout` peers, each
    /// told our digest by a summary (see `summary.rs`).
    fn round(&mut self) {
        let want = match self.config.mode {
            StateMode::Push => StateWant::Digest,
            StateMode::Pull => StateWant::Deltas,
            StateMode::PushPull => StateWant::DeltasAndDigest,
        };
        let told = Told::Summary {
            owners: Vec::new(),
            recent: true,
            retry: false,
        };
        for to in self.targets() {
            self.send(Back::To(to), want, &told, Lacks::Unknown);
        }
        self.sweep_forgotten();
    }

    /// Drops tombstones older than the grace period, in every replica.
    fn collect(&mut self, now: Instant) {
        let grace = self.config.tombstone_grace;
        for replica in self.store.replicas.values_mut() {
            replica.collect(now, grace);
        }
    }

    /// Up to `fanout` distinct random live peers.
    fn targets(&mut self) -> Vec<SocketAddr> {
        self.peers
            .random_addrs(self.config.fanout, Pick::Live, &mut self.rng)
    }
}

impl Component for KvState {
    type Input = StateInput;

    fn handle(&mut self, now: Instant, input: StateInput) {
        self.now = now;
        match input {
            StateInput::Message { from, sync } => self.on_leg(now, sync, Back::To(from)),
            StateInput::SyncRequest { conn, sync } => self.on_leg(now, sync, Back::Conn(conn)),
            StateInput::SyncResponse { exchange, result } => {
                let Some((to, _)) = self.in_flight.remove(&exchange) else {
                    return;
                };
                match result {
                    Ok(sync) => self.on_leg(now, sync, Back::To(to)),
                    Err(why) => log::debug!("state sync with {to} failed: {why}"),
                }
            }
            StateInput::Set {
                request,
                key,
                value,
            } => {
                let result = self.set(now, &key, value).map(|_| ());
                self.reply(request, Reply::StateWritten(result));
            }
            StateInput::Delete { request, key } => {
                let result = self.delete(now, &key).map(|_| ());
                self.reply(request, Reply::StateWritten(result));
            }
            StateInput::Get {
                request,
                owner,
                key,
            } => {
                let value = self.get(&owner, &key);
                self.reply(request, Reply::StateValue(value));
            }
            StateInput::Read { request, owner } => {
                let map = self.owner_state(&owner);
                self.reply(request, Reply::StateMap(map));
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if !self.active || now < self.next_round_at {
            return;
        }
        self.in_flight.retain(|_, (to, deadline)| {
            let waiting = *deadline > now;
            if !waiting {
                log::debug!("state sync with {to} never answered; its slot is free");
            }
            waiting
        });
        let interval = self.config.interval;
        let behind = now.saturating_since(self.next_round_at).as_micros();
        let steps = behind / interval.as_micros().max(1) + 1;
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        self.next_round_at = self.next_round_at + interval.saturating_mul(steps);
        self.collect(now);
        self.round();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.active.then_some(self.next_round_at)
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}
