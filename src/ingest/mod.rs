//! Reading inputs: files and folders (recursively), each file's format recognized from its
//! content, decompressed as a stream, parsed in parallel (files in parallel, and chunks of a
//! file in parallel where the format allows), and merged into one [`Dataset`] with a ledger per
//! file.

pub mod decompress;
pub mod mysql_slow;
pub mod otlp;
pub mod pglog;
pub mod pgss;
pub mod schema;
pub mod sniff;
pub mod statements;
pub mod time;

use crate::error::{Error, Result};
use crate::model::Dataset;
use crate::model::intern::remap;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::StatementStats;
use otlp::SpanBatch;
use rayon::prelude::*;
use statements::StatementBatch;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// An input format (the values of `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP/JSON traces: one object per line, or one document.
    OtlpJson,
    /// OTLP protobuf traces: one message, or length-prefixed messages.
    OtlpProto,
    /// PostgreSQL log, stderr destination, any `log_line_prefix`.
    PgStderr,
    /// PostgreSQL log through syslog.
    PgSyslog,
    /// PostgreSQL log from Heroku logplex.
    PgLogplex,
    /// PostgreSQL csvlog.
    PgCsvlog,
    /// PostgreSQL jsonlog, or the CloudNativePG and Cloud SQL JSON logs.
    PgJsonlog,
    /// MySQL, MariaDB or Percona slow query log.
    MysqlSlow,
    /// pg_stat_statements dump as CSV with a header.
    PgssCsv,
    /// pg_stat_statements dump as a JSON array or JSON lines.
    PgssJson,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 10] = [
        Format::OtlpJson,
        Format::OtlpProto,
        Format::PgStderr,
        Format::PgSyslog,
        Format::PgLogplex,
        Format::PgCsvlog,
        Format::PgJsonlog,
        Format::MysqlSlow,
        Format::PgssCsv,
        Format::PgssJson,
    ];

    /// The format a name (`otlp-json`, …) names.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OtlpJson => "otlp-json",
            Format::OtlpProto => "otlp-proto",
            Format::PgStderr => "pg-stderr",
            Format::PgSyslog => "pg-syslog",
            Format::PgLogplex => "pg-logplex",
            Format::PgCsvlog => "pg-csvlog",
            Format::PgJsonlog => "pg-jsonlog",
            Format::MysqlSlow => "mysql-slow",
            Format::PgssCsv => "pgss-csv",
            Format::PgssJson => "pgss-json",
        }
    }
}

/// Called with the number of (compressed) bytes read, as they are read, from any thread.
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// How to read inputs.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Force a format instead of recognizing it.
    pub format: Option<Format>,
    /// Told of the bytes read, when set (the binary's progress bar).
    pub progress: Option<Progress>,
    /// The `log_line_prefix` of PostgreSQL stderr and syslog logs; inferred from the lines when
    /// absent.
    pub pg_prefix: Option<String>,
    /// The attribute whose value names each span's load level (`--levels attr:KEY`), read from
    /// the span's attributes or else its resource's.
    pub level_attribute: Option<String>,
}

/// What one file held.
#[derive(Debug, Default)]
pub struct FileContents {
    /// Its ledger.
    pub ledger: InputLedger,
    /// Spans, in batches with their own strings.
    pub spans: Vec<SpanBatch>,
    /// Database statements.
    pub statements: Vec<StatementStats>,
}

/// Bytes of whole lines handed to one parse task.
const CHUNK_BYTES: usize = 8 << 20;
/// The longest single record (line or message) accepted; longer ones are skipped and counted.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputFile {
    /// Its path.
    pub path: PathBuf,
    /// Found while walking a folder rather than named.
    pub in_folder: bool,
}

/// Lists the files of `paths` (folders recursively), sorted and without repeats, so that the
/// order inputs are given in does not change the result.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    fn walk(path: &Path, in_folder: bool, out: &mut Vec<InputFile>) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            out.push(InputFile {
                path: path.to_path_buf(),
                in_folder,
            });
            return Ok(());
        }
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        for entry in entries {
            walk(&entry.map_err(|e| Error::io(path, e))?.path(), true, out)?;
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        walk(path, false, &mut files)?;
    }
    files.sort();
    files.dedup_by(|b, a| a.path == b.path);
    Ok(files)
}

