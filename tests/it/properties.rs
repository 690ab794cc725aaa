//! Invariants on random traces: the critical path tiles the root to the nanosecond, the shares
//! of a level add up to 1, the ledger accounts for every span read, and permuting the input
//! changes no byte of the report.

use crate::common::analyze;
use crate::common::{SpanMaker, read, temp_dir};
use chokepoint::analysis::Options;
use chokepoint::analysis::critical_path::{Options as CpOptions, critical_path, self_times};
use chokepoint::model::fingerprint::{Dialect, fingerprint};
use chokepoint::model::trace::Tree;
use chokepoint::model::{Dataset, Span, SpanKind};
use chokepoint_synth::Rng;
use proptest::prelude::*;

const BASE: i64 = 1_700_000_000_000_000_000;

/// A random trace of up to `size` spans with every awkward shape: touching siblings, small and
/// real overlaps, children ending after (or starting before, or covering) their parent, skewed
/// servers under clients, consumers, zero-length spans, absent parents, duplicates and cycles.
fn random_trace(maker: &mut SpanMaker, rng: &mut Rng, trace: u64, size: u64) -> Vec<Span> {
    let root_len = rng.range(1_000, 100_000) as i64;
    let mut spans = vec![maker.span(
        trace,
        1,
        0,
        BASE,
        BASE + root_len,
        "svc0",
        "root",
        SpanKind::Server,
    )];
    let services = ["svc0", "svc1", "svc2"];
    let names = ["a", "b", "c", "d", "query", "call"];
    for id in 2..=size.max(1) {
        let parent = &spans[rng.range(0, spans.len() as u64 - 1) as usize];
        let (ps, pe, pid, pkind) = (
            parent.start_unix_ns,
            parent.end_unix_ns,
            u64::from_be_bytes(parent.span_id.0),
            parent.kind,
        );
        let len = (pe - ps).max(1);
        let last_end = spans
            .iter()
            .filter(|s| u64::from_be_bytes(s.parent_span_id.0) == pid)
            .map(|s| s.end_unix_ns)
            .max()
            .unwrap_or(ps);
        let r = |rng: &mut Rng, n: i64| rng.range(0, n.max(1) as u64) as i64;
        let (start, end) = match rng.range(0, 9) {
            0 => (last_end, last_end + r(rng, (pe - last_end).max(0))),
            1 => (last_end - r(rng, len / 150), last_end + r(rng, len / 4)),
            2 => {
                let s = ps + r(rng, len);
                (s, pe + r(rng, len))
            }
            3 => (ps - r(rng, len / 3), ps + r(rng, len)),
            4 => (ps - r(rng, len), pe + r(rng, len)),
            5 => {
                let s = ps + r(rng, len);
                (s, s)
            }
            _ => {
                let s = ps + r(rng, len);
                (s, s + r(rng, pe - s))
            }
        };
        let kind = match (pkind, rng.range(0, 9)) {
            (SpanKind::Client, 0..=5) => SpanKind::Server,
            (_, 0) => SpanKind::Consumer,
            (_, 1) => SpanKind::Producer,
            (_, 2 | 3) => SpanKind::Client,
            _ => SpanKind::Internal,
        };
        let parent_id = match rng.range(0, 29) {
            0 => 10_000 + id,            // absent parent
            1 => rng.range(2, size + 1), // may close a cycle
            _ => pid,
        };
        let service = services[rng.range(0, 2) as usize];
        let name = names[rng.range(0, 5) as usize];
        spans.push(maker.span(
            trace,
            id,
            parent_id,
            start.min(end),
            end.max(start),
            service,
            name,
            kind,
        ));
        if rng.range(0, 39) == 0 {
            let dup = spans.last().expect("just pushed").clone();
            spans.push(dup);
        }
    }
    spans
}

