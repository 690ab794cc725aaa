//! Bad input: each case gives a clear error naming the file, or a ledger entry; never a panic.

use crate::common::analyze;
use crate::common::{SpanMaker, dataset, read, run, synth_json, temp_dir};
use chokepoint::analysis::Options;
use chokepoint::model::SpanKind;
use chokepoint::model::ledger::SkipReason;
use std::io::Write;

const SPAN_LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"5000"}]}]}]}"#;

fn error_of(name: &str, bytes: &[u8]) -> String {
    let dir = temp_dir(name);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = read(std::slice::from_ref(&path))
        .expect_err("an error")
        .to_string();
    assert!(
        err.contains(&path.display().to_string()),
        "the error names the file: {err}"
    );
    // The command line says the same and exits 2.
    let out = run(&dir, &["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{name}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("chokepoint: error: ") && stderr.contains(name),
        "{stderr}"
    );
    err
}

#[test]
fn empty_file() {
    assert!(error_of("empty.json", b"").contains("the file is empty"));
    assert!(error_of("blank.json", b"\n  \n").contains("the file is empty"));
}

#[test]
fn binary_garbage_names_the_formats_tried() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let err = error_of("garbage.bin", &garbage);
    assert!(
        err.contains(
            "not a recognized input (tried otlp-json, otlp-proto, jaeger-json, zipkin-json, pg-stderr,"
        ),
        "{err}"
    );
}

#[test]
fn a_file_of_another_format_is_not_guessed() {
    let err = error_of(
        "access.log",
        b"127.0.0.1 - - [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n",
    );
    assert!(
        err.contains("it begins with: \"127.0.0.1 - - [01/Mar/2024"),
        "{err}"
    );
    let err = error_of("other.json", b"{\"name\": \"not a trace\"}\n");
    assert!(err.contains("not a recognized input"), "{err}");
}

