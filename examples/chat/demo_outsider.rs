//! The demo's encryption step: a node holding another key tries to join and is refused;
//! the node it knocked on counts its packets as sealed under a key it does not hold.

use epidemic::{Config, Key, Keyring, Node};

use crate::Result;
use crate::demo::{Demo, ms_since, now};

/// The outsider's name.
const OUTSIDER: &str = "mallory";

impl Demo {
    /// A node with a key of its own tries to join through node 0: refused, and counted.
    pub(crate) fn outsider(&self) -> Result<()> {
        println!("\n== {OUTSIDER}, holding another key, tries to join");
        let started = now();
        let door = &self.nodes[0];
        let refused_before = door.stats().dropped_unknown_key;
        let key = Key::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
        let outsider = Node::builder(OUTSIDER)
            .bind("127.0.0.1:0")
            .config(Config::local())
            .keyring(Keyring::new(key))
            .start()
            .map_err(|e| format!("cannot start {OUTSIDER}: {e}"))?;
        let joined = outsider.join(&[door.local_addr()]);
        outsider.stop();
        match joined {
            Ok(_) => return Err(format!("{OUTSIDER} joined without the cluster's key").into()),
            Err(e) => println!("  {OUTSIDER} could not join: {e}"),
        }
        // The door counts a refusal before it hangs up, so it is counted by now.
        let refused = door.stats().dropped_unknown_key - refused_before;
        if refused == 0 {
            return Err(format!("{} did not count {OUTSIDER}'s packets", self.name(0)).into());
        }
        if let Some(member) = door.member(OUTSIDER) {
            return Err(format!("{} holds {OUTSIDER} as {}", self.name(0), member.state).into());
        }
        println!(
            "  {} refused {refused} of its packets as sealed under an unknown key ({} ms)",
            self.name(0),
            ms_since(started)
        );
        Ok(())
    }
}
