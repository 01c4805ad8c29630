//! `cargo +nightly fuzz run roundtrip`: see `epidemic::bench_support::fuzz::roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::roundtrip(data));