/// Reads every input into one dataset. Fails on the first file (in path order) that cannot be
/// read or yields no usable record, or that matches no format when it was named; a file found
/// in a folder that matches no format is counted in the ledger instead. Fails when no file holds
/// a usable record.
pub fn read_inputs(paths: &[PathBuf], options: &Options) -> Result<Dataset> {
    let files = list_files(paths)?;
    let results: Vec<Result<FileContents>> = files
        .par_iter()
        .map(|file| read_file(&file.path, options))
        .collect();
    let mut dataset = Dataset::default();
    let mut unrecognized = None;
    for (file, result) in files.iter().zip(results) {
        let contents = match result {
            Err(Error::UnknownFormat { path, tried, head }) if file.in_folder => {
                let mut ledger = InputLedger {
                    path: path.display().to_string(),
                    format: "unrecognized".into(),
                    records: 1,
                    ..InputLedger::default()
                };
                ledger.skip(SkipReason::UnrecognizedFile, 1, || {
                    format!("matches no input format; it begins with: {head}")
                });
                unrecognized.get_or_insert(Error::UnknownFormat { path, tried, head });
                FileContents {
                    ledger,
                    ..FileContents::default()
                }
            }
            other => other?,
        };
        let input = u32::try_from(dataset.inputs.len()).expect("fewer than 2^32 input files");
        dataset
            .statements
            .extend(contents.statements.into_iter().map(|mut s| {
                s.input = input;
                s
            }));
        for batch in contents.spans {
            let table = dataset.strings.absorb(&batch.strings);
            dataset.spans.extend(batch.spans.into_iter().map(|mut s| {
                for sym in s.symbols_mut() {
                    *sym = remap(*sym, &table);
                }
                s.input = input;
                s
            }));
        }
        dataset.inputs.push(contents.ledger);
    }
    if dataset.spans.is_empty() && dataset.statements.is_empty() {
        let path = paths.first().cloned().unwrap_or_default();
        return Err(unrecognized.unwrap_or(Error::Empty {
            path,
            format: "input",
            detail: ": no files found".into(),
        }));
    }
    dataset.sort_spans();
    Ok(dataset)
}

