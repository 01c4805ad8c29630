//! Suspicion timers: one deadline per suspected member, shortened by Lifeguard's
//! independent confirmations.
//!
//! ```text
//! membership --Start{B, inc, token, min, max, k}--> suspicion   deadline = now + max
//! membership --Confirm{B, token, c}--> suspicion                 deadline moves earlier
//!            ... deadline passes, no Cancel ...
//! suspicion --SuspicionExpired{B, inc, token}--> membership   (declares B dead
//!                                                              if still suspect at inc/token)
//! ```
//! The expiry echoes the incarnation and token, so a timer that fires after B refuted, or
//! after a newer suspicion replaced it, changes nothing.
//!
//! With `c` confirmations out of the `k` expected, the timeout measured from the start is
//! `max(min, max − (max − min) · ln(c + 1) / ln(k + 1))` (Lifeguard §IV-B): a member that
//! several others suspect on their own is most likely really down, so it is declared dead
//! sooner; one lone suspector (perhaps itself slow) has to wait the longest.
//!
//! This component never reads a clock: every input carries `now`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use super::{Component, MembershipInput, Output, SuspicionInput};
use crate::member::{Incarnation, NodeName};
use crate::time::Instant;

/// The suspicion timer component.
#[derive(Debug, Default)]
pub(crate) struct Suspicion {
    // Only looked up by name, never iterated, so hash order cannot leak into outputs.
    timers: HashMap<NodeName, Timer>,
    deadlines: BTreeSet<(Instant, u64, NodeName)>,
    outputs: VecDeque<Output>,
}

/// One running suspicion.
#[derive(Debug)]
struct Timer {
    incarnation: Incarnation,
    token: u64,
    started: Instant,
    min: Duration,
    max: Duration,
    /// Lifeguard's k.
    expected: u32,
    /// Independent confirmations counted (by membership), at most `expected`.
    confirmed: u32,
    deadline: Instant,
}

impl Timer {
    /// Lifeguard's timeout for the confirmations counted so far, from the start.
    fn timeout(&self) -> Duration {
        if self.expected == 0 || self.max <= self.min {
            return self.max.max(self.min);
        }
        let c = f64::from(self.confirmed);
        let k = f64::from(self.expected);
        let fraction = ((c + 1.0).ln() / (k + 1.0).ln()).clamp(0.0, 1.0);
        let shrink = (self.max - self.min).mul_f64(fraction);
        self.max.saturating_sub(shrink).max(self.min)
    }
}

impl Suspicion {
    /// No timers.
    pub(crate) fn new() -> Suspicion {
        Suspicion::default()
    }

    /// Timers running.
    #[cfg(any(test, feature = "unstable-internals"))]
    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    fn cancel(&mut self, name: &NodeName) {
        if let Some(timer) = self.timers.remove(name) {
            self.deadlines
                .remove(&(timer.deadline, timer.token, name.clone()));
        }
    }

