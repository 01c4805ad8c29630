//! A chat over gossip: lines are broadcast to the cluster, and membership changes show up
//! as they happen. The example runs in one of three modes.
//!
//! # Demo (no arguments)
//!
//! ```text
//! cargo run --release --example chat
//! ```
//!
//! Five nodes in this process, on loopback ports picked by the OS, with
//! [`Config::local`], every packet sealed with a key generated for the run. They join
//! through the first node, each broadcasts one chat line (checked to reach every other
//! node exactly once), a node holding another key tries to join and is refused (the
//! refusal counted), one stops silently and the others
//! detect its failure (the detection times are printed), one leaves gracefully and the
//! others report the leave (never a failure), then a summary of one survivor's view and
//! counters is printed. Every wait is bounded: if a step does not complete within 20 s the demo says
//! what was missing and exits with status 1.
//!
//! # Interactive
//!
//! ```text
//! cargo run --release --example chat -- --name alice --bind 127.0.0.1:7946
//! cargo run --release --example chat -- --name bob --bind 127.0.0.1:7947 --join 127.0.0.1:7946
//! ```
//!
//! Every line read from stdin is broadcast and printed on the other nodes as
//! `<sender>: <line>`; membership events are printed as `* bob joined` and so on.
//! Commands: `/members`, `/stats`, `/help`, `/quit`. `/quit`, end of input, Ctrl-C or
//! SIGTERM leave the cluster gracefully and exit.
//!
//! # Encryption
//!
//! ```text
//! cargo run --release --example chat -- --gen-key > cluster.key
//! cargo run --release --example chat -- --name alice --key-file cluster.key
//! ```
//!
//! `--gen-key` prints a new key; with `--key-file` every datagram and frame is sealed
//! with it and plaintext is refused. `--encryption opening` or `sealing` are the first
//! two steps of turning encryption on in a running plaintext cluster (README, "Security").
//!
//! # Headless (for scripts and benchmarks)
//!
//! ```text
//! cargo run --release --example chat -- --headless --name n1 --bind 127.0.0.1:17946
//! ```
//!
//! Reads no input. Prints one line per membership event on stdout, flushed per line,
//! and nothing else (diagnostics go to stderr; set `RUST_LOG` for the library's logs).
//! On SIGINT or SIGTERM it leaves gracefully and exits with status 0. The line format is
//! stable:
//!
//! ```text
//! <unix_ms> <kind> <member>
//! 1764164254123 join n2
//! ```
//!
//! * `unix_ms`: milliseconds since the Unix epoch when this process printed the line;
//! * `kind`: `join`, `leave`, `fail`, `suspect`, `update` or `conflict` (ignore any other
//!   word: a future version of the library may add kinds);
//! * `member`: the member's name, which is the rest of the line (names may contain spaces;
//!   control characters in a name are written escaped, as `\n`, `\u{1b}`, ...).
//!
//! With `--stats-every SECS` the headless node also prints its counters to stderr every
//! SECS seconds: `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..`
//! (the cluster benchmark, `examples/cluster_bench`, reads them).
//!
//! In both the interactive and the headless mode, a failed `--join` is reported on stderr
//! and the node keeps running alone: it still knows its seeds and retries them on its
//! push-pull schedule. A bind address that cannot be used, or a `--join` address that
//! does not resolve, is an error: the example exits with status 1.

mod cli_node;
mod demo;
mod demo_nodes;
mod demo_outsider;
mod format;
mod headless;
mod interactive;

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
// For the doc links to `Config`.
#[cfg(doc)]
use epidemic::Config;

