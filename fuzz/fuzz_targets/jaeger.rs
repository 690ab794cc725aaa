//! Jaeger JSON: the query API's envelope or one trace, read into spans.

#![no_main]

use chokepoint::ingest::jaeger;
use chokepoint::ingest::spans::SpanBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = jaeger::parse(&mut SpanBatch::new(Some("level")), bytes);
});
