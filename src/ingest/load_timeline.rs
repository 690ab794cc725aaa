//! A load generator's own timeline of its phases (`--levels timeline:FILE`): exact levels,
//! instead of levels found from the requests' rate. The file is JSON (gzip, zstd or bzip2
//! compressed or not) with a `phases` array, each phase a `name`, a `start_unix_ns` and an
//! `end_unix_ns`; other fields (the offered rate, every request the generator sent) are read
//! past without being kept. The second capture's kit writes it (`load.json.gz`); a k6 or
//! Locust run converts to it with a few lines.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// One phase of the load: a level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Phase {
    /// Its name, the level's.
    pub name: String,
    /// Start, ns since the epoch.
    pub start_unix_ns: i64,
    /// End (exclusive), ns since the epoch.
    pub end_unix_ns: i64,
}

#[derive(Deserialize)]
struct Timeline {
    phases: Vec<Phase>,
}

/// The phases of a load timeline file, in time order. An error names the file and says what
/// is wrong: not JSON of this shape, no phase, a phase that ends before it starts, phases that
/// overlap or share a name.
pub fn read(path: &Path) -> Result<Vec<Phase>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (_, reader, break_off) = super::decompress::open(file).map_err(|e| Error::io(path, e))?;
    let phases = parse(path, reader);
    break_off.check(path, "load timeline")?;
    phases
}

/// The phases of a load timeline read from `reader` (decompressed, read whole up to the record
/// cap); `path` names it in errors.
pub fn parse(path: &Path, mut reader: impl std::io::Read) -> Result<Vec<Phase>> {
    let bytes = super::chunks::read_whole(path, &mut reader)?;
    let bad = |location: String, message: String| Error::Parse {
        path: path.into(),
        format: "load timeline",
        location,
        message,
    };
    let timeline: Timeline = serde_json::from_slice(&bytes).map_err(|e| {
        bad(
            format!("line {}: ", e.line()),
            format!(
                "{e}; expected {{\"phases\": [{{\"name\", \"start_unix_ns\", \"end_unix_ns\"}}, …]}}"
            ),
        )
    })?;
    let mut phases = timeline.phases;
    if phases.is_empty() {
        return Err(bad(String::new(), "the timeline has no phase".into()));
    }
    phases.sort_by_key(|p| p.start_unix_ns);
    for p in &phases {
        if p.end_unix_ns <= p.start_unix_ns {
            let message = format!("phase {} ends before it starts", p.name);
            return Err(bad(String::new(), message));
        }
    }
    for w in phases.windows(2) {
        if w[1].start_unix_ns < w[0].end_unix_ns {
            let message = format!("phases {} and {} overlap", w[0].name, w[1].name);
            return Err(bad(String::new(), message));
        }
    }
    let mut names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(String::new(), format!("two phases are named {}", w[0])));
    }
    Ok(phases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(name: &str, text: &str) -> Result<Vec<Phase>> {
        let path = std::env::temp_dir().join(format!("chokepoint-timeline-{name}.json"));
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn phases_are_read_in_time_order_and_other_fields_skipped() {
        let phases = read_text(
            "ok",
            r#"{"phases":[{"name":"b","start_unix_ns":30,"end_unix_ns":40,"offered_rps_from":2},
                {"name":"a","start_unix_ns":10,"end_unix_ns":20}],"requests":[{"sent_unix_ns":11}]}"#,
        )
        .unwrap();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_bad_timeline_is_an_error_that_says_why() {
        for (name, text, says) in [
            ("not-json", "[1, 2", "line 1"),
            ("empty", r#"{"phases":[]}"#, "no phase"),
            (
                "backwards",
                r#"{"phases":[{"name":"a","start_unix_ns":9,"end_unix_ns":1}]}"#,
                "ends before",
            ),
            (
                "overlap",
                r#"{"phases":[{"name":"a","start_unix_ns":1,"end_unix_ns":9},{"name":"b","start_unix_ns":5,"end_unix_ns":19}]}"#,
                "overlap",
            ),
            (
                "twice",
                r#"{"phases":[{"name":"a","start_unix_ns":1,"end_unix_ns":9},{"name":"a","start_unix_ns":10,"end_unix_ns":19}]}"#,
                "two phases",
            ),
        ] {
            let message = read_text(name, text).unwrap_err().to_string();
            assert!(message.contains(says), "{name}: {message}");
            assert!(message.contains("load timeline"), "{message}");
        }
    }
}
