//! Full-state exchange on the membership side: build our state, merge a peer's, and keep
//! join callers informed.

use super::push_pull::{JoinOutcome, Purpose};
use super::{Membership, Update};
use crate::codec::{self, Alive, Frame, Left, MemberRecord, PushPull, Suspect};
use crate::error::ExchangeError;
use crate::error::JoinError;
use crate::member::MemberState;
use crate::protocol::rules::Source;
use crate::protocol::{ConnId, NetOutput, Output, Reply};
use crate::time::Instant;

impl Membership {
    /// Every member we know, ourselves included.
    pub(super) fn full_state(&self, join: bool) -> PushPull {
        let mut members = Vec::with_capacity(self.table.len());
        self.table.for_each(|name, r| {
            members.push(MemberRecord {
                name: name.clone(),
                addr: r.addr,
                incarnation: r.incarnation,
                state: r.state,
                metadata: r.metadata,
            })
        });
        PushPull { join, members }
    }

    /// A peer pushed its state: answer with ours, then merge theirs.
    pub(super) fn on_sync_request(&mut self, now: Instant, conn: ConnId, state: PushPull) {
        let ours = Frame::PushPull(self.full_state(false));
        match codec::encode_frame(&self.header, &ours) {
            Ok(frame) => self
                .outputs
                .push_back(Output::from(NetOutput::Reply { conn, frame })),
            Err(e) => log::warn!("cannot encode our state: {e}"),
        }
        self.merge(now, state, Source::Gossip);
    }

    /// The answer to an exchange we started.
    pub(super) fn on_sync_response(
        &mut self,
        now: Instant,
        exchange: u64,
        result: Result<PushPull, ExchangeError>,
    ) {
        let Some(purpose) = self.sync.finish(exchange) else {
            return;
        };
        let summary = result.as_ref().map(|_| ()).map_err(|e| *e);
        if let Ok(state) = result {
            // We opened this exchange, to an address we chose: see rules.rs.
            self.merge(now, state, Source::Exchange);
        }
        match purpose {
            Purpose::Periodic => {
                if let Err(why) = summary {
                    log::debug!("push-pull failed: {why}");
                }
            }
            Purpose::Join { caller, seed } => {
                let reply = match self.sync.join_result(caller, seed, summary) {
                    JoinOutcome::Joined => Reply::Joined(Ok(1)),
                    JoinOutcome::Failed(failures) => {
                        Reply::Joined(Err(JoinError::AllFailed(failures)))
                    }
                    JoinOutcome::Pending => return,
                };
                self.outputs.push_back(Output::reply(caller, reply));
            }
        }
    }

    /// Applies a peer's full state through the ordinary precedence rules. A remote `dead`
    /// is taken as `suspect` (as memberlist does), so the member gets a chance to refute
    /// before we declare it dead ourselves.
    fn merge(&mut self, now: Instant, state: PushPull, source: Source) {
        let from = self.local();
        for record in state.members {
            let update = match record.state {
                MemberState::Alive => Update::Alive(Alive {
                    name: record.name,
                    incarnation: record.incarnation,
                    addr: record.addr,
                    metadata: record.metadata,
                }),
                MemberState::Suspect | MemberState::Dead => Update::Suspect(Suspect {
                    name: record.name,
                    incarnation: record.incarnation,
                    from: from.clone(),
                }),
                MemberState::Left => Update::Left(Left {
                    name: record.name,
                    incarnation: record.incarnation,
                }),
            };
            self.apply(now, update, source);
        }
    }
}
