//! The statement fingerprint in both dialects (the text, the id from the cache of token shapes,
//! which must agree with the text's), and the sqlcommenter trace context.

#![no_main]

use chokepoint::model::fingerprint::{self, Dialect, Fingerprinter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let sql = String::from_utf8_lossy(bytes);
    let mut fingerprinter = Fingerprinter::default();
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let whole = fingerprint::fingerprint(&sql, dialect);
        // Twice: the second id comes from the cache of shapes.
        assert_eq!(fingerprinter.id(&sql, dialect), whole.id);
        assert_eq!(fingerprinter.id(&sql, dialect), whole.id);
    }
    let _ = fingerprint::trace_context(&sql);
});
