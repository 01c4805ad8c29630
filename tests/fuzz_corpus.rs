//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) and every kept
//! regression (`fuzz/regressions/<target>/`) through the very entry functions the fuzz
//! targets call, on stable Rust: a decoder or invariant that regresses fails here, without
//! nightly or cargo-fuzz. See `fuzz/README.md`.

use std::fs;
use std::path::Path;

use epidemic::bench_support::fuzz;

/// A fuzz target's entry function.
type Entry = fn(&[u8]);

/// Every target with its entry function, as `fuzz/fuzz_targets/*.rs` call them.
const TARGETS: [(&str, Entry); 8] = [
    ("packet", fuzz::packet),
    ("message", fuzz::message),
    ("frame", fuzz::frame),
    ("state", fuzz::state),
    ("roundtrip", fuzz::roundtrip),
    ("tcp_reader", fuzz::tcp_reader),
    ("node", fuzz::node),
    ("open", fuzz::open),
];

/// Feeds every file under `fuzz/<dir>/<target>/` to the target's entry; returns how many.
fn replay(dir: &str, target: &str, entry: Entry) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(files) = fs::read_dir(&path) else {
        return 0;
    };
    let mut count = 0;
    for file in files {
        let file = file.expect("a corpus entry").path();
        if !file.is_file() {
            continue;
        }
        let data = fs::read(&file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target}: {} panicked", file.display());
        count += 1;
    }
    count
}

#[test]
fn every_corpus_and_regression_replays_cleanly() {
    let mut total = 0;
    for (target, entry) in TARGETS {
        let corpus = replay("corpus", target, entry);
        let regressions = replay("regressions", target, entry);
        assert!(corpus > 0, "no committed corpus for {target}");
        println!("{target}: {corpus} corpus files, {regressions} regressions");
        total += corpus + regressions;
    }
    println!("{total} inputs replayed");
}

#[test]
fn empty_and_tiny_inputs_are_fine_for_every_target() {
    for (_, entry) in TARGETS {
        for data in [&[][..], &[0], &[0xff; 3], &[1; 64]] {
            entry(data);
        }
    }
}
