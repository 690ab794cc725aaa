//! The whole command's path on one file: recognized, decompressed, read in chunks, analyzed
//! into a report, and read as a schema dump. An error is fine; a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|bytes: &[u8]| {
    let path = std::env::temp_dir().join(format!("chokepoint-fuzz-{}.input", std::process::id()));
    let Ok(mut file) = std::fs::File::create(&path) else {
        return;
    };
    if file.write_all(bytes).is_err() {
        return;
    }
    drop(file);
    let options = chokepoint::ingest::Options::default();
    if let Ok(dataset) = chokepoint::ingest::read_inputs(std::slice::from_ref(&path), &options) {
        let report = chokepoint::analysis::analyze(&dataset, &Default::default());
        let _ = chokepoint::report::markdown::render(&report);
    }
    let mut schema = Default::default();
    let _ = chokepoint::ingest::schema::read_schema(&path, &mut schema);
});
