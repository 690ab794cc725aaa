//! A load generator's own timeline (`--levels timeline:FILE`): phases with name, start and end.

#![no_main]

use chokepoint::ingest::load_timeline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = load_timeline::parse(std::path::Path::new("fuzz.json"), bytes);
});
