//! The chunk engine: a stream cut into chunks of whole records (by lines, by a format's record
//! starts, or by CSV rows), handed in groups to parallel parse tasks and merged back in file
//! order. A record longer than the cap is skipped without being held, and counted, so memory
//! stays bounded whatever the input.

use super::statements::StatementBatch;
use crate::error::{Error, Result};
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::Source;
use rayon::prelude::*;
use std::io::{BufRead, Read};
use std::path::Path;

/// Bytes of whole lines handed to one parse task.
pub const CHUNK_BYTES: usize = 8 << 20;
/// Bytes of a database log handed to one parse task: twice a trace file's, since each run of
/// chunks leaves a batch of its distinct statements to create and merge (a log of 10,000
/// statements has most of them in every chunk): 10% less CPU on such a log than with 8 MiB,
/// for 5% more peak memory; 32 MiB saved little more for 50% more memory.
pub const LOG_CHUNK_BYTES: usize = 16 << 20;
/// The longest single record (line or message) accepted; longer ones are skipped and counted.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// The end of the last whole line of `buf`, 0 when there is none.
pub fn line_cut(buf: &[u8]) -> usize {
    memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1)
}

/// The start of the last complete line of `buf` (after its first line) at which `is_start`
/// says a record begins, given the line before it; 0 when there is none.
pub fn record_cut(buf: &[u8], is_start: impl Fn(&[u8], &[u8]) -> bool) -> usize {
    let complete = line_cut(buf);
    let mut end = complete;
    // Walk line starts backwards: `start` is the start of the line ending at `end`.
    while end > 0 {
        let start = memchr::memrchr(b'\n', &buf[..end - 1]).map_or(0, |i| i + 1);
        if start == 0 {
            return 0;
        }
        let previous_start = memchr::memrchr(b'\n', &buf[..start - 1]).map_or(0, |i| i + 1);
        let line = &buf[start..end - 1];
        let previous = &buf[previous_start..start - 1];
        if is_start(previous, line) {
            return start;
        }
        end = start;
    }
    0
}

/// The end of the last line of `buf` that ends outside a quoted CSV field (quotes inside
/// fields are doubled, so an even count of quotes before a newline means it ends a row).
pub fn csv_cut(buf: &[u8]) -> usize {
    let mut quotes = 0usize;
    let mut cut = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            quotes += 1;
        } else if quotes.is_multiple_of(2) {
            cut = i + 1;
        }
    }
    cut
}

/// Splits a stream into chunks that end where a record starts (`cut` gives the length of the
/// whole records at the start of a buffer), parses groups of chunks in parallel and merges
/// their statements in file order. A record longer than [`MAX_RECORD_BYTES`] is skipped and
/// counted, so memory stays bounded.
///
/// Each thread parses a run of neighbouring chunks of a group into one batch (`parse` adds a
/// chunk's statements to a batch), so a group leaves one batch a thread to merge, not one a
/// chunk: with thousands of distinct statements, most are in every chunk, and creating and
/// merging them per chunk was a third of a run.
pub fn read_statements(
    path: &Path,
    reader: &mut (impl BufRead + Send),
    chunk_bytes: usize,
    cut: &(dyn Fn(&[u8]) -> usize + Sync),
    source: Source,
    parse: &(dyn Fn(&mut StatementBatch, &[u8], u64) + Sync),
) -> Result<StatementBatch> {
    let mut merged: Option<StatementBatch> = None;
    let merge = |merged: &mut Option<StatementBatch>, parsed: Vec<StatementBatch>| {
        for batch in parsed {
            match merged {
                Some(m) => m.merge(batch),
                None => *merged = Some(batch),
            }
        }
    };
    // A group's batches merge (in file order, on one thread) while the next group is parsed.
    let mut parsed: Vec<StatementBatch> = Vec::new();
    let too_large = for_each_chunk_group(
        path,
        reader,
        chunk_bytes,
        MAX_RECORD_BYTES,
        cut,
        &mut |group| {
            let previous = std::mem::take(&mut parsed);
            let run = group.len().div_ceil(rayon::current_num_threads());
            let ((), next) = rayon::join(
                || merge(&mut merged, previous),
                || {
                    group
                        .par_iter()
                        .with_min_len(run)
                        .fold(
                            || StatementBatch::new(source),
                            |mut batch, (chunk, first)| {
                                parse(&mut batch, chunk, *first);
                                batch
                            },
                        )
                        .collect()
                },
            );
            parsed = next;
        },
    )?;
    merge(&mut merged, parsed);
    let mut merged = merged.unwrap_or_default();
    merged.ledger.merge(too_large);
    Ok(merged)
}

/// Whole records of a file and the number of their first line.
pub type Chunk = (Vec<u8>, u64);

