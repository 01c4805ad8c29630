//! `cargo +nightly fuzz run tcp_reader`: see `epidemic::bench_support::fuzz::tcp_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| epidemic::bench_support::fuzz::tcp_reader(data));
