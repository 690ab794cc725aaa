//! A load generator's own record of its load (`--levels timeline:FILE`): exact levels, instead of
//! levels found from the requests' rate. Recognized by content (gzip, zstd or bzip2 compressed
//! or not):
//!
//! - chokepoint's timeline: JSON with a `phases` array, each phase a `name`, a `start_unix_ns`
//!   and an `end_unix_ns`; other fields (the offered rate, every request sent) are read past.
//!   The second capture's kit writes it (`load.json.gz`).
//! - Locust's stats history (`--csv PREFIX` writes `PREFIX_stats_history.csv`): a row per
//!   interval with its `Timestamp` (Unix seconds) and `User Count`; the `Aggregated` rows count.
//! - k6's JSON output (`--out json=FILE`): one JSON object per line; the `vus` metric's points
//!   (`data.time`, RFC 3339, and `data.value`) give the virtual users over time.
//! - JMeter's CSV results (`.jtl` with a header): a row per sample with its `timeStamp` (Unix
//!   ms) and `allThreads`, the active threads of all thread groups.
//!
//! For the three generators each level is a stretch of constant concurrency (users, virtual
//! users, threads) lasting at least [`MIN_PHASE_S`] seconds, named by it (`50 users`); the
//! ramps between them, and idle stretches, are in no level.

use crate::error::{Error, Result};
use crate::ingest::rows::Row;
pub use crate::model::load::{LoadTimeline, Phase};
use serde::Deserialize;
use std::path::Path;

/// The shortest stretch of constant concurrency taken as a level.
pub const MIN_PHASE_S: i64 = 5;

#[derive(Deserialize)]
struct Timeline {
    phases: Vec<Phase>,
}

/// The phases of a load timeline file. An error names the file and says what is wrong: a
/// record of no known generator, no phase, a phase that ends before it starts, phases that
/// overlap or share a name.
pub fn read(path: &Path) -> Result<LoadTimeline> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (_, reader, break_off) = super::decompress::open(file).map_err(|e| Error::io(path, e))?;
    let timeline = parse(path, reader);
    break_off.check(path, "load timeline")?;
    timeline
}

/// The phases of a load record read from `reader` (decompressed, read whole up to the record
/// cap); `path` names it in errors.
pub fn parse(path: &Path, mut reader: impl std::io::Read) -> Result<LoadTimeline> {
    let bytes = super::chunks::read_whole(path, &mut reader)?;
    let bad = |location: String, message: String| Error::Parse {
        path: path.into(),
        format: "load timeline",
        location,
        message,
    };
    let text = String::from_utf8_lossy(&bytes);
    let header = text.lines().next().unwrap_or("").to_ascii_lowercase();
    let (source, mut phases) = if text.trim_start().starts_with('{') && text.contains("\"phases\"")
    {
        let timeline: Timeline = serde_json::from_slice(&bytes).map_err(|e| {
            bad(
                format!("line {}: ", e.line()),
                format!(
                    "{e}; expected {{\"phases\": [{{\"name\", \"start_unix_ns\", \"end_unix_ns\"}}, …]}}"
                ),
            )
        })?;
        ("chokepoint timeline", timeline.phases)
    } else if text.trim_start().starts_with('{') && text.contains("\"metric\"") {
        ("k6 JSON output", stretches(k6_vus(&text), "vus"))
    } else if header.contains("user count") && header.contains("timestamp") {
        (
            "Locust stats history",
            stretches(
                csv_samples(
                    &bytes,
                    "timestamp",
                    1_000_000_000,
                    "user count",
                    Some(("name", "Aggregated")),
                ),
                "users",
            ),
        )
    } else if header.contains("timestamp") && header.contains("allthreads") {
        (
            "JMeter results",
            stretches(
                csv_samples(&bytes, "timestamp", 1_000_000, "allthreads", None),
                "threads",
            ),
        )
    } else {
        return Err(bad(
            "line 1: ".into(),
            "not a load record chokepoint reads: its timeline JSON ({\"phases\": …}), Locust's \
             stats history CSV, k6's JSON output or JMeter's CSV results"
                .into(),
        ));
    };
    if phases.is_empty() {
        let message = match source {
            "chokepoint timeline" => "the timeline has no phase".to_string(),
            _ => format!("no stretch of constant load of {MIN_PHASE_S} s or more in this {source}"),
        };
        return Err(bad(String::new(), message));
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
    Ok(LoadTimeline { source, phases })
}

/// (time, concurrency) from a CSV with a header: the time column in units of `unit_ns`
/// (decimals allowed), the concurrency column, and only the rows whose `only` column has the
/// given value, when that column exists.
fn csv_samples(
    bytes: &[u8],
    time: &str,
    unit_ns: u64,
    count: &str,
    only: Option<(&str, &str)>,
) -> Vec<(i64, u64)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let Ok(headers) = reader.headers().cloned() else {
        return Vec::new();
    };
    let mut samples = Vec::new();
    super::chunks::for_each_csv_row(reader, bytes, |_, _, read| {
        let Ok(record) = read else { return };
        let row = (&headers, record);
        if let Some((column, value)) = only
            && row.text(column).is_some_and(|v| v != value)
        {
            return;
        }
        let at = row.text(time).and_then(|t| {
            let scale = unit_ns.ilog10();
            super::time::decimal_ns(t.trim(), scale)
        });
        let users = row.text(count).and_then(|c| c.trim().parse::<f64>().ok());
        if let (Some(at), Some(users)) = (at.and_then(|t| i64::try_from(t).ok()), users)
            && users.is_finite()
            && users >= 0.0
        {
            samples.push((at, users.round() as u64));
        }
    });
    samples
}

