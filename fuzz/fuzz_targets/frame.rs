//! `cargo +nightly fuzz run frame`: see `epidemic::bench_support::fuzz::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::frame(data));
