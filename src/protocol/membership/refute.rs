//! Refutation: gossip that this node is suspect, dead or gone is answered by raising its
//! incarnation (SWIM §4.2), and an accuser is corrected directly, rate-limited.

use super::*;

impl Membership {
    /// Gossip about this node: refute suspicion and death by raising the incarnation.
    pub(super) fn about_self(&mut self, now: Instant, update: Update) {
        let local = self.table.local_record().clone();
        let (state, incarnation) = update.state_and_incarnation();
        match update {
            Update::Alive(alive) if alive.addr != local.addr => {
                let name = self.local();
                self.conflict(&name, &local, alive.addr);
            }
            Update::Alive(_) if incarnation <= local.incarnation => {}
            _ if self.leaving => {}
            Update::Suspect(Suspect { from, .. }) | Update::Dead(Dead { from, .. })
                if incarnation < local.incarnation =>
            {
                self.correct_accuser(now, &from);
            }
            _ if state != MemberState::Alive && incarnation < local.incarnation => {}
            _ => {
                Counters::bump(&self.counters.refutations);
                // Lifeguard: being suspected hints that we are the slow one.
                self.adjust_health(1);
                // At most MAX_INCARNATION (rules.rs): one more never overflows.
                self.bump_incarnation(incarnation.saturating_add(1));
            }
        }
    }

    /// A suspicion or death about this node at an incarnation it already refuted is still
    /// circulating: its accuser missed the refutation (lost, or the rumor died out before
    /// reaching it) and will declare this node dead when its timer runs out, since nothing
    /// else repairs its view before the next push-pull. Send our current `alive` straight
    /// to the accuser, at most once per probe interval each.
    pub(super) fn correct_accuser(&mut self, now: Instant, accuser: &NodeName) {
        if accuser == self.table.local() {
            return;
        }
        let recently = self
            .corrections
            .get(accuser)
            .is_some_and(|at| now.saturating_since(*at) < self.config.probe_interval);
        let Some(addr) = self
            .table
            .get(accuser)
            .filter(|r| r.state.is_live())
            .map(|r| r.addr)
        else {
            return;
        };
        if recently {
            return;
        }
        if self.corrections.len() >= MAX_CORRECTIONS {
            if let Some(oldest) = self
                .corrections
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(name, _)| name.clone())
            {
                self.corrections.remove(&oldest);
            }
        }
        self.corrections.insert(accuser.clone(), now);
        let record = self.table.local_record();
        let alive = Message::Alive(Alive {
            name: self.table.local().clone(),
            incarnation: record.incarnation,
            addr: record.addr,
            metadata: record.metadata.clone(),
        });
        self.send(addr, vec![alive]);
    }

    /// Raises this node's incarnation to `to` and gossips `alive`.
    pub(super) fn bump_incarnation(&mut self, to: Incarnation) {
        let record = self.table.local_record_mut();
        // Never past the ceiling, where nobody would take it in (rules.rs).
        record.incarnation = to
            .max(record.incarnation.saturating_add(1))
            .min(MAX_INCARNATION);
        let alive = Alive {
            name: self.table.local().clone(),
            incarnation: self.table.local_record().incarnation,
            addr: self.table.local_record().addr,
            metadata: self.table.local_record().metadata.clone(),
        };
        self.snapshot_dirty = true;
        self.gossip(Message::Alive(alive));
    }
}