fn random_dataset(seed: u64, traces: u64, size: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut maker = SpanMaker::new();
    let mut spans = Vec::new();
    for t in 1..=traces {
        let n = rng.range(1, size);
        spans.extend(random_trace(&mut maker, &mut rng, t, n));
    }
    let mut dataset = Dataset {
        inputs: vec![Default::default()],
        ..Default::default()
    };
    dataset.inputs[0].records = spans.len() as u64;
    dataset.spans = spans;
    dataset.strings = maker.strings;
    dataset.finish();
    dataset
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn segments_tile_the_root_and_self_time_is_within_duration(seed in any::<u64>(), size in 1u64..80) {
        let dataset = random_dataset(seed, 1, size);
        let tree = Tree::build(&dataset.spans).unwrap();
        let path = critical_path(&tree, &CpOptions::default());
        let root = tree.span(tree.root);
        let mut at = root.end_unix_ns;
        for seg in &path.segments {
            prop_assert_eq!(seg.end_ns, at);
            prop_assert!(seg.start_ns < seg.end_ns);
            at = seg.start_ns;
        }
        prop_assert_eq!(at, root.start_unix_ns);
        let (self_ns, _) = self_times(&tree);
        for (node, ns) in self_ns.iter().enumerate() {
            prop_assert!(*ns >= 0 && *ns <= tree.span(node as u32).duration_ns());
        }
    }

    #[test]
    fn shares_add_up_and_the_ledger_accounts_for_every_span(seed in any::<u64>(), traces in 1u64..20, size in 1u64..40) {
        let dataset = random_dataset(seed, traces, size);
        let mut options = Options::default();
        options.top = 0;
        let report = analyze(&dataset, &options);
        let level = &report.levels[0];
        let cp: u64 = level.bottlenecks.iter().map(|b| b.cp_ns_total).sum();
        prop_assert_eq!(cp, level.latency_ns_total);
        // Blame by service: every critical-path nanosecond is a service's own or an edge's,
        // and each edge is its callee's inbound time.
        let by_service: u64 = level.services.iter().map(|s| s.own_ns_total + s.inbound_ns_total).sum();
        prop_assert_eq!(by_service, level.latency_ns_total);
        if level.latency_ns_total > 0 {
            let shares: f64 = level.bottlenecks.iter().map(|b| b.share).sum();
            prop_assert!((shares - 1.0).abs() < 1e-9, "shares add up to {}", shares);
        }
        let read = dataset.spans.len() as u64;
        prop_assert_eq!(report.traces.spans_analyzed + report.traces.duplicate_spans, read);
        let input = &report.inputs[0];
        prop_assert_eq!(input.records, input.skipped + report.traces.spans_analyzed);
        prop_assert_eq!(report.traces.traces, traces);
    }
}

