//! The one generic actor loop: wait for an input or the component's next deadline, feed
//! it, route every output, repeat.
//!
//! ```text
//! loop {
//!     inbox.recv_until(component.poll_timeout())     urgent lane first (probe traffic)
//!         input   -> component.handle(now, input)
//!         timeout -> component.handle_timeout(now)
//!     while let Some(out) = component.poll_output() { router.route(out) }
//! }
//! ```
//! An idle actor sleeps in `recv_until` until its next protocol deadline: no polling.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::RecvTimeoutError;

use super::clock::Clock;
use super::queue::LaneReceiver;
use super::router::Router;
use super::supervisor::Supervisor;
use crate::protocol::Component;

/// What an actor's inbox carries: an input for its component, or the order to stop.
#[derive(Debug)]
pub(crate) enum ActorMsg<I> {
    /// Feed this to the component.
    Input(I),
    /// Return from the loop.
    Stop,
    /// Panic, to test supervision (see `Node::inject_failure`).
    #[cfg(any(test, feature = "unstable-internals"))]
    Panic,
}

impl<I> ActorMsg<I> {
    /// The input of a message that was handed back. Only inputs are offered by
    /// `Inboxes::try_offer` (the one caller), so a refused one is always an input.
    pub(crate) fn into_input(self) -> I {
        match self {
            ActorMsg::Input(input) => input,
            _ => unreachable!("only inputs go through try_offer"),
        }
    }
}

/// Where an actor runs: its thread's name and role, and the node's supervisor.
pub(crate) struct Placement {
    /// The thread's name, `epidemic/<node>/<role>`.
    pub(crate) name: String,
    /// The role, as a [`Failure`](crate::health::Failure) names the thread.
    pub(crate) role: &'static str,
    /// Told of a panic; says when to stop.
    pub(crate) supervisor: Arc<Supervisor>,
}

/// Runs `component` on a new thread until it receives [`ActorMsg::Stop`], its inbox
/// disconnects, or the node is stopping; a panic stops the node (see `supervisor.rs`).
/// `after` runs after each step (e.g. to publish a snapshot).
pub(crate) fn spawn<C, F>(
    at: Placement,
    mut component: C,
    mut inbox: LaneReceiver<ActorMsg<C::Input>>,
    router: Router,
    clock: Clock,
    mut after: F,
) -> io::Result<JoinHandle<()>>
where
    C: Component + Send + 'static,
    C::Input: Send + 'static,
    F: FnMut(&mut C) + Send + 'static,
{
    let Placement {
        name,
        role,
        supervisor,
    } = at;
    thread::Builder::new().name(name).spawn(move || {
        supervisor.guard(role, || {
            after(&mut component);
            loop {
                let deadline = component.poll_timeout().map(|at| clock.deadline(at));
                let received = inbox.recv_until(deadline);
                match received {
                    Ok(ActorMsg::Input(input)) => component.handle(clock.now(), input),
                    Ok(ActorMsg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {}
                    #[cfg(any(test, feature = "unstable-internals"))]
                    Ok(ActorMsg::Panic) => panic!("injected panic"),
                }
                // Deadlines fire even when inputs keep arriving.
                let now = clock.now();
                if component.poll_timeout().is_some_and(|at| at <= now) {
                    component.handle_timeout(now);
                }
                while let Some(output) = component.poll_output() {
                    router.route(output);
                }
                after(&mut component);
                if supervisor.is_stopping() {
                    break;
                }
            }
        });
    })
}
