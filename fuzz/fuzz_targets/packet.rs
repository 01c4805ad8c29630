//! `cargo +nightly fuzz run packet`: see `epidemic::bench_support::fuzz::packet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::packet(data));
