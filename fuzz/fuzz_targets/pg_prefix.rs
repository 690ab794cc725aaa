//! `log_line_prefix`: a prefix given with `--pg-prefix` compiled and matched against a line, and
//! a prefix inferred from a line's start. The first line is the prefix, the second the sample.

#![no_main]

use chokepoint::ingest::pglog::prefix::Prefix;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let (given, sample) = text.split_once('\n').unwrap_or((&text, &text));
    if let Ok(prefix) = Prefix::compile(given) {
        let _ = prefix.parse(sample);
    }
    if let Some(inferred) = Prefix::infer(sample)
        && let Ok(prefix) = Prefix::compile(&inferred)
    {
        let _ = prefix.parse(sample);
    }
});
