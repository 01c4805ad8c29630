//! `cargo +nightly fuzz run state`: see `epidemic::bench_support::fuzz::state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::state(data));
