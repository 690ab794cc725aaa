//! Analysis time on seeded synthetic datasets of two sizes: trace assembly, critical path,
//! detectors and aggregation (`analyze`), the same without the detectors (their cost is the
//! difference), and the critical path alone.

use chokepoint::analysis::critical_path::{Options, critical_path};
use chokepoint::model::Dataset;
use chokepoint::model::trace::Tree;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn dataset(traces: u64) -> Dataset {
    let dir = std::env::temp_dir().join("chokepoint-bench-analysis");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("traces-{traces}.binpb"));
    let options = chokepoint_synth::Options {
        traces,
        seed: 1,
        ..Default::default()
    };
    chokepoint_synth::write_proto(&options, &mut std::fs::File::create(&path).expect("create"))
        .expect("write");
    chokepoint::ingest::read_inputs(&[path], &Default::default()).expect("reads")
}

fn analysis(c: &mut Criterion) {
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    for traces in [10_000u64, 100_000] {
        let data = dataset(traces);
        group.throughput(Throughput::Elements(data.spans.len() as u64));
        group.bench_function(format!("analyze/{traces}-traces"), |b| {
            b.iter(|| chokepoint::analysis::analyze(&data, &Default::default()))
        });
        let mut without = chokepoint::analysis::Options::default();
        without.detect = None;
        group.bench_function(format!("analyze-without-detectors/{traces}-traces"), |b| {
            b.iter(|| chokepoint::analysis::analyze(&data, &without))
        });
        group.bench_function(format!("critical-path/{traces}-traces"), |b| {
            b.iter(|| {
                let mut segments = 0;
                for trace in data.spans.chunk_by(|a, b| a.trace_id == b.trace_id) {
                    let tree = Tree::build(trace).expect("a trace");
                    segments += critical_path(&tree, &Options::default()).segments.len();
                }
                segments
            })
        });
    }
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
