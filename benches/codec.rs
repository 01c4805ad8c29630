//! Codec benches: encoding and decoding a full 1400-byte compound datagram.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use epidemic::codec::{Alive, Dead, Header, Message, PacketWriter, Ping, Suspect, decode_packet};
use epidemic::member::NodeName;

const MTU: usize = 1400;
const HEADER: Header = Header {
    cluster: 0x00c0_ffee,
    flags: 0,
};

/// A name of 10 to 30 bytes.
fn name(i: usize) -> NodeName {
    let len = 10 + (i * 7) % 21;
    let mut s = format!("node-{i:05}.dc1");
    while s.len() < len {
        s.push('x');
    }
    s.truncate(len);
    NodeName::new(&s).unwrap()
}

/// A realistic compound packet's messages: one ping, then membership updates.
fn messages() -> Vec<Message> {
    let addr: SocketAddr = "10.1.2.3:7946".parse().unwrap();
    let metadata: Arc<[u8]> = Arc::from(&b"zone=eu-west-1a"[..]);
    let mut out = vec![Message::Ping(Ping {
        seq: 12345,
        target: name(1),
        source: name(2),
    })];
    for i in 3..1000 {
        let message = match i % 3 {
            0 => Message::Alive(Alive {
                name: name(i),
                incarnation: i as u64,
                addr,
                metadata: metadata.clone(),
            }),
            1 => Message::Suspect(Suspect {
                name: name(i),
                incarnation: 7,
                from: name(i + 1),
            }),
            _ => Message::Dead(Dead {
                name: name(i),
                incarnation: 9,
                from: name(i + 2),
            }),
        };
        out.push(message);
    }
    out
}

/// Fills a writer to the MTU; returns the datagram.
fn fill(messages: &[Message]) -> Vec<u8> {
    let mut w = PacketWriter::new(&HEADER, MTU);
    for m in messages {
        if !w.push(m) {
            break;
        }
    }
    w.finish()
}

fn codec(c: &mut Criterion) {
    let messages = messages();
    let packet = fill(&messages);
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(packet.len() as u64));
    group.bench_function("encode 1400-byte compound packet", |b| {
        b.iter(|| fill(black_box(&messages)))
    });
    group.bench_function("decode 1400-byte compound packet", |b| {
        b.iter(|| decode_packet(black_box(&packet)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