#[test]
fn protobuf_garbage_is_an_error_with_its_cause() {
    let err = error_of("bad.binpb", &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    assert!(
        err.contains("otlp-proto") && err.contains("not a valid TracesData message"),
        "{err}"
    );
    let err = error_of("cut-short.binpb", &[0x00, 0xff, 0xff, 0xff, 0x0a, 0x00]);
    assert!(err.contains("byte 0: truncated message"), "{err}");
    // A valid message, then a length no message can have: the stream is not what it seemed.
    let options = chokepoint_synth::Options {
        traces: 2,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    chokepoint_synth::write_proto(&options, &mut bytes).unwrap();
    let offset = bytes.len();
    bytes.extend([0x7f, 0xff, 0xff, 0xff, 0x0a]);
    let err = error_of("bad-length.binpb", &bytes);
    assert!(
        err.contains(&format!("byte {offset}: length prefix")) && err.contains("exceeds"),
        "{err}"
    );
}

#[test]
fn a_truncated_pretty_document_names_line_and_column() {
    let err = error_of(
        "cut.json",
        b"{\n  \"resourceSpans\": [\n    {\"scopeSpans\": [",
    );
    assert!(err.contains("line 3, column"), "{err}");
}

#[test]
fn an_invalid_line_between_valid_ones_is_counted_and_the_rest_kept() {
    let dir = temp_dir("invalid-line");
    let path = dir.join("t.jsonl");
    std::fs::write(
        &path,
        format!(
            "{SPAN_LINE}\n{{\"resourceSpans\": [oops]}}\n{}\n",
            SPAN_LINE.replace("eee19b7ec3c1b174", "eee19b7ec3c1b175")
        ),
    )
    .unwrap();
    let dataset = read(&[path]).unwrap();
    assert_eq!(dataset.spans.len(), 2);
    let ledger = &dataset.inputs[0];
    assert_eq!((ledger.records, ledger.skipped), (3, 1));
    assert!(
        ledger.skip_examples[&SkipReason::Malformed].starts_with("line 2: "),
        "{:?}",
        ledger.skip_examples
    );
}

#[test]
fn a_truncated_file_keeps_what_came_before_the_cut() {
    let dir = temp_dir("truncated");
    let full = std::fs::read(synth_json(&dir, 200, 9)).unwrap();
    let lines = full.iter().filter(|&&b| b == b'\n').count() as u64;
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, &full[..full.len() - 5000]).unwrap();
    let dataset = read(&[cut]).unwrap();
    let ledger = &dataset.inputs[0];
    assert_eq!(ledger.skip_reasons.get(&SkipReason::Malformed), Some(&1));
    assert!(
        ledger.skip_examples[&SkipReason::Malformed].starts_with(&format!("line {lines}: ")),
        "{:?}",
        ledger.skip_examples
    );

    let options = chokepoint_synth::Options {
        traces: 200,
        seed: 9,
        ..Default::default()
    };
    let mut proto = Vec::new();
    chokepoint_synth::write_proto(&options, &mut proto).unwrap();
    let cut = dir.join("cut.binpb");
    std::fs::write(&cut, &proto[..proto.len() - 100]).unwrap();
    let dataset = read(&[cut]).unwrap();
    assert!(!dataset.spans.is_empty());
    assert!(dataset.inputs[0].skip_examples[&SkipReason::Malformed].contains("truncated message"));
}

#[test]
fn a_compressed_file_cut_short_keeps_what_came_before_and_says_where() {
    let dir = temp_dir("cut-gzip");
    let full = std::fs::read(synth_json(&dir, 300, 4)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&full).unwrap();
    let gz = gz.finish().unwrap();
    let cut_at = gz.len() * 2 / 3;
    let cut = dir.join("cut.jsonl.gz");
    std::fs::write(&cut, &gz[..cut_at]).unwrap();
    let dataset = read(std::slice::from_ref(&cut)).unwrap();
    let whole = read(&[synth_json(&dir, 300, 4)]).unwrap();
    assert!(!dataset.spans.is_empty() && dataset.spans.len() < whole.spans.len());
    let example = &dataset.inputs[0].skip_examples[&SkipReason::Malformed];
    assert!(
        example.starts_with(&format!("byte {cut_at}: the gzip stream breaks off")),
        "{example}"
    );
    // A file read whole has nothing to show for a cut: an error that says where.
    let mut dump = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    dump.write_all(&b"CREATE TABLE t (a int PRIMARY KEY);\n".repeat(20_000))
        .unwrap();
    let dump = dump.finish().unwrap();
    let schema = dir.join("schema.sql.gz");
    std::fs::write(&schema, &dump[..dump.len() / 2]).unwrap();
    let e = chokepoint::ingest::schema::read_schema(&schema, &mut Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the gzip stream breaks off") && e.contains("schema.sql.gz"),
        "{e}"
    );
}

#[test]
fn a_length_prefixed_message_over_the_cap_is_read_past_not_held() {
    use std::io::Read;
    let options = chokepoint_synth::Options {
        traces: 20,
        seed: 5,
        ..Default::default()
    };
    let mut proto = Vec::new();
    chokepoint_synth::write_proto(&options, &mut proto).unwrap();
    let huge = chokepoint::ingest::chunks::MAX_RECORD_BYTES as u32 + 1;
    let mut huge_message = huge.to_be_bytes().to_vec();
    huge_message.push(0x0a);
    let stream = std::io::Cursor::new(proto.clone())
        .chain(std::io::Cursor::new(huge_message))
        .chain(std::io::repeat(0).take(u64::from(huge) - 1))
        .chain(std::io::Cursor::new(proto.clone()));
    let batches = chokepoint::ingest::otlp::framing::read_proto_delimited(
        std::path::Path::new("huge.binpb"),
        &mut std::io::BufReader::new(stream),
        None,
    )
    .unwrap();
    let spans: usize = batches.iter().map(|b| b.spans.len()).sum();
    let once: usize = chokepoint::ingest::otlp::framing::read_proto_delimited(
        std::path::Path::new("once.binpb"),
        &mut proto.as_slice(),
        None,
    )
    .unwrap()
    .iter()
    .map(|b| b.spans.len())
    .sum();
    assert_eq!(spans, 2 * once);
    let too_large: u64 = batches
        .iter()
        .filter_map(|b| b.ledger.skip_reasons.get(&SkipReason::TooLarge))
        .sum();
    assert_eq!(too_large, 1);
}

#[test]
fn a_span_ending_before_it_starts_is_skipped_and_counted() {
    let dir = temp_dir("end-before-start");
    let path = dir.join("t.jsonl");
    let backwards = SPAN_LINE
        .replace("eee19b7ec3c1b174", "eee19b7ec3c1b175")
        .replace("\"5000\"", "\"500\"");
    std::fs::write(&path, format!("{SPAN_LINE}\n{backwards}\n")).unwrap();
    let dataset = read(&[path]).unwrap();
    assert_eq!(dataset.spans.len(), 1);
    assert_eq!(
        dataset.inputs[0]
            .skip_reasons
            .get(&SkipReason::EndBeforeStart),
        Some(&1)
    );
}

#[test]
fn a_line_longer_than_a_read_chunk_is_read_whole() {
    let dir = temp_dir("long-line");
    let path = dir.join("t.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{SPAN_LINE}").unwrap();
    let filler = format!(
        "{{\"resourceSpans\":[],\"pad\":\"{}\"}}",
        "x".repeat(20 << 20)
    );
    writeln!(f, "{filler}").unwrap();
    writeln!(
        f,
        "{}",
        SPAN_LINE.replace("eee19b7ec3c1b174", "eee19b7ec3c1b175")
    )
    .unwrap();
    drop(f);
    let dataset = read(&[path]).unwrap();
    assert_eq!(
        dataset.spans.len(),
        2,
        "the lines around a 20 MB line are read"
    );
    assert_eq!(
        (dataset.inputs[0].records, dataset.inputs[0].skipped),
        (2, 0)
    );
}

#[test]
fn a_parent_cycle_is_broken_and_counted() {
    let mut m = SpanMaker::new();
    let spans = vec![
        m.span(1, 1, 0, 0, 100, "api", "root", SpanKind::Server),
        m.span(1, 2, 4, 10, 90, "api", "a", SpanKind::Internal),
        m.span(1, 3, 2, 20, 80, "api", "b", SpanKind::Internal),
        m.span(1, 4, 3, 30, 70, "api", "c", SpanKind::Internal),
    ];
    let report = analyze(&dataset(spans, m), &Options::default());
    assert_eq!(report.traces.cycles_broken, 1);
    assert_eq!(report.traces.spans_analyzed, 4);
    assert_eq!(report.levels[0].latency_ns_total, 100);
}

#[test]
fn traces_of_200000_spans_deep_or_wide() {
    let n = 200_000u64;
    let mut m = SpanMaker::new();
    let deep: Vec<_> = (1..=n)
        .map(|i| {
            m.span(
                1,
                i,
                i - 1,
                i as i64,
                (3 * n - i) as i64,
                "api",
                "step",
                SpanKind::Internal,
            )
        })
        .collect();
    let report = analyze(&dataset(deep, m), &Options::default());
    assert_eq!(report.traces.spans_analyzed, n);
    assert_eq!(report.levels[0].bottlenecks[0].cp_ns_total, 3 * n - 2);

    let mut m = SpanMaker::new();
    let mut wide = vec![m.span(
        1,
        1,
        0,
        0,
        (10 * n + 10) as i64,
        "api",
        "root",
        SpanKind::Server,
    )];
    wide.extend((2..=n).map(|i| {
        m.span(
            1,
            i,
            1,
            (10 * i) as i64,
            (10 * i + 10) as i64,
            "db",
            "query",
            SpanKind::Client,
        )
    }));
    let report = analyze(&dataset(wide, m), &Options::default());
    let level = &report.levels[0];
    let sum: u64 = level.bottlenecks.iter().map(|b| b.cp_ns_total).sum();
    assert_eq!(sum, level.latency_ns_total);
    assert_eq!(
        level
            .bottlenecks
            .iter()
            .find(|b| b.operation == "query")
            .unwrap()
            .cp_ns_total,
        10 * (n - 1)
    );
}

#[test]
fn in_a_folder_an_unrecognized_file_is_ledgered_not_fatal() {
    let dir = temp_dir("folder");
    std::fs::write(dir.join("README.md"), "# notes\n").unwrap();
    std::fs::write(dir.join("t.jsonl"), format!("{SPAN_LINE}\n")).unwrap();
    let dataset = read(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(dataset.spans.len(), 1);
    let readme = dataset
        .inputs
        .iter()
        .find(|i| i.path.ends_with("README.md"))
        .unwrap();
    assert_eq!(
        (readme.format.as_str(), readme.records, readme.skipped),
        ("unrecognized", 1, 1)
    );
    assert_eq!(
        readme.skip_examples[&SkipReason::UnrecognizedFile],
        "matches no input format; it begins with: \"# notes\""
    );

    let empty = temp_dir("empty-folder");
    let err = read(std::slice::from_ref(&empty)).unwrap_err().to_string();
    assert!(err.contains("no files found"), "{err}");
    std::fs::write(empty.join("notes.txt"), "hello\n").unwrap();
    let err = read(&[empty]).unwrap_err().to_string();
    assert!(err.contains("notes.txt: not a recognized input"), "{err}");
}

#[test]
fn a_log_whose_prefix_does_not_match_the_one_given_says_which_would() {
    let dir = temp_dir("pg-prefix");
    let path = dir.join("postgresql.log");
    std::fs::write(
        &path,
        "2024-03-01 10:00:00.123 UTC [42] app@shop LOG:  duration: 1.234 ms  statement: SELECT 1\n",
    )
    .unwrap();
    let out = run(
        &dir,
        &[
            "analyze",
            path.to_str().unwrap(),
            "--pg-prefix",
            "%t [%p]: user=%u ",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("postgresql.log") && stderr.contains("prefix"),
        "{stderr}"
    );
    assert!(stderr.contains("--pg-prefix '%m [%p] %u@%d '"), "{stderr}");
    // Without --pg-prefix the prefix is inferred and the query counted.
    let out = run(&dir, &["analyze", path.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["queries"][0]["calls"], 1);
    assert_eq!(report["queries"][0]["databases"][0], "shop");
}

#[test]
fn a_truncated_multi_line_statement_and_a_broken_csv_quote_are_read_as_far_as_they_go() {
    let dir = temp_dir("db-truncated");
    let log = dir.join("cut.log");
    std::fs::write(
        &log,
        "2024-03-01 10:00:00.123 UTC [42] LOG:  duration: 2 ms  statement: SELECT 1\n\
         2024-03-01 10:00:00.124 UTC [42] LOG:  duration: 1.5 ms  statement: SELECT a,\n\tb FROM",
    )
    .unwrap();
    let stats = chokepoint::ingest::read_file(&log, &Default::default())
        .unwrap()
        .statements;
    assert_eq!(stats.iter().map(|s| s.calls).sum::<u64>(), 2);
    let csv = dir.join("broken.csv");
    std::fs::write(
        &csv,
        "2024-03-01 10:00:00.123 UTC,\"u\",\"db\",42,\"h\",s,1,\"SELECT\",x,1/1,0,LOG,00000,\"duration: 1.000 ms  statement: SELECT 1\",,,,,,,,,\"app\"\n\
         2024-03-01 10:00:00.124 UTC,\"u\",\"db\",42,\"h\",s,1,\"SELECT\",x,1/1,0,LOG,00000,\"duration: 1.000 ms  statement: SELECT 2,,,,,,,,,app\n",
    )
    .unwrap();
    let contents = chokepoint::ingest::read_file(&csv, &Default::default()).unwrap();
    assert_eq!(contents.statements.iter().map(|s| s.calls).sum::<u64>(), 1);
    assert_eq!(contents.ledger.skip_reasons[&SkipReason::Malformed], 1);
}

#[test]
fn a_100_mb_statement_on_one_line_is_read_between_its_neighbours() {
    let dir = temp_dir("db-huge-line");
    let log = dir.join("huge.log");
    let mut text = String::with_capacity(101 << 20);
    text.push_str("2024-03-01 10:00:00.100 UTC [42] LOG:  duration: 2 ms  statement: SELECT 1\n");
    text.push_str("2024-03-01 10:00:00.200 UTC [42] LOG:  duration: 3 ms  statement: SELECT '");
    text.extend(std::iter::repeat_n('x', 100 << 20));
    text.push_str(
        "'\n2024-03-01 10:00:00.300 UTC [42] LOG:  duration: 4 ms  statement: SELECT 1\n",
    );
    std::fs::write(&log, &text).unwrap();
    drop(text);
    // Under the 256 MiB record cap: read whole, folded with `SELECT 1` into one fingerprint,
    // and nothing lost.
    let report = crate::common::analyze_json(&dir, &["huge.log"]);
    assert_eq!(report.inputs[0].skipped, 0);
    let classes: Vec<(&str, u64, u64)> = report
        .queries
        .iter()
        .map(|q| (q.fingerprint.as_str(), q.calls, q.total_ns))
        .collect();
    assert_eq!(classes, [("select ?", 3, 9_000_000)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A byte that is not UTF-8 in one CSV row (a Latin-1 `é`) costs that character, not the row
/// nor the rows after it: every row of a csvlog and of a pg_stat_statements dump is read.
#[test]
fn a_latin_1_byte_in_a_csv_row_loses_nothing() {
    let dir = temp_dir("latin-1");
    let mut csvlog = Vec::new();
    for i in 0..300 {
        let statement: &[u8] = if i == 10 {
            b"SELECT 'caf\xe9'"
        } else {
            b"SELECT 1"
        };
        csvlog.extend_from_slice(
            format!(
                "2026-12-05 10:00:{:02}.000 UTC,shop,shop,42,127.0.0.1:5000,s1,1,SELECT,2026-12-05 10:00:00 UTC,3/1,0,LOG,00000,\"duration: 1.000 ms  statement: ",
                i % 60
            )
            .as_bytes(),
        );
        csvlog.extend_from_slice(statement);
        csvlog.extend_from_slice(b"\",,,,,,,,,orders,client backend,,0\n");
    }
    let mut pgss = b"userid,dbid,queryid,query,calls,total_exec_time,rows\n".to_vec();
    for i in 0..100 {
        let query: &[u8] = if i == 3 { b"select \xe9" } else { b"select 2" };
        pgss.extend_from_slice(format!("1,1,{i},\"").as_bytes());
        pgss.extend_from_slice(query);
        pgss.extend_from_slice(b"\",10,5.0,10\n");
    }
    for (name, bytes, rows, calls) in [("log.csv", csvlog, 300, 300), ("pgss.csv", pgss, 100, 1000)]
    {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let dataset = crate::common::read(&[path]).unwrap();
        let input = &dataset.inputs[0];
        assert_eq!(
            (input.records, input.skipped),
            (rows, 0),
            "{name}: {input:?}"
        );
        let read: u64 = dataset.statements.iter().map(|s| s.calls).sum();
        assert_eq!(read, calls, "{name}");
    }
}

/// Span and service names with terminal escape sequences and newlines reach the terminal
/// summary escaped: no screen clear, no window title, no forged line.
#[test]
fn input_text_cannot_drive_the_terminal() {
    use chokepoint::model::SpanKind;
    let mut maker = crate::common::SpanMaker::new();
    let evil_service = "api\x1b]0;owned\x07";
    let evil_name = "GET /x\x1b[2J\nlevel all: 0 requests, forged";
    let spans = (1..=3)
        .map(|t| {
            let start = t as i64 * 1_000_000_000;
            maker.span(
                t,
                1,
                0,
                start,
                start + 5_000_000,
                evil_service,
                evil_name,
                SpanKind::Server,
            )
        })
        .collect();
    let report = crate::common::analyze(&crate::common::dataset(spans, maker), &Default::default());
    let text = chokepoint::report::terminal::render(&report);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(
        !text.lines().any(|l| l.starts_with("level all: 0 requests")),
        "{text}"
    );
    assert!(text.contains("\\u{1b}[2J\\nlevel all"), "{text}");
}

/// In a folder, an empty file, a dangling link and a file that matches no format are ledger
/// entries with a warning, and the run goes on with the rest; one file named twice (`f` and
/// `./f`, or through a link) is read once.
#[test]
fn a_bad_file_in_a_folder_is_counted_and_a_file_named_twice_is_read_once() {
    let dir = temp_dir("folder-partial");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = "2026-12-05 10:00:01.000 UTC [42] LOG:  duration: 2.000 ms  statement: SELECT 1\n";
    std::fs::write(logs.join("good.log"), log).unwrap();
    std::fs::write(logs.join("rotated.log"), "").unwrap();
    std::fs::write(logs.join("notes.txt"), "hello\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("gone.log"), logs.join("dangling.log")).unwrap();
    let dataset = crate::common::read(std::slice::from_ref(&logs)).unwrap();
    let formats: Vec<(&str, &str)> = dataset
        .inputs
        .iter()
        .map(|i| {
            let name = i.path.rsplit('/').next().unwrap();
            (name, i.format.as_str())
        })
        .collect();
    let mut expected = vec![
        ("good.log", "pg-stderr"),
        ("notes.txt", "unrecognized"),
        ("rotated.log", "unreadable"),
    ];
    if cfg!(unix) {
        expected.insert(0, ("dangling.log", "unreadable"));
    }
    assert_eq!(formats, expected);
    assert_eq!(dataset.statements.iter().map(|s| s.calls).sum::<u64>(), 1);
    // Named on the command line, the empty file is an error.
    assert!(crate::common::read(&[logs.join("rotated.log")]).is_err());
    // The same file twice, by two paths: read once.
    let good = logs.join("good.log");
    let again = logs.join(".").join("good.log");
    let dataset = crate::common::read(&[good, again]).unwrap();
    assert_eq!(dataset.inputs.len(), 1);
    assert_eq!(dataset.statements.iter().map(|s| s.calls).sum::<u64>(), 1);
}

/// Found by fuzzing (`inputs`): two pg_stat_statements rows whose times add up past 2^64 ns
/// overflowed the profile's total (a panic in debug builds, a wrapped sum in release). Sums of
/// numbers read from input saturate.
#[test]
fn statement_times_adding_up_past_2_to_the_64_saturate() {
    let dir = temp_dir("pgss-overflow");
    let path = dir.join("pgss.csv");
    std::fs::write(
        &path,
        "queryid,query,calls,total_exec_time,rows\n\
         1,select 1,18446744073709551615,18000000000000,1\n\
         2,select 2,18446744073709551615,18000000000000,1\n",
    )
    .unwrap();
    let dataset = crate::common::read(&[path]).unwrap();
    let report = crate::common::analyze(&dataset, &Default::default());
    assert_eq!(report.statements_total.calls, u64::MAX);
    assert_eq!(report.statements_total.total_ms, u64::MAX as f64 / 1e6);
}

/// A compression bomb in a format read whole (a pg_stat_statements CSV padded to 300 MiB,
/// zstd-compressed to a few kilobytes) is an error naming the cap, not a read of 300 MiB and
/// more.
#[test]
fn a_bomb_in_a_format_read_whole_stops_at_the_cap() {
    use std::io::Write;
    let dir = temp_dir("bomb");
    let path = dir.join("pgss.csv.zst");
    let mut encoder = zstd::stream::Encoder::new(std::fs::File::create(&path).unwrap(), 1).unwrap();
    encoder
        .write_all(b"queryid,query,calls,total_exec_time\n1,\"select 1")
        .unwrap();
    let padding = vec![b' '; 1 << 20];
    for _ in 0..300 {
        encoder.write_all(&padding).unwrap();
    }
    encoder.write_all(b"\",1,1.0\n").unwrap();
    encoder.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
    let error = crate::common::read(&[path]).unwrap_err().to_string();
    assert!(error.contains("over 256 MiB"), "{error}");
}

/// A pg_stat_statements row whose total time is missing, empty or not a number is skipped and
/// counted, never read as 0 ms for its calls; a row without calls is too.
#[test]
fn a_pg_stat_statements_row_without_a_readable_time_is_counted_not_zero() {
    let dir = temp_dir("pgss-times");
    let path = dir.join("pgss.csv");
    std::fs::write(
        &path,
        "queryid,query,calls,total_exec_time,rows\n\
         1,select 1,10,NaN,1\n\
         2,select 2,10,,1\n\
         3,select 3,abc,5.0,1\n\
         4,select 4\n\
         5,select 5,10,-3,1\n\
         6,select 6,10,2.5,1\n",
    )
    .unwrap();
    let dataset = crate::common::read(&[path]).unwrap();
    let input = &dataset.inputs[0];
    assert_eq!((input.records, input.skipped), (6, 5), "{input:?}");
    let read: Vec<(u64, u64)> = dataset
        .statements
        .iter()
        .map(|s| (s.calls, s.total_ns))
        .collect();
    assert_eq!(read, [(10, 2_500_000)]);
}

/// OTLP JSON lines copied from the middle of a stream: the first line is the end of an object.
/// The file is still recognized; the cut line is one malformed record and the rest are read.
#[test]
fn a_number_past_2_to_the_64_is_counted_out_of_range_in_every_database_format() {
    let dir = temp_dir("out-of-range");
    let pgss = dir.join("pgss.csv");
    std::fs::write(
        &pgss,
        "query,calls,total_exec_time,rows\n\
         select 1,18446744073709551616,5.0,1\n\
         select 2,10,1e300,1\n\
         select 3,10,5.0,184467440737095516160\n\
         select 4,10,2.5,1\n",
    )
    .unwrap();
    let pglog = dir.join("postgresql.log");
    std::fs::write(
        &pglog,
        "2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 99999999999999999999.5 ms  statement: select 1\n\
         2024-05-01 10:00:01.000 UTC [7] LOG:  duration: 1.5 ms  statement: select 2\n",
    )
    .unwrap();
    let mysql = dir.join("slow.log");
    std::fs::write(
        &mysql,
        "# Time: 2024-05-01T10:00:00.000000Z\n\
         # Query_time: 99999999999999999999  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 1\n\
         SET timestamp=1714557600;\nselect 1;\n\
         # Time: 2024-05-01T10:00:01.000000Z\n\
         # Query_time: 0.001000  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 99999999999999999999\n\
         SET timestamp=1714557601;\nselect 2;\n\
         # Time: 2024-05-01T10:00:02.000000Z\n\
         # Query_time: 0.002000  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 1\n\
         SET timestamp=1714557602;\nselect 3;\n",
    )
    .unwrap();
    for (path, out_of_range, used) in [(pgss, 3, 1), (pglog, 1, 1), (mysql, 2, 1)] {
        let dataset = read(std::slice::from_ref(&path)).unwrap();
        let input = &dataset.inputs[0];
        assert_eq!(
            input.skip_reasons.get(&SkipReason::NumberOutOfRange),
            Some(&out_of_range),
            "{input:?}"
        );
        assert_eq!(input.records - input.skipped, used, "{input:?}");
        assert!(
            dataset.statements.iter().all(|s| s.total_ns < 1 << 40),
            "{path:?}: no number was cut to fit"
        );
    }
}

#[test]
fn a_multi_byte_character_where_a_time_is_expected_panics_nowhere() {
    // Both panicked once: the prefix inference sliced inside the euro sign, and so did the
    // syslog date reader that format recognition runs on every file's first lines.
    let dir = temp_dir("euro-times");
    std::fs::write(
        dir.join("a.log"),
        "2024-05-01 10:00:0\u{20ac} UTC [7] LOG:  duration: 1.5 ms  statement: select 1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.log"),
        "Feb 1\u{20ac}x:00:00 host postgres[1]: [1-1] LOG:  duration: 1.5 ms  statement: select 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("c.jsonl"), format!("{SPAN_LINE}\n")).unwrap();
    let dataset = read(&[dir]).unwrap();
    assert_eq!(dataset.spans.len(), 1);
    assert_eq!(dataset.inputs.len(), 3, "{:?}", dataset.inputs);
}

#[test]
fn a_cut_first_line_does_not_make_a_file_unreadable() {
    let dir = temp_dir("cut-first-line");
    let whole = dir.join("whole.jsonl");
    let cut = dir.join("cut.jsonl");
    let options = chokepoint_synth::Options {
        traces: 40,
        traces_per_message: 10,
        ..Default::default()
    };
    let mut text = Vec::new();
    chokepoint_synth::write_json(&options, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let mut rows: Vec<&str> = text.lines().collect();
    assert!(rows.len() >= 3);
    std::fs::write(&whole, rows.join("\n") + "\n").unwrap();
    let first = rows[0];
    rows[0] = &first[first.len() / 2..];
    std::fs::write(&cut, rows.join("\n") + "\n").unwrap();
    let spans = |path: &std::path::Path| {
        let dataset = crate::common::read(&[path.to_path_buf()]).unwrap();
        (dataset.inputs[0].skipped, dataset.spans.len())
    };
    let (skipped, all) = spans(&whole);
    assert_eq!(skipped, 0);
    let (skipped, some) = spans(&cut);
    assert_eq!(skipped, 1);
    assert!(some > 0 && some < all, "{some} of {all}");
}
