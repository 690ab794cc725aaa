//! `chokepoint.toml`: detector thresholds and budgets, parsed and checked.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = chokepoint::config::parse(text);
    }
});
