//! The demo's nodes: each is started with callbacks that report every event and chat line
//! it observes to the demo over a channel, as an [`Observation`].

use crossbeam_channel::Sender;
use epidemic::{Config, Event, Key, Keyring, Node};

use crate::format::describe;

/// What a demo node's callbacks report to the main thread.
pub(crate) enum Observation {
    /// `observer` saw a membership event.
    Event { observer: String, event: Event },
    /// `observer` received `line` broadcast by `sender`.
    Line {
        observer: String,
        sender: String,
        line: String,
    },
}

/// Starts a demo node sealing with `key` whose callbacks report to `observations`.
pub(crate) fn start_node(
    name: &str,
    key: &Key,
    observations: &Sender<Observation>,
) -> Result<Node, epidemic::StartError> {
    let events = observations.clone();
    let lines = observations.clone();
    let observer = name.to_owned();
    let receiver = name.to_owned();
    Node::builder(name)
        .bind("127.0.0.1:0")
        .config(Config::local())
        .keyring(Keyring::new(key.clone()))
        .on_event(move |event| {
            let observer = observer.clone();
            // The demo stops listening only when it ends; nothing to do then.
            let _ = events.send(Observation::Event {
                observer,
                event: event.clone(),
            });
        })
        .on_message(move |sender, line| {
            let _ = lines.send(Observation::Line {
                observer: receiver.clone(),
                sender: sender.to_string(),
                line: String::from_utf8_lossy(line).into_owned(),
            });
        })
        .start()
}

/// Prints an observation no step was waiting for.
pub(crate) fn show(observation: &Observation) {
    match observation {
        Observation::Event { observer, event } => {
            println!("  [{observer}] * {}", describe(event));
        }
        Observation::Line {
            observer,
            sender,
            line,
        } => println!("  [{observer}] {sender}: {line}"),
    }
}
