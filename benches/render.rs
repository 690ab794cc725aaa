//! Rendering time of each output on the demo's report (read and analyzed once, outside the
//! measurement): report.md, report.html, report.json and the PNG charts.

use chokepoint::report::output::Output;
use criterion::{Criterion, criterion_group, criterion_main};

fn render(c: &mut Criterion) {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&demo)
        .expect("fixtures/demo")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x != "md"))
        .collect();
    let dataset = chokepoint::ingest::read_inputs(&files, &Default::default()).expect("reads");
    let report = chokepoint::analysis::analyze(&dataset, &Default::default());
    let mut group = c.benchmark_group("render-demo");
    group.sample_size(10);
    for output in [Output::Markdown, Output::Html, Output::Json, Output::Charts] {
        let bytes: usize = output
            .render(&report)
            .expect("renders")
            .iter()
            .map(|(_, b)| b.len())
            .sum();
        println!("{}: {bytes} bytes", output.name());
        group.bench_function(output.name(), |b| b.iter(|| output.render(&report)));
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
