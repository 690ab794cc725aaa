//! Format recognition: every format's answer (yes, no, need more input) on the head of a file,
//! as the registry asks it of the first bytes of every input.

#![no_main]

use chokepoint::ingest::registry;
use chokepoint::ingest::sniff::Head;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for complete in [false, true] {
        let _ = registry::detect(&Head::new(bytes, complete));
    }
});