/// Reads `reader` in chunks cut by `cut` and hands groups of chunks (with the number of their
/// first line) to `each`, in file order. The next group is read (and decompressed) while `each`
/// parses the current one, so that reading overlaps parsing; the buffers of a parsed group are
/// read into again. A line that leaves no cut within `max_record` bytes is skipped, without
/// being held; the returned ledger counts such lines.
pub fn for_each_chunk_group(
    path: &Path,
    reader: &mut (impl BufRead + Send),
    chunk_bytes: usize,
    max_record: usize,
    cut: &(dyn Fn(&[u8]) -> usize + Sync),
    each: &mut (dyn FnMut(&[Chunk]) + Send),
) -> Result<InputLedger> {
    let mut splitter = Splitter {
        group: 2 * rayon::current_num_threads(),
        chunk_bytes,
        max_record,
        carry: Vec::new(),
        spare: Vec::new(),
        next_line: 1,
        too_large: InputLedger::default(),
        eof: false,
    };
    let mut current = splitter.read_group(path, reader, cut)?;
    loop {
        if splitter.eof {
            if !current.is_empty() {
                each(&current);
            }
            return Ok(splitter.too_large);
        }
        let (_, next) = rayon::join(|| each(&current), || splitter.read_group(path, reader, cut));
        splitter.recycle(&mut current);
        current = next?;
    }
}

/// Where [`for_each_chunk_group`] is in its stream.
struct Splitter {
    /// Chunks in a group.
    group: usize,
    chunk_bytes: usize,
    max_record: usize,
    /// The start of a record the last chunk cut off.
    carry: Vec<u8>,
    /// Buffers of chunks already parsed, read into again: a chunk's buffer is allocated (and
    /// its pages touched) once, not once per chunk.
    spare: Vec<Vec<u8>>,
    /// The line the next chunk starts at.
    next_line: u64,
    /// Lines over the record cap.
    too_large: InputLedger,
    eof: bool,
}

impl Splitter {
    /// The next group of chunks (fewer at the end of the stream).
    fn read_group(
        &mut self,
        path: &Path,
        reader: &mut impl BufRead,
        cut: &(dyn Fn(&[u8]) -> usize + Sync),
    ) -> Result<Vec<Chunk>> {
        let mut pending: Vec<Chunk> = Vec::new();
        while pending.len() < self.group && !self.eof {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.append(&mut self.carry);
            // Grow geometrically while one record fills the buffer, so a long record is read
            // in linear time, and never past the record cap.
            let want = self
                .chunk_bytes
                .saturating_sub(buf.len())
                .max(buf.len())
                .max(self.chunk_bytes.min(1 << 16))
                .min((self.max_record + 1).saturating_sub(buf.len()).max(1));
            // Reserved exactly: left to itself, `read_to_end` would double the buffer past it.
            buf.reserve_exact(want);
            let n = reader
                .take(want as u64)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(path, e))?;
            self.eof = n == 0;
            let at = if self.eof { buf.len() } else { cut(&buf) };
            if at == 0 && !self.eof {
                if buf.len() > self.max_record {
                    let line = self.next_line;
                    let max = self.max_record;
                    self.too_large.skip_record(SkipReason::TooLarge, || {
                        format!("line {line}: longer than {max} bytes")
                    });
                    skip_past_newline(path, reader)?;
                    self.next_line += 1;
                } else {
                    self.carry = buf;
                }
                continue;
            }
            self.carry = buf.split_off(at);
            if !buf.is_empty() {
                let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
                pending.push((buf, self.next_line));
                self.next_line += lines;
            }
        }
        Ok(pending)
    }
}

impl Splitter {
    /// Keeps the buffers of a parsed group (as many as two groups use) for the next reads.
    fn recycle(&mut self, parsed: &mut Vec<Chunk>) {
        for (mut buf, _) in parsed.drain(..) {
            if self.spare.len() < 2 * self.group {
                buf.clear();
                self.spare.push(buf);
            }
        }
    }
}

/// Reads past the end of the current line (or to the end of the stream).
pub fn skip_past_newline(path: &Path, reader: &mut impl BufRead) -> Result<()> {
    loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if buf.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// A whole file in memory, for the formats that cannot be split, up to [`MAX_RECORD_BYTES`]
/// decompressed: a larger one (a compression bomb, a runaway dump) is an error naming the cap,
/// never a read of all the machine's memory.
pub fn read_whole(path: &Path, reader: &mut impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_RECORD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(Error::Parse {
            path: path.into(),
            format: "input",
            location: String::new(),
            message: format!(
                "one document over {} MiB (decompressed), the most read whole; split it \
                 (one JSON object or message per line or frame)",
                MAX_RECORD_BYTES >> 20
            ),
        });
    }
    Ok(bytes)
}

