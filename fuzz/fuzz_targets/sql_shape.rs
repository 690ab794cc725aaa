//! The statement shape (type, tables, WHERE, JOIN and ORDER BY columns) read by sqlparser from
//! an exemplar and its fingerprint, in both dialects.

#![no_main]

use chokepoint::analysis::sql;
use chokepoint::model::fingerprint::{self, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let exemplar = String::from_utf8_lossy(bytes);
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let normalized = fingerprint::fingerprint(&exemplar, dialect);
        let _ = sql::shape(&exemplar, &normalized.text, dialect);
    }
});