/// Writes spans as OTLP/JSON lines, `per_line` spans a line, one resource per span.
fn write_otlp(
    path: &std::path::Path,
    spans: &[Span],
    strings: &chokepoint::model::Interner,
    per_line: usize,
) {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1 as otlp;
    let mut out = String::new();
    for chunk in spans.chunks(per_line.max(1)) {
        let resource_spans = chunk
            .iter()
            .map(|s| otlp::ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(
                                strings.get(s.service).into(),
                            )),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![otlp::ScopeSpans {
                    spans: vec![otlp::Span {
                        trace_id: s.trace_id.0.to_vec(),
                        span_id: s.span_id.0.to_vec(),
                        parent_span_id: if s.parent_span_id.is_none() {
                            vec![]
                        } else {
                            s.parent_span_id.0.to_vec()
                        },
                        name: strings.get(s.name).into(),
                        kind: match s.kind {
                            SpanKind::Internal => 1,
                            SpanKind::Server => 2,
                            SpanKind::Client => 3,
                            SpanKind::Producer => 4,
                            SpanKind::Consumer => 5,
                        },
                        start_time_unix_nano: s.start_unix_ns as u64,
                        end_time_unix_nano: s.end_unix_ns as u64,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        chokepoint_synth::json_message(&otlp::TracesData { resource_spans }, &mut out);
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn permuting_the_input_changes_no_byte_of_the_report(seed in any::<u64>(), traces in 1u64..12, size in 1u64..30) {
        let dataset = random_dataset(seed, traces, size);
        let dir = temp_dir(&format!("permute-{seed}"));
        let path = dir.join("traces.jsonl");
        let report_of = |spans: &[Span], per_line: usize| {
            write_otlp(&path, spans, &dataset.strings, per_line);
            analyze(&read(std::slice::from_ref(&path)).unwrap(), &Options::default()).to_json()
        };
        let original = report_of(&dataset.spans, 3);
        let mut shuffled = dataset.spans.clone();
        let mut rng = Rng::new(seed ^ 0x5eed);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.range(0, i as u64) as usize);
        }
        prop_assert_eq!(report_of(&shuffled, 7), original);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The properties above mean something only if the random traces reach every awkward shape.
#[test]
fn random_traces_reach_every_shape() {
    let mut total = chokepoint::report::TraceLedger::default();
    let mut reasons = std::collections::BTreeSet::new();
    for seed in 0..100 {
        let report = analyze(&random_dataset(seed, 10, 40), &Options::default());
        total += &report.traces;
        reasons.extend(report.off_path.iter().map(|r| r.reason));
    }
    assert!(
        total.clipped_spans > 0 && total.tolerated_overlaps > 0 && total.cycles_broken > 0,
        "{total:?}"
    );
    assert!(
        total.duplicate_spans > 0
            && total.unknown_parent_spans > 0
            && total.skewed_server_spans > 0,
        "{total:?}"
    );
    assert_eq!(
        reasons.len(),
        4,
        "consumer, async child, absent parent and second root all occur: {reasons:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Corrupt clocks: spans anywhere in the representable range, servers centuries away from
    /// their clients. No overflow, and the path still tiles the root.
    #[test]
    fn extreme_times_neither_panic_nor_break_the_tiling(seed in any::<u64>(), size in 1u64..40) {
        let mut rng = Rng::new(seed);
        let mut maker = SpanMaker::new();
        let limit = i64::MAX as u64 - (1 << 53);
        let spans: Vec<Span> = (1..=size)
            .map(|id| {
                let start = match rng.range(0, 2) { 0 => 0, 1 => limit, _ => rng.range(0, limit) } as i64;
                let end = start + rng.range(0, 1 << 53) as i64;
                let kind = if id % 2 == 0 { SpanKind::Client } else { SpanKind::Server };
                let parent = if id == 1 { 0 } else { rng.range(1, id - 1) };
                maker.span(1, id, parent, start, end, "svc", "op", kind)
            })
            .collect();
        let mut dataset = Dataset { inputs: vec![Default::default()], spans, strings: maker.strings, ..Dataset::default() };
        dataset.inputs[0].records = size;
        dataset.finish();
        let tree = Tree::build(&dataset.spans).unwrap();
        let path = critical_path(&tree, &CpOptions::default());
        let root = tree.span(tree.root);
        let mut at = root.end_unix_ns;
        for seg in &path.segments {
            prop_assert_eq!(seg.end_ns, at);
            at = seg.start_ns;
        }
        prop_assert_eq!(at, root.start_unix_ns);
        let report = analyze(&dataset, &Options::default());
        prop_assert_eq!(report.traces.spans_analyzed, size);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes, and real records with bytes flipped or cut, never panic a parser.
    #[test]
    fn parsers_survive_arbitrary_and_mutated_bytes(
        noise in proptest::collection::vec(any::<u8>(), 0..2048),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        use chokepoint::ingest::otlp::{json, proto};
        use chokepoint::ingest::spans::SpanBatch;
        let options = chokepoint_synth::Options { traces: 2, ..Default::default() };
        let mut json_bytes = Vec::new();
        chokepoint_synth::write_json(&options, &mut json_bytes).unwrap();
        let mut proto_bytes = Vec::new();
        chokepoint_synth::write_proto(&options, &mut proto_bytes).unwrap();
        for real in [json_bytes, proto_bytes] {
            let mut mutated = real.clone();
            for (at, byte) in &flips {
                let i = at.index(mutated.len());
                mutated[i] = *byte;
            }
            mutated.truncate(cut.index(mutated.len() + 1));
            for bytes in [&noise, &mutated] {
                json::parse_lines(&mut SpanBatch::default(), bytes, 1, 1 << 20);
                let _ = proto::parse_message(&mut SpanBatch::default(), bytes, "m");
                for complete in [false, true] {
                    let head = chokepoint::ingest::sniff::Head::new(bytes, complete);
                    let _ = chokepoint::ingest::registry::detect(&head);
                }
                let sql = String::from_utf8_lossy(bytes);
                for dialect in [Dialect::Postgres, Dialect::Mysql] {
                    let _ = fingerprint(&sql, dialect);
                }
            }
        }
    }
}