/// The lines of `bytes` split at `\n` (the last one empty when `bytes` ends with a newline), found
/// with memchr rather than byte by byte.
pub fn byte_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain([bytes.len()])
        .map(move |end| {
            let line = &bytes[start..end];
            start = end + 1;
            line
        })
}

/// The lines of a chunk of a text log, without their `\r\n`; a chunk of valid UTF-8 (the usual
/// case) is checked once, not per line.
pub fn chunk_lines(chunk: &[u8]) -> Box<dyn Iterator<Item = std::borrow::Cow<'_, str>> + '_> {
    let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    match std::str::from_utf8(chunk) {
        Ok(text) => Box::new(
            text.split('\n')
                .map(|l| std::borrow::Cow::Borrowed(l.strip_suffix('\r').unwrap_or(l))),
        ),
        Err(_) => Box::new(
            byte_lines(chunk).map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l))),
        ),
    }
}

/// Calls `on_row` with each CSV row of `bytes`: the reader's line where the row starts
/// (1-based), the byte offset after it, and the row or why it could not be read. A row whose
/// fields are not UTF-8 is decoded lossily (a stray Latin-1 byte costs its character, not the
/// row); after any other error reading goes on with the next row, unless the reader is stuck.
pub fn for_each_csv_row(
    mut reader: csv::Reader<&[u8]>,
    bytes: &[u8],
    mut on_row: impl FnMut(u64, usize, csv::Result<&csv::StringRecord>),
) {
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let at = reader.position().byte();
        let read = read_csv_row(&mut reader, &mut record, bytes, at);
        let end = reader.position().byte() as usize;
        match read {
            Ok(false) => break,
            Ok(true) => on_row(line, end, Ok(&record)),
            Err(e) => {
                on_row(line, end, Err(e));
                if end as u64 == at {
                    break;
                }
            }
        }
    }
}

