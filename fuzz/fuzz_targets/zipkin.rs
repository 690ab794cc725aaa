//! Zipkin v2 JSON: a span array or an array of traces, read into spans.

#![no_main]

use chokepoint::ingest::spans::SpanBatch;
use chokepoint::ingest::zipkin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = zipkin::parse(&mut SpanBatch::new(Some("level")), bytes);
});
