//! The MySQL (and Percona, MariaDB) slow query log.

#![no_main]

use chokepoint::ingest::mysql_slow;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = mysql_slow::parse_chunk(bytes, 1).into_statements();
});
