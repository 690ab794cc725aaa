//! Ingest throughput per format, in bytes per second, on a seeded synthetic trace set.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::PathBuf;

fn write_inputs() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join("chokepoint-bench-ingest");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let options = chokepoint_synth::Options {
        traces: 20_000,
        seed: 1,
        ..Default::default()
    };
    let json = dir.join("traces.jsonl");
    let proto = dir.join("traces.binpb");
    chokepoint_synth::write_json(&options, &mut std::fs::File::create(&json).expect("create"))
        .expect("write");
    chokepoint_synth::write_proto(
        &options,
        &mut std::fs::File::create(&proto).expect("create"),
    )
    .expect("write");
    (json, proto)
}

fn ingest(c: &mut Criterion) {
    let (json, proto) = write_inputs();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for (name, path) in [("otlp-json", json), ("otlp-proto", proto)] {
        group.throughput(Throughput::Bytes(
            std::fs::metadata(&path).expect("written").len(),
        ));
        group.bench_function(name, |b| {
            b.iter(|| {
                chokepoint::ingest::read_inputs(std::slice::from_ref(&path), &Default::default())
                    .expect("reads")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
