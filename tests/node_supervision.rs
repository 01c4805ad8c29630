//! Supervision on real threads: a panic in any actor or the reactor, or a fatal socket
//! error, stops the whole node. Every one of its threads ends, later calls fail with a
//! typed `Stopped`, `health()` and the failure callback say why, and the rest of the
//! cluster declares it failed (no zombie that answers probes for a dead node).

#![allow(clippy::unwrap_used)]

mod common;

use std::io;
use std::sync::Arc;

use common::{Cluster, WAIT, wait_until};
use epidemic::{BroadcastError, FailureCause, Health, JoinError, MemberState, StateError};
use parking_lot::Mutex;

/// Each way a thread can fail, as `inject_failure` takes it.
const FAULTS: [(&str, Option<io::ErrorKind>); 7] = [
    ("reactor", None),
    ("reactor", Some(io::ErrorKind::PermissionDenied)),
    ("membership", None),
    ("suspicion", None),
    ("dissemination", None),
    ("aggregation", None),
    ("state", None),
];

/// The node's threads still running, by the prefix of their names (Linux keeps the first
/// 15 bytes of a thread's name; `epidemic/sv-1/` fits).
fn threads_of(node: &str) -> usize {
    let prefix = format!("epidemic/{node}/");
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end().starts_with(&prefix))
        .count()
}

#[test]
fn a_failing_thread_stops_its_whole_node_visibly() {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let cluster = Cluster::start_with("node-supervision", "sv", 1 + FAULTS.len(), 700, |i, b| {
        let failures = failures.clone();
        b.on_failure(move |failure| failures.lock().push((i, failure.clone())))
    });
    assert!(cfg!(not(target_os = "linux")) || threads_of("sv-1") == 7);

    for (victim, (thread, io)) in (1..).zip(FAULTS) {
        let name = cluster.name(victim);
        let node = cluster.node(victim);
        assert!(node.health().is_running());
        assert!(
            node.inject_failure(thread, io),
            "{thread} refused the fault"
        );

        wait_until(
            WAIT,
            || format!("{name} ({thread}) stops"),
            || {
                matches!(node.health(), Health::Failed(_))
                    && (cfg!(not(target_os = "linux")) || threads_of(&name) == 0)
            },
        );
        let Health::Failed(failure) = node.health() else {
            unreachable!()
        };
        assert_eq!(failure.thread, thread, "{name}");
        match io {
            Some(kind) => assert_eq!(failure.cause, FailureCause::Io(kind)),
            None => assert!(matches!(failure.cause, FailureCause::Panic(_))),
        }
        let reported: Vec<_> = failures
            .lock()
            .iter()
            .filter(|(i, _)| *i == victim)
            .cloned()
            .collect();
        assert_eq!(
            reported,
            vec![(victim, failure)],
            "{name}: one failure callback"
        );

        // Later calls are refused, typed.
        assert!(matches!(
            node.broadcast(b"x".to_vec()),
            Err(BroadcastError::Stopped(_))
        ));
        let seed = cluster.node(0).local_addr();
        assert!(matches!(node.join(&[seed]), Err(JoinError::Stopped)));
        assert!(matches!(node.get(&name, "k"), Err(StateError::Stopped)));

        // And the cluster sees a failing node, not a zombie that answers its probes.
        let observer = cluster.node(0);
        wait_until(
            WAIT,
            || format!("{name} suspected or failed"),
            || {
                observer
                    .member(&name)
                    .is_some_and(|m| m.state != MemberState::Alive)
            },
        );
    }
    assert!(cluster.node(0).health().is_running());
    assert_eq!(failures.lock().len(), FAULTS.len());
}
