//! `--compare-encryption`: the sequence run plaintext, then sealed, on the same machine in
//! one invocation, and the ratios of what encryption costs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use epidemic::Key;

use crate::{Args, Result, run_once};

/// The summary fields compared, sealed over plaintext.
const COMPARED: [&str; 8] = [
    "idle_cpu_pct",
    "rss_mib",
    "pkts_per_node_s",
    "bytes_per_node_s",
    "join_ms",
    "detect_p50_ms",
    "first_p50_ms",
    "observer_p50_ms",
];

/// A key file in the temporary directory, removed when dropped.
struct TempKey(PathBuf);

impl Drop for TempKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the plaintext pass, then the sealed pass, and prints the ratios.
pub(crate) fn compare(args: &Args, chat: &Path, live: &Arc<Mutex<Vec<u32>>>) -> Result<()> {
    let key = Key::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let path = std::env::temp_dir().join(format!("cluster-bench-{}.key", std::process::id()));
    std::fs::write(&path, key.to_base64())?;
    let key_file = TempKey(path);

    let plain = run_once(args, chat, None, live)?;
    println!();
    let sealed = run_once(args, chat, Some(&key_file.0), live)?;
    let ratios: Vec<String> = COMPARED
        .iter()
        .filter_map(|field| {
            let (p, s) = (plain.number(field)?, sealed.number(field)?);
            let ratio = if p > 0.0 { s / p } else { f64::NAN };
            Some(format!("{}={ratio:.3}", field.trim_end_matches("_pct")))
        })
        .collect();
    println!("\nratio_sealed_plain {}", ratios.join(" "));
    Ok(())
}
