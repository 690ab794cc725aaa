//! OTLP protobuf: one `TracesData` message, and length-prefixed messages.

#![no_main]

use chokepoint::ingest::otlp;
use chokepoint::ingest::spans::SpanBatch;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let _ = otlp::proto::parse_message(&mut SpanBatch::new(None), bytes, "message");
    let _ = otlp::framing::read_proto_delimited(Path::new("fuzz.binpb"), &mut &bytes[..], None);
});
