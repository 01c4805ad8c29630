//! `cargo +nightly fuzz run node`: see `epidemic::bench_support::fuzz::node`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::node(data));
