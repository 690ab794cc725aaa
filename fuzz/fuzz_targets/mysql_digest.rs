//! MySQL performance_schema statement digests, as CSV with a header and as JSON.

#![no_main]

use chokepoint::ingest::mysql_digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = mysql_digest::parse_csv(bytes).into_statements();
    let _ = mysql_digest::parse_json(bytes).into_statements();
});