    /// Takes a higher count of confirmations for the running suspicion, and moves the
    /// deadline. A deadline that moves into the past fires at the next `handle_timeout`.
    fn confirm(&mut self, name: NodeName, token: u64, confirmations: u32) {
        let Some(timer) = self.timers.get_mut(&name) else {
            return;
        };
        let confirmations = confirmations.min(timer.expected);
        if timer.token != token || confirmations <= timer.confirmed {
            return;
        }
        timer.confirmed = confirmations;
        let deadline = timer.started + timer.timeout();
        if deadline < timer.deadline {
            self.deadlines
                .remove(&(timer.deadline, timer.token, name.clone()));
            self.deadlines.insert((deadline, timer.token, name));
            timer.deadline = deadline;
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
                min_timeout,
                max_timeout,
                confirmations,
            } => {
                self.cancel(&name);
                let mut timer = Timer {
                    incarnation,
                    token,
                    started: now,
                    min: min_timeout,
                    max: max_timeout,
                    expected: confirmations,
                    confirmed: 0,
                    deadline: now,
                };
                timer.deadline = now + timer.timeout();
                self.deadlines.insert((timer.deadline, token, name.clone()));
                self.timers.insert(name, timer);
            }
            SuspicionInput::Confirm {
                name,
                token,
                confirmations,
            } => self.confirm(name, token, confirmations),
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
                    .push_back(Output::from(MembershipInput::SuspicionExpired {
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
    use crate::protocol::ComponentInput;

    fn name(s: &str) -> NodeName {
        NodeName::new(s).unwrap()
    }

    fn ms(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// Starts a suspicion of `b` at incarnation 1, raised by `a`.
    fn start(s: &mut Suspicion, now: Instant, token: u64, min: u64, max: u64, k: u32) {
        s.handle(
            now,
            SuspicionInput::Start {
                name: name("b"),
                incarnation: 1,
                token,
                min_timeout: Duration::from_millis(min),
                max_timeout: Duration::from_millis(max),
                confirmations: k,
            },
        );
    }

    fn confirm(s: &mut Suspicion, now: Instant, token: u64, confirmations: u32) {
        s.handle(
            now,
            SuspicionInput::Confirm {
                name: name("b"),
                token,
                confirmations,
            },
        );
    }

    fn expired_token(s: &mut Suspicion) -> Option<u64> {
        match s.poll_output() {
            Some(Output::To(ComponentInput::Membership(MembershipInput::SuspicionExpired {
                token,
                ..
            }))) => Some(token),
            None => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn deadline_micros(s: &Suspicion) -> u64 {
        s.poll_timeout().unwrap().as_micros()
    }

    #[test]
    fn fires_once_at_deadline_with_token() {
        let mut s = Suspicion::new();
        start(&mut s, Instant::ZERO, 9, 10, 10, 0);
        assert_eq!(s.poll_timeout(), Some(ms(10)));
        s.handle_timeout(Instant::from_micros(9_999));
        assert!(s.poll_output().is_none());
        s.handle_timeout(ms(10));
        assert_eq!(expired_token(&mut s), Some(9));
        s.handle_timeout(ms(20));
        assert!(s.poll_output().is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn cancel_and_restart_replace_the_timer() {
        let mut s = Suspicion::new();
        start(&mut s, Instant::ZERO, 1, 10, 10, 0);
        start(&mut s, Instant::ZERO, 2, 30, 30, 0);
        s.handle_timeout(ms(15));
        assert!(s.poll_output().is_none());
        s.handle(ms(16), SuspicionInput::Cancel { name: name("b") });
        s.handle_timeout(ms(40));
        assert!(s.poll_output().is_none());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn confirmations_shrink_the_deadline_toward_min_and_never_below() {
        let mut s = Suspicion::new();
        // min 10 ms, max 60 ms, k = 3, started at t = 1 s.
        start(&mut s, ms(1000), 4, 10, 60, 3);
        assert_eq!(s.poll_timeout(), Some(ms(1060)), "no confirmation: max");
        // Each expected value is max − (max − min)·ln(c + 1)/ln(k + 1), from the start.
        let expect = |c: f64| 1_000_000.0 + 60_000.0 - 50_000.0 * (c + 1.0).ln() / 4f64.ln();
        let close = |got: u64, want: f64| (got as f64 - want).abs() <= 1.0;
        confirm(&mut s, ms(1005), 4, 1);
        assert_eq!(deadline_micros(&s), 1_035_000);
        // The same count again, a lower one, another suspicion's token: no change.
        confirm(&mut s, ms(1006), 4, 1);
        confirm(&mut s, ms(1006), 4, 0);
        confirm(&mut s, ms(1006), 5, 2);
        confirm(&mut s, ms(1006), 3, 2);
        assert_eq!(deadline_micros(&s), 1_035_000);
        confirm(&mut s, ms(1007), 4, 2);
        assert!(close(deadline_micros(&s), expect(2.0)));
        confirm(&mut s, ms(1008), 4, 3);
        assert_eq!(s.poll_timeout(), Some(ms(1010)), "k confirmations: min");
        // Beyond k, nothing more is counted and the timeout never drops below min.
        confirm(&mut s, ms(1009), 4, 9);
        assert_eq!(s.poll_timeout(), Some(ms(1010)));
        assert_eq!(s.timers.get(&name("b")).unwrap().confirmed, 3);
        s.handle_timeout(ms(1010));
        assert_eq!(expired_token(&mut s), Some(4));
        assert!(s.poll_output().is_none());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_deadline_moved_into_the_past_fires_once_with_its_token() {
        let mut s = Suspicion::new();
        start(&mut s, Instant::ZERO, 7, 10, 60, 1);
        // At 30 ms one confirmation brings the timeout to min (10 ms): already due.
        confirm(&mut s, ms(30), 7, 1);
        assert_eq!(s.poll_timeout(), Some(ms(10)));
        s.handle_timeout(ms(30));
        assert_eq!(expired_token(&mut s), Some(7));
        assert!(s.poll_output().is_none());
        // The old deadline at 60 ms is gone too.
        s.handle_timeout(ms(60));
        assert!(s.poll_output().is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn without_lifeguard_confirmations_change_nothing() {
        let mut s = Suspicion::new();
        start(&mut s, ms(5), 1, 40, 40, 0);
        for count in 1..=3 {
            confirm(&mut s, ms(6), 1, count);
        }
        assert_eq!(s.poll_timeout(), Some(ms(45)));
        // A confirmation for a member with no timer is ignored.
        s.handle(
            ms(7),
            SuspicionInput::Confirm {
                name: name("z"),
                token: 1,
                confirmations: 1,
            },
        );
        assert_eq!(s.len(), 1);
    }
}
