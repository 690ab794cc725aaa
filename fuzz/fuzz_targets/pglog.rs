//! A PostgreSQL log in one layout, chosen by the first byte (stderr, syslog, logplex, csvlog,
//! jsonlog), with its prefix inferred from the rest as for a real file, then read.

#![no_main]

use chokepoint::ingest::pglog::{self, Layout, PrefixRule};
use chokepoint::ingest::statements::StatementBatch;
use chokepoint::model::query::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((&pick, log)) = bytes.split_first() else {
        return;
    };
    let layout = match pick % 5 {
        0 => Layout::Stderr,
        1 => Layout::Syslog { year: 2024 },
        2 => Layout::Logplex,
        3 => Layout::Csv,
        _ => Layout::Json,
    };
    let rule = PrefixRule {
        prefix: pglog::detect_prefix(layout, log),
        strict: pick >= 128,
    };
    let mut batch = StatementBatch::new(Source::PgLog);
    pglog::parse_chunk(&mut batch, layout, &rule, log, 1);
    let _ = batch.into_statements();
});
