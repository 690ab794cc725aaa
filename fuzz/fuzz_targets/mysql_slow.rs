//! The MySQL (and Percona, MariaDB) slow query log.

#![no_main]

use chokepoint::ingest::mysql_slow;
use chokepoint::ingest::statements::StatementBatch;
use chokepoint::model::query::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut batch = StatementBatch::new(Source::MysqlSlow);
    mysql_slow::parse_chunk(&mut batch, bytes, 1);
    let _ = batch.into_statements();
});
