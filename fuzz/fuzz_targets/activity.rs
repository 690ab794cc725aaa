//! pg_stat_activity samples (CSV with a header naming the sample time, application and state).

#![no_main]

use chokepoint::ingest::activity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = activity::read(
        std::path::Path::new("fuzz.csv"),
        bytes,
        &mut Default::default(),
    );
});
