//! Taking in an update about another member: the precedence rules decide
//! ([`rules::overrides`](crate::protocol::rules::overrides)), then the other actors are
//! told what changed.
//!
//! ```text
//! alive/suspect/dead/left(B, inc) --overrides?--> table updated
//!     --Start/Cancel--> suspicion      --Enqueue (or EnqueueUrgent for a refutation)-->
//!     dissemination    --Event--> dispatcher      live/down --> shared peer view
//! ```

use super::*;

impl Membership {
    /// Applies an update about any member, from `source`; an implausible one is refused
    /// and counted (see `rules.rs`).
    pub(super) fn apply(&mut self, now: Instant, mut update: Update, source: Source) {
        let (claimed_state, claimed) = update.state_and_incarnation();
        let is_self = update.name() == self.table.local();
        // One look-up per update: a push-pull merges every member through here.
        let record = if is_self {
            None
        } else {
            self.table.get(update.name())
        };
        let held = if is_self {
            Some(self.table.local_record().incarnation)
        } else {
            record.as_ref().map(|r| r.incarnation)
        };
        let taken = match held {
            Some(own) if is_self => {
                let since_start = now.saturating_since(Instant::ZERO);
                admitted_about_self(own, claimed, source)
                    .filter(|&t| t == claimed || self.jumps_about_self.take(since_start))
            }
            _ => admitted(held, claimed_state, claimed, source),
        };
        let Some(taken) = taken else {
            Counters::bump(&self.counters.refused_incarnations);
            log::debug!(
                "refused {claimed_state:?} about {} at incarnation {claimed} (held {held:?})",
                update.name()
            );
            return;
        };
        if taken != claimed {
            // Taken at the jump (see `rules.rs`): counted as refused beyond it.
            Counters::bump(&self.counters.refused_incarnations);
            update.set_incarnation(taken);
        }
        if is_self {
            self.about_self(now, update);
            return;
        }
        let name = update.name().clone();
        let Some(held) = record else {
            if let Update::Alive(alive) = update {
                self.admit(now, alive);
            }
            // Suspicion or death of a member we never knew: nothing to act on.
            return;
        };
        let (state, incarnation) = update.state_and_incarnation();
        if let Update::Alive(alive) = &update {
            // Only an address we believe works is kept against another: a suspect's could
            // be a forgery (an `alive` at a wrong address after a forged death), and the
            // member's refutation from its real one must be taken.
            if alive.addr != held.addr && held.state == MemberState::Alive {
                self.conflict(&name, &held, alive.addr);
                return;
            }
        }
        if !overrides(held.state, held.incarnation, state, incarnation) {
            // Not news, but with Lifeguard a suspicion we hold, reported by another member
            // at the same incarnation, is an independent confirmation.
            if let Update::Suspect(suspect) = update {
                if held.state == MemberState::Suspect && held.incarnation == suspect.incarnation {
                    self.on_confirmation(suspect, held.suspicion_token);
                }
            }
            return;
        }
        let mut record = held.clone();
        record.state = state;
        record.incarnation = incarnation;
        record.changed_at = now;
        if let Update::Alive(alive) = &update {
            record.addr = alive.addr;
            record.metadata = alive.metadata.clone();
        }
        if state == MemberState::Suspect {
            self.next_token += 1;
            record.suspicion_token = self.next_token;
        }
        let member = member_of(&name, &record);
        self.table.upsert(name.clone(), record);
        self.snapshot_dirty = true;
        let suspector = match &update {
            Update::Suspect(suspect) => Some(suspect.from.clone()),
            _ => None,
        };
        self.after_change(now, &name, &held, &member, suspector);
        if held.state == MemberState::Suspect && state == MemberState::Alive {
            // Rumor mongering leaves a residue: with 8–12 sends per relay and 10 % loss,
            // about one member in a thousand misses a given rumor, and a member that
            // misses a refutation keeps its suspicion until it declares a live member
            // dead. Relays send refutations twice as often.
            let urgent = DisseminationInput::EnqueueUrgent(update.into_message());
            self.outputs.push_back(Output::from(urgent));
        } else {
            self.gossip(update.into_message());
        }
    }