/// Reads the next CSV row into `record`, again as bytes decoded lossily when its fields are
/// not UTF-8 (the row starting at byte `at`). Other errors are the reader's.
fn read_csv_row(
    reader: &mut csv::Reader<&[u8]>,
    record: &mut csv::StringRecord,
    bytes: &[u8],
    at: u64,
) -> csv::Result<bool> {
    match reader.read_record(record) {
        Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
            let end = reader.position().byte() as usize;
            let row = bytes.get(at as usize..end).unwrap_or_default();
            let mut again = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(row);
            let mut raw = csv::ByteRecord::new();
            again.read_byte_record(&mut raw)?;
            *record = csv::StringRecord::from_byte_record_lossy(raw);
            Ok(true)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Format, mysql_slow, pglog};
    use crate::model::query::StatementStats;
    use proptest::prelude::*;

    /// A log of every shape the chunk cuts must respect: multi-line statements, DETAIL lines
    /// after their entry, non-query entries.
    fn pg_log() -> String {
        let mut log = String::new();
        for i in 0..300 {
            let t = format!(
                "2024-05-01 10:{:02}:{:02}.{:03} UTC [{}] u@db ",
                i / 60 % 60,
                i % 60,
                i % 1000,
                100 + i % 7
            );
            match i % 5 {
                0 => {
                    log += &format!(
                        "{t}LOG:  duration: {i}.{i:03} ms  statement: SELECT a,\n\t b FROM t WHERE id = {i}\n"
                    )
                }
                1 => {
                    log += &format!(
                        "{t}LOG:  duration: 0.{i:03} ms  execute S_1: SELECT * FROM u WHERE x = $1\n{t}DETAIL:  parameters: $1 = '{i}'\n"
                    )
                }
                2 => log += &format!("{t}LOG:  checkpoint starting: time\n"),
                // Bind and execute of one call carry one trace context: kept once, however
                // the chunks cut between them.
                3 => {
                    let sql = format!(
                        "SELECT * FROM u WHERE x = $1 /*traceparent='00-{i:032x}-{i:016x}-01'*/"
                    );
                    log += &format!(
                        "{t}LOG:  duration: 1.5 ms  bind S_1: {sql}\n{t}LOG:  duration: 2.5 ms  execute S_1: {sql}\n"
                    )
                }
                _ => log += &format!("{t}ERROR:  boom\n{t}STATEMENT:  SELECT {i}\n"),
            }
        }
        log
    }

    fn mysql_log() -> String {
        let mut log = String::from("/usr/sbin/mysqld, Version: 8.0. started with:\n");
        for i in 0..300 {
            if i % 3 == 0 {
                log += &format!("# Time: 2024-05-01T10:00:{:02}.000000Z\n", i % 60);
            }
            log += &format!(
                "# User@Host: a[a] @ h [1.2.3.4]  Id: {i}\n# Query_time: 0.{i:06}  Lock_time: 0.000001 Rows_sent: {i}  Rows_examined: {}\nuse db{};\nSELECT *\nFROM t WHERE id = {i};\n",
                i * 10,
                i % 3
            );
        }
        log
    }

    fn read_in_chunks(
        text: &str,
        chunk_bytes: usize,
        format: Format,
    ) -> (Vec<StatementStats>, InputLedger) {
        let path = Path::new("t.log");
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        let rule = pglog::PrefixRule {
            prefix: pglog::detect_prefix(pglog::Layout::Stderr, text.as_bytes()),
            strict: false,
        };
        let batch = match format {
            Format::MysqlSlow => {
                let cut = |buf: &[u8]| record_cut(buf, mysql_slow::is_record_start);
                read_statements(
                    path,
                    &mut reader,
                    chunk_bytes,
                    &cut,
                    Source::MysqlSlow,
                    &mysql_slow::parse_chunk,
                )
                .unwrap()
            }
            _ => {
                let cut = |buf: &[u8]| {
                    record_cut(buf, |_, line| {
                        pglog::is_record_start(pglog::Layout::Stderr, line)
                    })
                };
                let parse = |batch: &mut StatementBatch, chunk: &[u8], first: u64| {
                    pglog::parse_chunk(batch, pglog::Layout::Stderr, &rule, chunk, first)
                };
                read_statements(path, &mut reader, chunk_bytes, &cut, Source::PgLog, &parse)
                    .unwrap()
            }
        };
        let mut ledger = InputLedger::default();
        let stats = batch.finish(&mut ledger);
        (stats, ledger)
    }

    proptest! {
        #[test]
        fn byte_lines_are_the_lines_split_gives(bytes in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'a'), any::<u8>()], 0..200)) {
            let split: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            prop_assert_eq!(byte_lines(&bytes).collect::<Vec<_>>(), split);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn chunked_parsing_equals_sequential_parsing(chunk_bytes in 64usize..6000) {
            for (text, format) in [(pg_log(), Format::PgStderr), (mysql_log(), Format::MysqlSlow)] {
                let whole = read_in_chunks(&text, usize::MAX / 4, format);
                let chunked = read_in_chunks(&text, chunk_bytes, format);
                prop_assert_eq!(&chunked, &whole);
                prop_assert!(whole.0.iter().map(|s| s.calls).sum::<u64>() >= 180);
            }
        }
    }

    #[test]
    fn a_huge_line_in_a_log_is_skipped_and_counted() {
        let mut log = pg_log();
        log.insert_str(0, &format!("2024-05-01 10:00:00.000 UTC [1] u@db LOG:  duration: 1 ms  statement: SELECT '{}'\n", "x".repeat(3_000_000)));
        let path = Path::new("t.log");
        let rule = pglog::PrefixRule {
            prefix: None,
            strict: false,
        };
        let cut = |buf: &[u8]| {
            record_cut(buf, |_, line| {
                pglog::is_record_start(pglog::Layout::Stderr, line)
            })
        };
        let mut reader = std::io::Cursor::new(log.into_bytes());
        let mut batch = StatementBatch::new(Source::PgLog);
        let too_large =
            for_each_chunk_group(path, &mut reader, 1 << 16, 1 << 20, &cut, &mut |group| {
                for (chunk, first) in group {
                    pglog::parse_chunk(&mut batch, pglog::Layout::Stderr, &rule, chunk, *first);
                }
            })
            .unwrap();
        assert_eq!(too_large.skip_reasons[&SkipReason::TooLarge], 1);
        assert!(too_large.skip_examples[&SkipReason::TooLarge].starts_with("line 1: longer than"));
        let stats = batch.into_statements();
        assert_eq!(
            stats.iter().map(|s| s.calls).sum::<u64>(),
            180,
            "every other query is read"
        );
    }

    #[test]
    fn a_line_over_the_cap_is_skipped_and_counted_and_reading_goes_on() {
        let span = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let huge = format!(
            "{{\"resourceSpans\":[],\"pad\":\"{}\"}}",
            "x".repeat(300_000)
        );
        let input = format!("{span}\n{huge}\n{span}\n");
        let batches = crate::ingest::otlp::framing::read_json_lines(
            Path::new("t.jsonl"),
            &mut std::io::Cursor::new(input),
            CHUNK_BYTES,
            100_000,
            None,
        )
        .unwrap();
        let spans: usize = batches.iter().map(|b| b.spans.len()).sum();
        let mut ledger = InputLedger::default();
        for b in batches {
            ledger.merge(b.ledger);
        }
        assert_eq!(spans, 2);
        assert_eq!(ledger.skip_reasons.get(&SkipReason::TooLarge), Some(&1));
        assert_eq!(
            ledger.skip_examples[&SkipReason::TooLarge],
            "line 2: longer than 100000 bytes"
        );
    }
}