/// Reads one file: recognizes, decompresses and parses it.
pub fn read_file(path: &Path, options: &Options) -> Result<FileContents> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let file = ProgressReader {
        inner: file,
        progress: options.progress.clone(),
    };
    let (_, mut reader) = decompress::open(file).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::with_capacity(sniff::HEAD_BYTES);
    (&mut reader)
        .take(sniff::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    if head.trim_ascii().is_empty() {
        return Err(Error::Empty {
            path: path.into(),
            format: "input",
            detail: ": the file is empty".into(),
        });
    }
    let format = match options.format.or_else(|| sniff::detect(&head)) {
        Some(format) => format,
        None => {
            let tried = Format::ALL.map(Format::as_str).join(", ");
            return Err(Error::UnknownFormat {
                path: path.into(),
                tried,
                head: sniff::describe_head(&head),
            });
        }
    };
    let layout = match format {
        Format::PgStderr => Some(pglog::Layout::Stderr),
        Format::PgSyslog => Some(pglog::Layout::Syslog {
            year: time::file_year(path),
        }),
        Format::PgLogplex => Some(pglog::Layout::Logplex),
        Format::PgCsvlog => Some(pglog::Layout::Csv),
        Format::PgJsonlog => Some(pglog::Layout::Json),
        _ => None,
    };
    let mut ledger = InputLedger {
        path: path.display().to_string(),
        format: format.as_str().into(),
        ..InputLedger::default()
    };
    let mut reader = std::io::Cursor::new(head).chain(reader);
    let head = reader.get_ref().0.get_ref();
    let mut contents = FileContents::default();
    let level_key = options.level_attribute.as_deref();
    match (format, layout) {
        (Format::OtlpJson, _) if sniff::is_json_lines(head) => {
            contents.spans =
                read_json_lines(path, &mut reader, CHUNK_BYTES, MAX_RECORD_BYTES, level_key)?
        }
        (Format::OtlpJson, _) => {
            contents.spans = vec![read_json_document(path, &mut reader, level_key)?]
        }
        (Format::OtlpProto, _) if otlp::proto::is_length_prefixed(head) => {
            contents.spans = read_proto_delimited(path, &mut reader, level_key)?
        }
        (Format::OtlpProto, _) => {
            contents.spans = vec![read_proto_message(path, &mut reader, level_key)?]
        }
        (_, Some(layout)) => {
            let rule = prefix_rule(
                path,
                layout,
                head,
                options.pg_prefix.as_deref(),
                &mut ledger,
            )?;
            let cut = |buf: &[u8]| match layout {
                pglog::Layout::Csv => csv_cut(buf),
                pglog::Layout::Json => line_cut(buf),
                _ => record_cut(buf, |_, line| pglog::is_record_start(layout, line)),
            };
            let parse = |chunk: &[u8], first: u64| pglog::parse_chunk(layout, &rule, chunk, first);
            let batch = read_statements(path, &mut reader, CHUNK_BYTES, &cut, &parse)?;
            contents.statements = finish_statements(batch, &mut ledger);
        }
        (Format::MysqlSlow, _) => {
            let cut = |buf: &[u8]| record_cut(buf, mysql_slow::is_record_start);
            let batch = read_statements(
                path,
                &mut reader,
                CHUNK_BYTES,
                &cut,
                &mysql_slow::parse_chunk,
            )?;
            contents.statements = finish_statements(batch, &mut ledger);
        }
        (Format::PgssCsv | Format::PgssJson, _) => {
            let bytes = read_whole(path, &mut reader)?;
            let batch = if format == Format::PgssCsv {
                pgss::parse_csv(&bytes)
            } else {
                pgss::parse_json(&bytes)
            };
            contents.statements = finish_statements(batch, &mut ledger);
        }
        _ => unreachable!("every log format has a layout"),
    }
    let spans: usize = contents.spans.iter().map(|b| b.spans.len()).sum();
    for batch in &mut contents.spans {
        ledger.merge(std::mem::take(&mut batch.ledger));
    }
    if spans == 0 && contents.statements.is_empty() {
        let what = if layout.is_some() || format == Format::MysqlSlow {
            "queries with a duration"
        } else {
            "spans"
        };
        let detail = match ledger.skip_examples.values().next() {
            Some(example) => format!(
                ": no {what}; {} record(s) skipped, first: {example}",
                ledger.skipped
            ),
            None => format!(": it holds no {what}"),
        };
        return Err(Error::Empty {
            path: path.into(),
            format: format.as_str(),
            detail,
        });
    }
    contents.ledger = ledger;
    Ok(contents)
}

/// The prefix rule of a PostgreSQL log: the one given, or the one inferred from the head (with
/// a note when none could be).
fn prefix_rule(
    path: &Path,
    layout: pglog::Layout,
    head: &[u8],
    given: Option<&str>,
    ledger: &mut InputLedger,
) -> Result<pglog::PrefixRule> {
    if let Some(text) = given {
        let prefix = pglog::prefix::Prefix::compile(text).map_err(|message| Error::Parse {
            path: path.into(),
            format: "pg-prefix",
            location: format!("--pg-prefix '{text}': "),
            message,
        })?;
        return Ok(pglog::PrefixRule {
            prefix: Some(prefix),
            strict: true,
        });
    }
    let prefix = pglog::detect_prefix(layout, head);
    if let Some(p) = &prefix {
        ledger.note("log_line_prefix", || {
            format!("inferred from the first lines: '{}'", p.text)
        });
    } else if matches!(layout, pglog::Layout::Stderr | pglog::Layout::Syslog { .. }) {
        ledger.note("log_line_prefix", || {
            format!(
                "not recognized, so times, processes and databases are unknown; give --pg-prefix; the file begins with: {}",
                sniff::describe_head(head)
            )
        });
    }
    Ok(pglog::PrefixRule {
        prefix,
        strict: false,
    })
}

