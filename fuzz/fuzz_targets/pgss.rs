//! pg_stat_statements dumps, as CSV with a header and as JSON (an array or a row per line).

#![no_main]

use chokepoint::ingest::pgss;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = pgss::parse_csv(bytes).into_statements();
    let _ = pgss::parse_json(bytes).into_statements();
});
