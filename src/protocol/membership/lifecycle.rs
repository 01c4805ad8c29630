//! A member's life in the cluster as this node drives it: joining through seeds, periodic
//! full-state exchanges (push-pull anti-entropy), leaving, and reaping the departed.

use super::*;
use crate::error::ExchangeError;
use crate::protocol::ExchangeId;

/// How long past `tcp_timeout` an exchange's slot waits for the driver's answer.
const EXCHANGE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Membership {
    /// Forgets dead and departed members after `reap_after`.
    pub(super) fn reap(&mut self, now: Instant) {
        for name in self.table.departed_before(now, self.config.reap_after) {
            self.forget(&name);
        }
    }

    /// A full table makes room for a newcomer by forgetting the member dead or departed
    /// the longest, as reaping would later; false if every member is alive or suspect
    /// (then the newcomer is refused and the members are untouched). Without it, a table
    /// once filled with names that never answer (forged ones, say) would refuse an honest
    /// member coming back until those were reaped, and gossip could keep re-filling it.
    pub(super) fn make_room(&mut self) -> bool {
        let Some(oldest) = self.table.oldest_departed() else {
            return false;
        };
        self.forget(&oldest);
        true
    }

    /// Drops a dead or departed member's record, remembering its address for anti-entropy.
    fn forget(&mut self, name: &NodeName) {
        if let Some(record) = self.table.remove(name) {
            self.sync.remember_lost(record.addr);
            self.snapshot_dirty = true;
            self.table.peer_view().forget_down(name);
        }
    }

    /// Exchanges whose answer never came (lost in a full inbox, say) end as timed out, so
    /// their slot is free and a join caller hears back.
    pub(super) fn expire_exchanges(&mut self, now: Instant) {
        for exchange in self.sync.overdue(now) {
            self.on_sync_response(now, exchange, Err(ExchangeError::Timeout));
        }
    }

    pub(super) fn periodic_sync(&mut self, now: Instant) {
        let interval = if self.table.cluster_size() == 1 {
            // Alone: retry seeds and lost members often, so a healed partition re-merges.
            self.config
                .push_pull_interval
                .min(self.config.probe_interval * 5)
        } else {
            scaled_interval(self.config.push_pull_interval, self.table.cluster_size())
        };
        let live_peer = self
            .table
            .random_live(1, &[], &mut self.rng)
            .first()
            .and_then(|name| self.table.get(name))
            .map(|r| r.addr);
        let table = &self.table;
        let is_live = |addr: &SocketAddr| table.is_live_addr(*addr);
        let target = self
            .sync
            .periodic_target(now, interval, live_peer, is_live, &mut self.rng);
        if let Some(to) = target {
            if to != self.table.local_record().addr {
                self.exchange(now, to, false, Purpose::Periodic);
            }
        }
    }

    pub(super) fn join(
        &mut self,
        now: Instant,
        caller: crate::protocol::RequestId,
        seeds: Vec<SocketAddr>,
    ) {
        let local_addr = self.table.local_record().addr;
        let seeds: Vec<SocketAddr> = seeds.into_iter().filter(|s| *s != local_addr).collect();
        if seeds.is_empty() {
            let reply = Reply::Joined(Err(JoinError::NoSeeds));
            self.outputs.push_back(Output::reply(caller, reply));
            return;
        }
        self.sync.add_seeds(&seeds);
        for seed in seeds {
            self.exchange(now, seed, true, Purpose::Join { caller, seed });
        }
    }

    pub(super) fn leave(&mut self, now: Instant, request: crate::protocol::RequestId) {
        self.leaving = true;
        let record = self.table.local_record_mut();
        record.incarnation = record.incarnation.saturating_add(1).min(MAX_INCARNATION);
        record.state = MemberState::Left;
        record.changed_at = now;
        let update = Message::Left(Left {
            name: self.local(),
            incarnation: self.table.local_record().incarnation,
        });
        self.snapshot_dirty = true;
        let leave = DisseminationInput::Leave { request, update };
        self.outputs.push_back(Output::from(leave));
    }

    /// Opens a full-state exchange with `to`; its slot is freed by `tcp_timeout` and a
    /// second, answered or not.
    pub(super) fn exchange(&mut self, now: Instant, to: SocketAddr, join: bool, purpose: Purpose) {
        let frame = match codec::encode_frame(&self.header, &Frame::PushPull(self.full_state(join)))
        {
            Ok(frame) => frame,
            Err(e) => {
                log::warn!("cannot encode our state for {to}: {e}");
                return;
            }
        };
        let deadline = now + self.config.tcp_timeout + EXCHANGE_GRACE;
        let exchange = NetOutput::Exchange {
            exchange: ExchangeId::Membership(self.sync.start(purpose, deadline)),
            to,
            frame,
            timeout: self.config.tcp_timeout,
        };
        self.outputs.push_back(Output::from(exchange));
    }
}
