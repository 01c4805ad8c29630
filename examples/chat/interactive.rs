//! The interactive mode: type lines, read other people's lines and membership events.

use std::io::{self, BufRead};
use std::thread;

use crossbeam_channel::{Receiver, select, unbounded};
use epidemic::Node;

use crate::Result;
use crate::cli_node::{NodeArgs, join_seeds, leave, termination_signal};
use crate::format::{describe, member_line, stats_line};

/// Runs a node that chats through stdin and stdout until `/quit`, end of input or a
/// termination signal, then leaves gracefully.
pub(crate) fn run(args: &NodeArgs) -> Result<()> {
    let seeds = args.seeds()?;
    let node = args
        .builder()?
        .on_message(|from, line| println!("{from}: {}", String::from_utf8_lossy(line)))
        .on_event(|event| println!("* {}", describe(event)))
        .start()
        .map_err(|e| format!("cannot start {}: {e}", args.name))?;
    let signal = termination_signal()?;
    println!(
        "{} is listening on {} (cluster {:?}); type a line to send it, /help for commands",
        node.name(),
        node.local_addr(),
        node.config().cluster
    );
    join_seeds(&node, &seeds);
    let lines = stdin_lines()?;
    loop {
        select! {
            recv(lines) -> line => match line {
                Ok(line) if handle_line(&node, &line) == Flow::Quit => break,
                Ok(_) => {}
                Err(_) => break, // end of input
            },
            recv(signal) -> _ => break,
        }
    }
    println!("leaving...");
    leave(&node);
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// Handles one input line: a command, or a chat line to broadcast.
fn handle_line(node: &Node, line: &str) -> Flow {
    match line.trim() {
        "" => {}
        "/quit" => return Flow::Quit,
        "/members" => print_members(node),
        "/stats" => print_stats(node),
        "/help" => {
            println!("/members  members as this node sees them");
            println!("/stats    this node's counters");
            println!("/quit     leave the cluster and exit (so do end of input and Ctrl-C)");
            println!("anything else is sent to every other member");
        }
        other if other.starts_with('/') => println!("unknown command {other}; try /help"),
        _ => {
            if let Err(e) = node.broadcast(line.as_bytes()) {
                eprintln!("not sent: {e}");
            }
        }
    }
    Flow::Continue
}

/// Lines of stdin, read on a thread of their own; the channel closes at end of input.
fn stdin_lines() -> Result<Receiver<String>> {
    let (tx, rx) = unbounded();
    let reader = thread::Builder::new().name("stdin".into());
    reader.spawn(move || {
        for line in io::stdin().lock().lines() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    eprintln!("chat: cannot read stdin: {e}");
                    return;
                }
            };
            if tx.send(line).is_err() {
                return;
            }
        }
    })?;
    Ok(rx)
}

fn print_members(node: &Node) {
    for member in node.members().iter() {
        let you = if member.name == *node.name() {
            "  (you)"
        } else {
            ""
        };
        println!("{}{you}", member_line(member));
    }
}

fn print_stats(node: &Node) {
    println!("{}", stats_line(node));
}
