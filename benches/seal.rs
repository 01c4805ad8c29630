//! Sealing benches: seal and open of a 1,400-byte datagram and of a 1 MiB frame under
//! each cipher offered. Opening takes a fresh packet each time (sealing it is set-up, not
//! timed), so the replay guard's work is in the figure and no packet is a replay.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use epidemic::seal::{Envelope, PrefixSource, Transport};
use epidemic::{Cipher, Config, Key, Keyring};

const NOW_MS: u64 = 1_800_000_000_000;

/// A plain packet of the cluster "bench", `len` bytes long.
fn plain(len: usize) -> Vec<u8> {
    let mut p = b"EP\x01\x00".to_vec();
    let mut config = Config::lan();
    config.cluster = "bench".into();
    p.extend_from_slice(&config.cluster_id().to_be_bytes());
    p.resize(len, 0x5a);
    p
}

fn envelope() -> Envelope {
    Envelope::new("bench", 60_000, 1 << 16, PrefixSource::Os, true)
}

fn bench_seal(c: &mut Criterion) {
    for (cipher, cipher_name) in [
        (Cipher::Aes256Gcm, "aes-256-gcm"),
        (Cipher::ChaCha20Poly1305, "chacha20-poly1305"),
    ] {
        let ring = Keyring::with_cipher(cipher, Key::generate().unwrap());
        for (len, transport, what) in [
            (1_400, Transport::Datagram, "datagram 1400 B"),
            (1 << 20, Transport::Frame, "frame 1 MiB"),
        ] {
            let packet = plain(len);
            let mut group = c.benchmark_group(format!("seal/{cipher_name}/{what}"));
            group.throughput(Throughput::Bytes(len as u64));
            if len > 1 << 16 {
                group.sample_size(20);
            }
            let mut sender = envelope();
            group.bench_function("seal", |b| {
                b.iter(|| {
                    black_box(sender.seal(&ring, transport, black_box(&packet), NOW_MS)).unwrap()
                })
            });
            let mut receiver = envelope();
            group.bench_function("open", |b| {
                b.iter_batched(
                    || sender.seal(&ring, transport, &packet, NOW_MS).unwrap(),
                    |sealed| {
                        let opened = receiver.open(Some(&ring), transport, &sealed, NOW_MS);
                        black_box(opened.map(|p| p.len())).unwrap()
                    },
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench_seal);
criterion_main!(benches);
