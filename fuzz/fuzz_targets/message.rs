//! `cargo +nightly fuzz run message`: see `epidemic::bench_support::fuzz::message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::message(data));
