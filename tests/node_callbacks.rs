//! Loopback: user callbacks that panic or block never stop failure detection; callbacks
//! run on their own thread, and the member table does not wait for them.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Cluster, WAIT, wait_until};
use crossbeam_channel::bounded;
use epidemic::MemberState;

/// Node 1 of a 4-node cluster panics in every `on_join`. Node 3 then stops silently; node 1's
/// member table still shows it dead, the panics are counted, and later callbacks still run.
#[test]
fn a_panicking_callback_does_not_stop_failure_detection() {
    let cluster = Cluster::start_with("node-callbacks-panic", "panic", 4, 1300, |i, b| {
        if i == 1 {
            b.on_join(|m| panic!("on_join for {} panics on purpose", m.name()))
        } else {
            b
        }
    });
    let x = cluster.node(1);
    wait_until(
        WAIT,
        || format!("the panicking on_join is counted: {:?}", x.stats()),
        || x.stats().callback_panics >= 1,
    );

    let victim = cluster.name(3);
    cluster.node(3).stop();
    wait_until(
        WAIT,
        || {
            format!(
                "{} sees {victim} dead:\n{}",
                x.name(),
                cluster.describe(&[1])
            )
        },
        || {
            x.member(&victim)
                .is_some_and(|m| m.state == MemberState::Dead)
        },
    );
    // The dispatcher survived the panics: later events still reach the other callbacks.
    wait_until(
        WAIT,
        || {
            format!(
                "{} reports `fail {victim}`: [{}]",
                x.name(),
                x.logs.dump_events()
            )
        },
        || x.logs.saw("fail", &victim),
    );
    assert!(x.stats().callback_panics >= 1);
}

/// Node 1 of a 4-node cluster blocks in its first `on_join` until the test lets go. While
/// it is stuck, node 3 stops silently and node 1's member table still shows it dead; once
/// released, the queued events are delivered and the node shuts down cleanly.
#[test]
fn a_blocking_callback_does_not_stop_failure_detection() {
    let (release_tx, release_rx) = bounded::<()>(0);
    let entered = Arc::new(AtomicUsize::new(0));
    let in_callback = entered.clone();
    let cluster = Cluster::start_with("node-callbacks-block", "block", 4, 1400, |i, b| {
        if i == 1 {
            let release = release_rx.clone();
            let in_callback = in_callback.clone();
            b.on_join(move |_| {
                in_callback.fetch_add(1, Ordering::SeqCst);
                // Blocks until the test drops its sender (then returns at once, every time).
                let _ = release.recv();
            })
        } else {
            b
        }
    });
    // Declared after the cluster, so it is dropped first (releasing the callback) even if
    // an assertion below panics: shutdown then joins the dispatcher instead of detaching it.
    let release = release_tx;
    let x = cluster.node(1);
    wait_until(
        WAIT,
        || "node 1's on_join is entered (and now blocks)".to_string(),
        || entered.load(Ordering::SeqCst) >= 1,
    );

    let victim = cluster.name(3);
    cluster.node(3).stop();
    wait_until(
        WAIT,
        || {
            format!(
                "{} sees {victim} dead:\n{}",
                x.name(),
                cluster.describe(&[1])
            )
        },
        || {
            x.member(&victim)
                .is_some_and(|m| m.state == MemberState::Dead)
        },
    );
    // Still stuck in the first call: nothing got past it.
    assert_eq!(entered.load(Ordering::SeqCst), 1);
    assert!(
        !x.logs.saw("fail", &victim),
        "an event overtook the blocked callback"
    );

    drop(release);
    // The queued events now flow, in order, up to the failure.
    wait_until(
        WAIT,
        || {
            format!(
                "{} reports `fail {victim}` once released: [{}]",
                x.name(),
                x.logs.dump_events()
            )
        },
        || x.logs.saw("fail", &victim),
    );
    assert_eq!(x.stats().callback_panics, 0);
    assert_eq!(x.stats().events_dropped, 0);
}
