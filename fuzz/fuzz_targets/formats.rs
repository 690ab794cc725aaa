//! Every format's parser on the same bytes, in memory: format recognition, OTLP JSON (lines
//! and document) and protobuf, each PostgreSQL log layout (with the prefix inferred from the
//! bytes, as for a real file), MySQL slow logs, pg_stat_statements CSV and JSON, pg_stat_activity
//! samples and load timelines. None may panic.

#![no_main]

use chokepoint::ingest::pglog::{self, Layout, PrefixRule};
use chokepoint::ingest::registry;
use chokepoint::ingest::sniff::Head;
use chokepoint::ingest::spans::SpanBatch;
use chokepoint::ingest::{activity, load_timeline, mysql_slow, otlp, pgss};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for complete in [false, true] {
        let _ = registry::detect(&Head::new(bytes, complete));
    }
    otlp::json::parse_lines(&mut SpanBatch::new(None), bytes, 1, 1 << 20);
    let _ = otlp::json::parse_value(&mut SpanBatch::new(None), bytes, "document");
    let _ = otlp::proto::parse_message(&mut SpanBatch::new(None), bytes, "message");
    for layout in [
        Layout::Stderr,
        Layout::Syslog { year: 2024 },
        Layout::Logplex,
        Layout::Csv,
        Layout::Json,
    ] {
        let rule = PrefixRule {
            prefix: pglog::detect_prefix(layout, bytes),
            strict: false,
        };
        let _ = pglog::parse_chunk(layout, &rule, bytes, 1).into_statements();
    }
    let _ = mysql_slow::parse_chunk(bytes, 1).into_statements();
    let _ = pgss::parse_csv(bytes).into_statements();
    let _ = pgss::parse_json(bytes).into_statements();
    let path = std::path::Path::new("fuzz");
    let _ = activity::read(path, bytes, &mut Default::default());
    let _ = load_timeline::parse(path, bytes);
});