fn finish_statements(mut batch: StatementBatch, ledger: &mut InputLedger) -> Vec<StatementStats> {
    ledger.merge(std::mem::take(&mut batch.ledger));
    batch.into_statements(0)
}

/// The end of the last whole line of `buf`, 0 when there is none.
fn line_cut(buf: &[u8]) -> usize {
    memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1)
}

/// The start of the last complete line of `buf` (after its first line) at which `is_start`
/// says a record begins, given the line before it; 0 when there is none.
fn record_cut(buf: &[u8], is_start: impl Fn(&[u8], &[u8]) -> bool) -> usize {
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
fn csv_cut(buf: &[u8]) -> usize {
    let mut quotes = 0usize;
    let mut cut = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            quotes += 1;
        } else if quotes % 2 == 0 {
            cut = i + 1;
        }
    }
    cut
}

/// Splits a stream into chunks that end where a record starts (`cut` gives the length of the
/// whole records at the start of a buffer), parses groups of chunks in parallel and merges
/// their statements in file order. A record longer than [`MAX_RECORD_BYTES`] is skipped and
/// counted, so memory stays bounded.
fn read_statements(
    path: &Path,
    reader: &mut impl BufRead,
    chunk_bytes: usize,
    cut: &(dyn Fn(&[u8]) -> usize + Sync),
    parse: &(dyn Fn(&[u8], u64) -> StatementBatch + Sync),
) -> Result<StatementBatch> {
    let mut merged: Option<StatementBatch> = None;
    let too_large = for_each_chunk_group(
        path,
        reader,
        chunk_bytes,
        MAX_RECORD_BYTES,
        cut,
        &mut |group| {
            let parsed: Vec<StatementBatch> = group
                .par_iter()
                .map(|(chunk, first)| parse(chunk, *first))
                .collect();
            for batch in parsed {
                match &mut merged {
                    Some(m) => m.merge(batch),
                    None => merged = Some(batch),
                }
            }
        },
    )?;
    let mut merged = merged.unwrap_or_default();
    merged.ledger.merge(too_large);
    Ok(merged)
}

/// Whole records of a file and the number of their first line.
type Chunk = (Vec<u8>, u64);

/// Reads `reader` in chunks cut by `cut` and hands groups of chunks (with the number of their
/// first line) to `each`, in file order. A line that leaves no cut within `max_record` bytes
/// is skipped, without being held; the returned ledger counts such lines.
fn for_each_chunk_group(
    path: &Path,
    reader: &mut impl BufRead,
    chunk_bytes: usize,
    max_record: usize,
    cut: &(dyn Fn(&[u8]) -> usize + Sync),
    each: &mut dyn FnMut(&mut Vec<Chunk>),
) -> Result<InputLedger> {
    let group = 2 * rayon::current_num_threads();
    let mut pending: Vec<Chunk> = Vec::new();
    let mut carry = Vec::new();
    let mut next_line = 1u64;
    let mut too_large = InputLedger::default();
    loop {
        let mut buf = std::mem::take(&mut carry);
        // Grow geometrically while one record fills the buffer, so a long record is read in
        // linear time, and never past the record cap.
        let want = chunk_bytes
            .saturating_sub(buf.len())
            .max(buf.len())
            .max(chunk_bytes.min(1 << 16))
            .min((max_record + 1).saturating_sub(buf.len()).max(1));
        let n = reader
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(path, e))?;
        let eof = n == 0;
        let at = if eof { buf.len() } else { cut(&buf) };
        if at == 0 && !eof {
            if buf.len() > max_record {
                too_large.skip_record(SkipReason::TooLarge, || {
                    format!("line {next_line}: longer than {max_record} bytes")
                });
                skip_past_newline(path, reader)?;
                next_line += 1;
            } else {
                carry = buf;
            }
            continue;
        }
        carry = buf.split_off(at);
        if !buf.is_empty() {
            let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
            pending.push((buf, next_line));
            next_line += lines;
        }
        if pending.len() >= group || eof {
            each(&mut pending);
            pending.clear();
        }
        if eof {
            return Ok(too_large);
        }
    }
}

