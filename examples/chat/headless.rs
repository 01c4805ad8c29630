//! The headless mode: one stable line per membership event, for scripts.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::select;
use epidemic::{Event, Node};

use crate::Result;
use crate::cli_node::{NodeArgs, join_seeds, leave, termination_signal};
use crate::format::printable;

/// Runs a node that prints events until SIGINT or SIGTERM, then leaves gracefully.
pub(crate) fn run(args: &NodeArgs) -> Result<()> {
    let seeds = args.seeds()?;
    let node = args
        .builder()?
        .on_event(print_event)
        .start()
        .map_err(|e| format!("cannot start {}: {e}", args.name))?;
    let signal = termination_signal()?;
    eprintln!(
        "chat: {} is listening on {}",
        node.name(),
        node.local_addr()
    );
    join_seeds(&node, &seeds);
    // Waits as long as it takes: the node runs until it is told to stop.
    match args.stats_every {
        None => {
            let _ = signal.recv();
        }
        Some(every) => {
            let ticks = crossbeam_channel::tick(every);
            loop {
                select! {
                    recv(ticks) -> _ => print_stats(&node),
                    recv(signal) -> _ => break,
                }
            }
        }
    }
    leave(&node);
    Ok(())
}

/// Writes `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..` to
/// stderr (never stdout, whose format is stable).
fn print_stats(node: &Node) {
    let stats = node.stats();
    eprintln!(
        "stats {} packets_in={} packets_out={} bytes_in={} bytes_out={}",
        unix_ms(),
        stats.packets_in,
        stats.packets_out,
        stats.bytes_in,
        stats.bytes_out
    );
}

/// Writes `<unix_ms> <kind> <member>` and flushes it.
fn print_event(event: &Event) {
    let line = format!(
        "{} {} {}\n",
        unix_ms(),
        event.kind(),
        printable(event.member().name())
    );
    let mut stdout = io::stdout().lock();
    // Nobody reading our output is no reason to stop the node: ignore write errors.
    let _ = stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.flush());
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}
