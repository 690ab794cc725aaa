//! Schema dumps: SQL definitions (pg_dump, mysqldump), pg_indexes and pg_stat_user_tables CSV.

#![no_main]

use chokepoint::ingest::schema;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut tables = Default::default();
    let _ = schema::parse_schema(std::path::Path::new("fuzz.sql"), bytes, &mut tables);
});
