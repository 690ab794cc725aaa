//! OTLP/JSON: JSON lines (parsed per chunk, and framed into chunks of a few hundred bytes so
//! that cuts fall inside records) and one pretty-printed document.

#![no_main]

use chokepoint::ingest::otlp;
use chokepoint::ingest::spans::SpanBatch;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    otlp::json::parse_lines(&mut SpanBatch::new(None), bytes, 1, 1 << 20);
    let _ = otlp::json::parse_value(&mut SpanBatch::new(None), bytes, "document");
    let path = Path::new("fuzz.jsonl");
    let _ = otlp::framing::read_json_lines(path, &mut &bytes[..], 256, 1024, Some("level"));
    let _ = otlp::framing::read_json_document(path, &mut &bytes[..], Some("level"));
});
