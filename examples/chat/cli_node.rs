//! What the interactive and the headless mode share: a node's settings from the command
//! line, joining its seeds, leaving, and the termination signal.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crossbeam_channel::Receiver;
use epidemic::{Config, EncryptionMode, Key, Keyring, Node, NodeBuilder};

use crate::{Args, Encryption, LEAVE_TIMEOUT, Preset, Result};

/// The settings of a single node run from the command line.
pub(crate) struct NodeArgs {
    pub(crate) name: String,
    pub(crate) bind: String,
    join: Vec<String>,
    pub(crate) config: Config,
    pub(crate) stats_every: Option<Duration>,
    key_file: Option<String>,
    encryption: Encryption,
}

impl NodeArgs {
    pub(crate) fn new(name: &str, args: &Args) -> NodeArgs {
        let mut config = match args.config {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        };
        if let Some(cluster) = &args.cluster {
            config.cluster.clone_from(cluster);
        }
        NodeArgs {
            name: name.to_owned(),
            bind: args.bind.clone(),
            join: args.join.clone(),
            config,
            stats_every: args.stats_every.map(Duration::from_secs),
            key_file: args.key_file.clone(),
            encryption: args.encryption,
        }
    }

    /// A builder with the node's name, address, settings and, with `--key-file`, its
    /// key and encryption mode; a key file that cannot be read is an error.
    pub(crate) fn builder(&self) -> Result<NodeBuilder> {
        let builder = Node::builder(&self.name)
            .bind(&self.bind)
            .config(self.config.clone());
        let Some(path) = &self.key_file else {
            return Ok(builder);
        };
        let key = Key::from_file(path).map_err(|e| format!("cannot use --key-file {path}: {e}"))?;
        let mode = match self.encryption {
            Encryption::Opening => EncryptionMode::Opening,
            Encryption::Sealing => EncryptionMode::Sealing,
            Encryption::Required => EncryptionMode::Required,
        };
        eprintln!("chat: sealing with key {} ({mode:?})", key.id());
        Ok(builder.keyring(Keyring::new(key)).encryption_mode(mode))
    }

    /// The `--join` addresses, resolved; one that does not resolve is an error.
    pub(crate) fn seeds(&self) -> Result<Vec<SocketAddr>> {
        let mut seeds = Vec::new();
        for seed in &self.join {
            let resolved = seed
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve --join {seed}: {e}"))?;
            seeds.extend(resolved);
        }
        Ok(seeds)
    }
}

/// Joins through `seeds`, if any. A failure is reported, not fatal: the node runs alone
/// and keeps retrying its seeds in the background.
pub(crate) fn join_seeds(node: &Node, seeds: &[SocketAddr]) {
    if seeds.is_empty() {
        return;
    }
    match node.join(seeds) {
        Ok(answered) => eprintln!("chat: joined through {answered} of {} seed(s)", seeds.len()),
        Err(e) => eprintln!(
            "chat: could not join yet ({e}); running alone, the node keeps retrying its seeds"
        ),
    }
}

/// Leaves gracefully, reporting on stderr when the announcement was not confirmed sent.
pub(crate) fn leave(node: &Node) {
    if let Err(e) = node.leave(LEAVE_TIMEOUT) {
        eprintln!("chat: left without confirmation: {e}");
    }
}

/// A channel that receives a message on the first SIGINT or SIGTERM; a second one (say,
/// Ctrl-C pressed again while leaving) exits at once.
pub(crate) fn termination_signal() -> Result<Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut signalled = false;
    ctrlc::set_handler(move || {
        if signalled {
            std::process::exit(130);
        }
        signalled = true;
        let _ = tx.try_send(());
    })
    .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    Ok(rx)
}
