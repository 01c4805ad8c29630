//! `cargo +nightly fuzz run open`: see `epidemic::bench_support::fuzz::open`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::open(data));