/// The `vus` metric's points of k6's JSON output.
fn k6_vus(text: &str) -> Vec<(i64, u64)> {
    #[derive(Deserialize)]
    struct Line<'a> {
        #[serde(borrow, default)]
        r#type: &'a str,
        #[serde(borrow, default)]
        metric: &'a str,
        data: Option<Data<'a>>,
    }
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow, default)]
        time: &'a str,
        #[serde(default)]
        value: f64,
    }
    text.lines()
        .filter_map(|line| serde_json::from_str::<Line>(line).ok())
        .filter(|l| l.r#type == "Point" && l.metric == "vus")
        .filter_map(|l| {
            let data = l.data?;
            let (at, _) = super::time::parse_iso(data.time)?;
            (data.value.is_finite() && data.value >= 0.0).then(|| (at, data.value.round() as u64))
        })
        .collect()
}

/// Each stretch of constant, non-zero concurrency lasting [`MIN_PHASE_S`] or more: from its
/// first sample to the next stretch's first (the last one to its last sample), named by the
/// concurrency and `unit`; a concurrency seen in two stretches names the second `… (2)`.
fn stretches(mut samples: Vec<(i64, u64)>, unit: &str) -> Vec<Phase> {
    samples.sort_by_key(|s| s.0);
    let mut phases: Vec<Phase> = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let (start, value) = samples[i];
        let mut j = i;
        while j + 1 < samples.len() && samples[j + 1].1 == value {
            j += 1;
        }
        let end = samples.get(j + 1).map_or(samples[j].0, |next| next.0);
        if value > 0 && end.saturating_sub(start) >= MIN_PHASE_S * 1_000_000_000 {
            let base = format!("{value} {unit}");
            let seen = phases
                .iter()
                .filter(|p| p.name.split(" (").next() == Some(&base))
                .count();
            let name = match seen {
                0 => base,
                n => format!("{base} ({})", n + 1),
            };
            phases.push(Phase {
                name,
                start_unix_ns: start,
                end_unix_ns: end,
            });
        }
        i = j + 1;
    }
    phases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(name: &str, text: &str) -> Result<Vec<Phase>> {
        parse(Path::new(name), text.as_bytes()).map(|t| t.phases)
    }

    const S: i64 = 1_000_000_000;
    const T0: i64 = 1_700_000_000;

    /// (name, start s, end s) after T0.
    fn windows(timeline: &LoadTimeline) -> Vec<(String, i64, i64)> {
        timeline
            .phases
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.start_unix_ns / S - T0,
                    p.end_unix_ns / S - T0,
                )
            })
            .collect()
    }

    /// Concurrency per second: 0 for 2 s (starting), 10 for 10 s, 15 for 2 s (a ramp too
    /// short to be a level), 20 for 12 s, then 0.
    fn load(second: i64) -> u64 {
        match second {
            0..2 => 0,
            2..12 => 10,
            12..14 => 15,
            14..26 => 20,
            _ => 0,
        }
    }

    #[test]
    fn locust_k6_and_jmeter_records_give_their_stretches_of_constant_load() {
        let mut locust = String::from(
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,Total Request Count\n",
        );
        let mut k6 = String::from(
            "{\"type\":\"Metric\",\"data\":{\"name\":\"vus\",\"type\":\"gauge\"},\"metric\":\"vus\"}\n",
        );
        let mut jmeter = String::from(
            "timeStamp,elapsed,label,responseCode,success,bytes,grpThreads,allThreads,Latency\n",
        );
        for second in 0..30 {
            let users = load(second);
            let t = T0 + second;
            locust += &format!(
                "{t},{users},,Aggregated,{},0,12,30,{}\n",
                users * 2,
                second * 20
            );
            // Per-endpoint rows (--csv-full-history) do not count.
            locust += &format!("{t},999,GET,/items,1,0,12,30,1\n");
            k6 += &format!(
                "{{\"type\":\"Point\",\"metric\":\"vus\",\"data\":{{\"time\":\"2023-11-14T22:{:02}:{:02}Z\",\"value\":{users},\"tags\":null}}}}\n",
                13 + (20 + second) / 60,
                (20 + second) % 60
            );
            k6 += "{\"type\":\"Point\",\"metric\":\"http_reqs\",\"data\":{\"time\":\"2023-11-14T22:13:20Z\",\"value\":1}}\n";
            for ms in [100, 600] {
                jmeter += &format!(
                    "{},12,GET /items,200,true,512,{users},{users},11\n",
                    t * 1000 + ms
                );
            }
        }
        let expected = |unit: &str| {
            vec![
                (format!("10 {unit}"), 2, 12),
                (format!("20 {unit}"), 14, 26),
            ]
        };
        let locust = parse(Path::new("run_stats_history.csv"), locust.as_bytes()).unwrap();
        assert_eq!(locust.source, "Locust stats history");
        assert_eq!(windows(&locust), expected("users"));
        let k6 = parse(Path::new("k6.json"), k6.as_bytes()).unwrap();
        assert_eq!(k6.source, "k6 JSON output");
        assert_eq!(windows(&k6), expected("vus"));
        let jmeter = parse(Path::new("results.jtl"), jmeter.as_bytes()).unwrap();
        assert_eq!(jmeter.source, "JMeter results");
        let got: Vec<(String, i64, i64)> = jmeter
            .phases
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.start_unix_ns / 1_000_000 - T0 * 1000,
                    p.end_unix_ns / 1_000_000 - T0 * 1000,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10 threads".into(), 2_100, 12_100),
                ("20 threads".into(), 14_100, 26_100)
            ]
        );
    }

    #[test]
    fn the_same_load_twice_names_the_second_and_a_flat_record_says_so() {
        let mut csv = String::from("Timestamp,User Count,Name\n");
        for second in 0..30 {
            let users = if (10..20).contains(&second) { 20 } else { 10 };
            csv += &format!("{},{users},Aggregated\n", T0 + second);
        }
        let timeline = parse(Path::new("a.csv"), csv.as_bytes()).unwrap();
        let names: Vec<String> = timeline.phases.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, ["10 users", "20 users", "10 users (2)"]);
        let short = "Timestamp,User Count,Name\n1700000000,5,Aggregated\n1700000001,6,Aggregated\n";
        let e = parse(Path::new("short.csv"), short.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no stretch of constant load of 5 s"), "{e}");
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