use crate::cli_node::NodeArgs;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// How long a graceful leave may wait for its announcement to go out.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Chat over gossip (SWIM membership and broadcast with the epidemic crate).
///
/// Three modes:
///
///   demo         no arguments: five nodes in this process on loopback, encrypted, form
///                a cluster, chat, refuse a node with another key, see a node leave and
///                detect a crashed one, then print a summary. Exits 0 on success, 1 if a
///                step does not happen within 20 s.
///
///   interactive  --name NAME [--bind ADDR] [--join ADDR]...: stdin lines are broadcast
///                and other nodes' lines printed as `<sender>: <line>`, with membership
///                events as `* bob joined`. Commands: /members, /stats, /help, /quit.
///                /quit, end of input, Ctrl-C or SIGTERM leave gracefully.
///
///   headless     --headless --name NAME [--bind ADDR] [--join ADDR]...: reads no input;
///                prints one line per membership event on stdout, flushed:
///                `<unix_ms> join|leave|fail|suspect|update|conflict <member>`, and
///                nothing else (a stable format). Leaves gracefully and exits 0 on SIGINT
///                or SIGTERM.
///
///   --gen-key    prints a new key for --key-file, and exits.
///
/// A failed --join is reported and the node keeps running: it retries its seeds.
#[derive(Parser, Debug)]
#[command(verbatim_doc_comment)]
struct Args {
    /// This node's name, unique in the cluster; selects the interactive mode (or the
    /// headless one with --headless). Without it the demo runs.
    #[arg(long)]
    name: Option<String>,

    /// Address to listen on, UDP and TCP (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7946",
        requires = "name"
    )]
    bind: String,

    /// Address of a member to join through; repeat to give several.
    #[arg(long, value_name = "ADDR", requires = "name")]
    join: Vec<String>,

    /// Protocol timing preset; every node of a cluster should use the same.
    #[arg(long, value_enum, default_value_t = Preset::Lan, requires = "name")]
    config: Preset,

    /// Cluster name; nodes only talk to nodes of the same cluster.
    #[arg(long, value_name = "NAME", requires = "name")]
    cluster: Option<String>,

    /// Print membership events in the stable one-line format and read no input.
    #[arg(long, requires = "name")]
    headless: bool,

    /// Seal every datagram and frame with the key in this file (64 hex digits or base64,
    /// as `--gen-key` prints); every node of the cluster needs the same key.
    #[arg(long, value_name = "PATH", requires = "name")]
    key_file: Option<String>,

    /// With --key-file: `required` (sealed only), or a step of turning encryption on in
    /// a running plaintext cluster: `opening` (opens sealed, sends plaintext), then
    /// `sealing` (sends sealed, still takes plaintext).
    #[arg(long, value_enum, default_value_t = Encryption::Required, requires = "key_file")]
    encryption: Encryption,

    /// Print a new random key (base64) for --key-file, and exit.
    #[arg(long, conflicts_with = "name")]
    gen_key: bool,

    /// Headless mode: every SECS seconds print the node's counters to stderr as
    /// `stats <unix_ms> packets_in=.. packets_out=.. bytes_in=.. bytes_out=..`.
    #[arg(long, value_name = "SECS", requires = "headless", value_parser = clap::value_parser!(u64).range(1..))]
    stats_every: Option<u64>,
}

/// A [`Config`] preset.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// Local network: 1 s probes.
    Lan,
    /// Wide-area network: 5 s probes, longer timeouts.
    Wan,
    /// One machine: 200 ms probes.
    Local,
}

/// What a node with a key does with sealed and plaintext packets.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Encryption {
    /// Opens sealed packets, sends plaintext.
    Opening,
    /// Sends sealed, still takes plaintext.
    Sealing,
    /// Sends sealed, refuses plaintext.
    Required,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let outcome = match &args.name {
        None if args.gen_key => gen_key(),
        None => demo::run(),
        Some(name) if args.headless => headless::run(&NodeArgs::new(name, &args)),
        Some(name) => interactive::run(&NodeArgs::new(name, &args)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a new key for `--key-file`.
fn gen_key() -> Result<()> {
    let key = epidemic::Key::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    println!("{}", key.to_base64());
    eprintln!(
        "chat: key {} generated; save it to a file readable only by the nodes' user",
        key.id()
    );
    Ok(())
}
