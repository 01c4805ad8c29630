//! Suspicion timers: one deadline per suspected member.
//!
//! ```text
//! membership --Start{B, inc, token, timeout}--> suspicion
//!            ... timeout passes, no Cancel ...
//! suspicion --SuspicionExpired{B, inc, token}--> membership   (declares B dead
//!                                                              if still suspect at inc/token)
//! ```
//! The expiry echoes the incarnation and token, so a timer that fires after B refuted, or
//! after a newer suspicion replaced it, changes nothing.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::{Component, MembershipInput, Output, SuspicionInput};
use crate::member::{Incarnation, NodeName};
use crate::time::Instant;

/// The suspicion timer component.
#[derive(Debug, Default)]
pub(crate) struct Suspicion {
    timers: HashMap<NodeName, Timer>,
    deadlines: BTreeSet<(Instant, u64, NodeName)>,
    outputs: VecDeque<Output>,
}

#[derive(Debug)]
struct Timer {
    incarnation: Incarnation,
    token: u64,
    deadline: Instant,
}

impl Suspicion {
    /// No timers.
    pub(crate) fn new() -> Suspicion {
        Suspicion::default()
    }

    /// Timers running.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    fn cancel(&mut self, name: &NodeName) {
        if let Some(timer) = self.timers.remove(name) {
            self.deadlines
                .remove(&(timer.deadline, timer.token, name.clone()));
        }
    }
}

impl Component for Suspicion {
    type Input = SuspicionInput;

    fn handle(&mut self, now: Instant, input: SuspicionInput) {
        match input {
            SuspicionInput::Start {
                name,
                incarnation,
                token,
                timeout,
            } => {
                self.cancel(&name);
                let deadline = now + timeout;
                self.deadlines.insert((deadline, token, name.clone()));
                self.timers.insert(
                    name,
                    Timer {
                        incarnation,
                        token,
                        deadline,
                    },
                );
            }
            SuspicionInput::Cancel { name } => self.cancel(&name),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(first) = self.deadlines.first() {
            if first.0 > now {
                break;
            }
            let Some((_, _, name)) = self.deadlines.pop_first() else {
                break;
            };
            if let Some(timer) = self.timers.remove(&name) {
                self.outputs
                    .push_back(Output::Membership(MembershipInput::SuspicionExpired {
                        name,
                        incarnation: timer.incarnation,
                        token: timer.token,
                    }));
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    fn start(s: &mut Suspicion, now: u64, name: &str, token: u64, ms: u64) {
        s.handle(
            Instant::from_micros(now),
            SuspicionInput::Start {
                name: NodeName::new(name).unwrap(),
                incarnation: 1,
                token,
                timeout: Duration::from_millis(ms),
            },
        );
    }

    #[test]
    fn fires_once_at_deadline_with_token() {
        let mut s = Suspicion::new();
        start(&mut s, 0, "b", 9, 10);
        assert_eq!(s.poll_timeout(), Some(Instant::from_micros(10_000)));
        s.handle_timeout(Instant::from_micros(9_999));
        assert!(s.poll_output().is_none());
        s.handle_timeout(Instant::from_micros(10_000));
        match s.poll_output() {
            Some(Output::Membership(MembershipInput::SuspicionExpired { token, .. })) => {
                assert_eq!(token, 9)
            }
            other => panic!("unexpected {other:?}"),
        }
        s.handle_timeout(Instant::from_micros(20_000));
        assert!(s.poll_output().is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn cancel_and_restart_replace_the_timer() {
        let mut s = Suspicion::new();
        start(&mut s, 0, "b", 1, 10);
        start(&mut s, 0, "b", 2, 30);
        s.handle_timeout(Instant::from_micros(15_000));
        assert!(s.poll_output().is_none());
        s.handle(
            Instant::from_micros(16_000),
            SuspicionInput::Cancel {
                name: NodeName::new("b").unwrap(),
            },
        );
        s.handle_timeout(Instant::from_micros(40_000));
        assert!(s.poll_output().is_none());
        assert_eq!(s.poll_timeout(), None);
    }
}
