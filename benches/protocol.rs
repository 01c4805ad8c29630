//! Protocol-core benches: applying membership updates, and one protocol period of a node
//! that knows 1,000 members (probe, piggyback packing to the MTU, gossip ticks).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use epidemic::bench_support::{NodeCore, alive_updates};

fn apply_updates(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("apply 1,000 alive updates (new members)", |b| {
        b.iter_batched(
            || (NodeCore::new(), alive_updates(1_000, 0)),
            |(mut node, updates)| {
                node.apply(updates);
                black_box(node)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        "apply 1,000 alive updates (known members, newer incarnation)",
        |b| {
            b.iter_batched(
                || {
                    let mut node = NodeCore::new();
                    node.apply(alive_updates(1_000, 0));
                    (node, alive_updates(1_000, 1))
                },
                |(mut node, updates)| {
                    node.apply(updates);
                    black_box(node)
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
}

fn protocol_period(c: &mut Criterion) {
    let mut node = NodeCore::new();
    node.apply(alive_updates(1_000, 0));
    c.bench_function("one protocol period, 1,000 members", |b| {
        b.iter(|| node.protocol_period())
    });
}

criterion_group!(benches, apply_updates, protocol_period);
criterion_main!(benches);