/// Tells the progress callback of the compressed bytes read.
struct ProgressReader<R> {
    inner: R,
    progress: Option<Progress>,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p(n as u64);
        }
        Ok(n)
    }
}

/// Splits a stream into chunks of whole lines and parses groups of chunks in parallel. A line
/// longer than `max_record` bytes is skipped, without being held, and counted.
fn read_json_lines(
    path: &Path,
    reader: &mut impl BufRead,
    chunk_bytes: usize,
    max_record: usize,
    level_key: Option<&str>,
) -> Result<Vec<SpanBatch>> {
    let mut batches = Vec::new();
    let too_large = for_each_chunk_group(
        path,
        reader,
        chunk_bytes,
        max_record,
        &line_cut,
        &mut |group| {
            batches.par_extend(group.par_drain(..).map(|(chunk, first)| {
                let mut batch = SpanBatch::new(level_key);
                otlp::json::parse_lines(&mut batch, &chunk, first, max_record);
                batch
            }));
        },
    )?;
    let mut last = SpanBatch::default();
    last.ledger = too_large;
    batches.push(last);
    Ok(batches)
}

fn skip_past_newline(path: &Path, reader: &mut impl BufRead) -> Result<()> {
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

/// A whole file in memory, for the formats that cannot be split: its size is the file's.
fn read_whole(path: &Path, reader: &mut impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// One (pretty-printed) document.
fn read_json_document(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
) -> Result<SpanBatch> {
    let bytes = read_whole(path, reader)?;
    let mut batch = SpanBatch::new(level_key);
    otlp::json::parse_value(&mut batch, &bytes, "document").map_err(|e| Error::Parse {
        path: path.into(),
        format: Format::OtlpJson.as_str(),
        location: format!("line {}, column {}: ", e.line(), e.column()),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    Ok(batch)
}

fn read_proto_message(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
) -> Result<SpanBatch> {
    let bytes = read_whole(path, reader)?;
    let mut batch = SpanBatch::new(level_key);
    otlp::proto::parse_message(&mut batch, &bytes, "message").map_err(|e| Error::Parse {
        path: path.into(),
        format: Format::OtlpProto.as_str(),
        location: String::new(),
        message: format!("not a valid TracesData message: {e}"),
    })?;
    Ok(batch)
}

/// Length-prefixed messages; groups of messages are decoded in parallel. A message that does
/// not decode, or that the file cuts short, is counted as malformed; a length beyond
/// [`otlp::proto::MAX_MESSAGE_BYTES`] means the stream is not what it seemed, and is an error
/// naming the byte offset.
fn read_proto_delimited(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
) -> Result<Vec<SpanBatch>> {
    let group_bytes = CHUNK_BYTES * rayon::current_num_threads();
    let mut batches = Vec::new();
    let mut pending: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut pending_bytes = 0;
    let mut offset = 0u64;
    let mut truncated = SpanBatch::default();
    loop {
        let mut prefix = Vec::with_capacity(4);
        reader
            .take(4)
            .read_to_end(&mut prefix)
            .map_err(|e| Error::io(path, e))?;
        if prefix.is_empty() {
            break;
        }
        let announced = match <[u8; 4]>::try_from(prefix.as_slice()) {
            Ok(bytes) => u32::from_be_bytes(bytes) as usize,
            Err(_) => usize::MAX,
        };
        if announced != usize::MAX && announced > otlp::proto::MAX_MESSAGE_BYTES {
            return Err(Error::Parse {
                path: path.into(),
                format: Format::OtlpProto.as_str(),
                location: format!("byte {offset}: "),
                message: format!(
                    "length prefix {announced} exceeds the {} byte limit; not a length-prefixed OTLP stream",
                    otlp::proto::MAX_MESSAGE_BYTES
                ),
            });
        }
        let mut message = Vec::new();
        if announced != usize::MAX {
            reader
                .take(announced as u64)
                .read_to_end(&mut message)
                .map_err(|e| Error::io(path, e))?;
        }
        if message.len() < announced || announced == usize::MAX {
            truncated.ledger.skip_record(SkipReason::Malformed, || {
                format!("byte {offset}: truncated message, the file ends inside it")
            });
            break;
        }
        pending_bytes += message.len();
        pending.push((message, offset));
        offset += 4 + announced as u64;
        if pending_bytes >= group_bytes {
            batches.par_extend(
                pending
                    .par_drain(..)
                    .map(|m| decode_delimited(m, level_key)),
            );
            pending_bytes = 0;
        }
    }
    batches.par_extend(
        pending
            .par_drain(..)
            .map(|m| decode_delimited(m, level_key)),
    );
    batches.push(truncated);
    Ok(batches)
}

fn decode_delimited((message, offset): (Vec<u8>, u64), level_key: Option<&str>) -> SpanBatch {
    let mut batch = SpanBatch::new(level_key);
    let location = format!("byte {offset}");
    if let Err(e) = otlp::proto::parse_message(&mut batch, &message, &location) {
        batch.ledger.skip_record(SkipReason::Malformed, || {
            format!("{location}: not a valid TracesData message: {e}")
        });
    }
    batch
}

/// The lines of a chunk of a text log, without their `\r\n`; a chunk of valid UTF-8 (the usual
/// case) is checked once, not per line.
pub(crate) fn chunk_lines(
    chunk: &[u8],
) -> Box<dyn Iterator<Item = std::borrow::Cow<'_, str>> + '_> {
    let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    match std::str::from_utf8(chunk) {
        Ok(text) => Box::new(
            text.split('\n')
                .map(|l| std::borrow::Cow::Borrowed(l.strip_suffix('\r').unwrap_or(l))),
        ),
        Err(_) => Box::new(
            chunk
                .split(|&b| b == b'\n')
                .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                3 => {
                    log += &format!(
                        "{t}LOG:  duration: 1.5 ms  bind S_1: SELECT * FROM u WHERE x = $1\n"
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
                let parse = |chunk: &[u8], first: u64| {
                    pglog::parse_chunk(pglog::Layout::Stderr, &rule, chunk, first)
                };
                read_statements(path, &mut reader, chunk_bytes, &cut, &parse).unwrap()
            }
        };
        let mut ledger = InputLedger::default();
        let stats = finish_statements(batch, &mut ledger);
        (stats, ledger)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn chunked_parsing_equals_sequential_parsing(chunk_bytes in 64usize..6000) {
            for (text, format) in [(pg_log(), Format::PgStderr), (mysql_log(), Format::MysqlSlow)] {
                let whole = read_in_chunks(&text, usize::MAX / 4, format);
                let chunked = read_in_chunks(&text, chunk_bytes, format);
                prop_assert_eq!(&chunked, &whole);
                prop_assert!(whole.0.iter().map(|s| s.calls).sum::<u64>() >= 120);
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
        let parse = |chunk: &[u8], first: u64| {
            pglog::parse_chunk(pglog::Layout::Stderr, &rule, chunk, first)
        };
        let mut reader = std::io::Cursor::new(log.into_bytes());
        let mut merged = None::<StatementBatch>;
        let too_large =
            for_each_chunk_group(path, &mut reader, 1 << 16, 1 << 20, &cut, &mut |group| {
                for (chunk, first) in group.drain(..) {
                    let b = parse(&chunk, first);
                    match &mut merged {
                        Some(m) => m.merge(b),
                        None => merged = Some(b),
                    }
                }
            })
            .unwrap();
        assert_eq!(too_large.skip_reasons[&SkipReason::TooLarge], 1);
        assert!(too_large.skip_examples[&SkipReason::TooLarge].starts_with("line 1: longer than"));
        let stats = merged.unwrap().into_statements(0);
        assert_eq!(
            stats.iter().map(|s| s.calls).sum::<u64>(),
            120,
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
        let batches = read_json_lines(
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