    /// Tells the other actors about a record change from `held` to `member`; `suspector`
    /// raised the suspicion when `member` is now suspect.
    pub(super) fn after_change(
        &mut self,
        now: Instant,
        name: &NodeName,
        held: &Record,
        member: &Member,
        suspector: Option<NodeName>,
    ) {
        use MemberState::{Alive, Dead, Left, Suspect};
        if member.state == Suspect {
            let from = suspector.unwrap_or_else(|| self.local());
            let bounds = self.suspicion_bounds();
            self.reports.started(
                name.clone(),
                member.incarnation,
                from.clone(),
                bounds.confirmations,
            );
            let start = SuspicionInput::Start {
                name: name.clone(),
                incarnation: member.incarnation,
                token: self.next_token,
                min_timeout: bounds.min,
                max_timeout: bounds.max,
                confirmations: bounds.confirmations,
            };
            self.outputs.push_back(Output::from(start));
        } else if held.state == Suspect {
            self.reports.ended(name);
            let cancel = SuspicionInput::Cancel { name: name.clone() };
            self.outputs.push_back(Output::from(cancel));
        }
        if held.state.is_live() && !member.state.is_live() {
            self.sync.remember_lost(member.addr);
            let until = now + self.config.gossip_to_the_dead;
            self.table
                .peer_view()
                .went_down(name.clone(), member.addr, until);
        } else if !held.state.is_live() && member.state.is_live() {
            self.peer_up(name, member.addr);
        }
        let event = match (held.state, member.state) {
            (Dead | Left, Alive) => Event::Join(member.clone()),
            (_, Alive) => Event::Update(member.clone()),
            (Alive, Suspect) => Event::Suspect(member.clone()),
            (_, Dead) => Event::Fail(member.clone()),
            (_, Left) => Event::Leave(member.clone()),
            (_, Suspect) => return,
        };
        self.emit(event);
    }

    pub(super) fn peer_up(&mut self, name: &NodeName, addr: SocketAddr) {
        self.sync.found(addr);
        if let Some(id) = self.table.id_of(name) {
            self.fd.insert_member(id, &mut self.rng);
        }
        self.table.peer_view().forget_down(name);
    }

    /// A member we did not know is alive: admit it.
    pub(super) fn admit(&mut self, now: Instant, alive: Alive) {
        if self.table.len() >= self.config.max_members && !self.make_room() {
            Counters::bump(&self.counters.refused_members);
            log::debug!("{} members held; {} refused", self.table.len(), alive.name);
            return;
        }
        let record = Record {
            addr: alive.addr,
            incarnation: alive.incarnation,
            state: MemberState::Alive,
            metadata: alive.metadata.clone(),
            changed_at: now,
            suspicion_token: 0,
        };
        let member = member_of(&alive.name, &record);
        self.table.upsert(alive.name.clone(), record);
        self.snapshot_dirty = true;
        self.peer_up(&alive.name, alive.addr);
        self.emit(Event::Join(member));
        self.gossip(Message::Alive(alive));
    }

    /// The same name claimed from another address: keep the first, report once, never flap.
    pub(super) fn conflict(&mut self, name: &NodeName, held: &Record, other_addr: SocketAddr) {
        if self.conflicts_reported.len() >= MAX_CONFLICTS_REPORTED {
            self.conflicts_reported.clear();
        }
        if self.conflicts_reported.insert((name.clone(), other_addr)) {
            log::warn!(
                "name conflict: {name} is at {} but {other_addr} claims it too; keeping {}",
                held.addr,
                held.addr
            );
            let member = member_of(name, held);
            self.emit(Event::Conflict { member, other_addr });
        }
    }
}
