//! Reading inputs: files and folders (recursively), each file's format recognized from its
//! content, decompressed as a stream, parsed in parallel (files in parallel, and chunks of a
//! file in parallel where the format allows), and merged into one [`Dataset`] with a ledger per
//! file.

pub mod decompress;
pub mod ledger;
pub mod otlp;
pub mod sniff;

use crate::error::{Error, Result};
use crate::model::Dataset;
use crate::model::intern::remap;
use ledger::{InputLedger, SkipReason};
use otlp::SpanBatch;
use rayon::prelude::*;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// An input format (the values of `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// OTLP/JSON traces: one object per line, or one document.
    OtlpJson,
    /// OTLP protobuf traces: one message, or length-prefixed messages.
    OtlpProto,
}

impl Format {
    /// Every format, in the order they are tried.
    pub const ALL: [Format; 2] = [Format::OtlpJson, Format::OtlpProto];

    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OtlpJson => "otlp-json",
            Format::OtlpProto => "otlp-proto",
        }
    }
}

/// How to read inputs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Force a format instead of recognizing it.
    pub format: Option<Format>,
    /// Advanced by the number of (compressed) bytes read, when set.
    pub progress: Option<indicatif::ProgressBar>,
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
    let results: Vec<Result<(InputLedger, Vec<SpanBatch>)>> = files
        .par_iter()
        .map(|file| read_file(&file.path, options))
        .collect();
    let mut dataset = Dataset::default();
    let mut unrecognized = None;
    for (file, result) in files.iter().zip(results) {
        let (ledger, batches) = match result {
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
                (ledger, Vec::new())
            }
            other => other?,
        };
        let input = u32::try_from(dataset.inputs.len()).expect("fewer than 2^32 input files");
        for batch in batches {
            let table = dataset.strings.absorb(&batch.strings);
            dataset.spans.extend(batch.spans.into_iter().map(|mut s| {
                for sym in [
                    &mut s.name,
                    &mut s.service,
                    &mut s.host,
                    &mut s.op_system,
                    &mut s.op_label,
                    &mut s.code_location,
                ] {
                    *sym = remap(*sym, &table);
                }
                s.input = input;
                s
            }));
        }
        dataset.inputs.push(ledger);
    }
    if dataset.spans.is_empty() {
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
pub fn read_file(path: &Path, options: &Options) -> Result<(InputLedger, Vec<SpanBatch>)> {
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
    let mut reader = std::io::Cursor::new(head).chain(reader);
    let mut batches = match format {
        Format::OtlpJson if sniff::is_json_lines(reader.get_ref().0.get_ref()) => {
            read_json_lines(path, &mut reader, MAX_RECORD_BYTES)?
        }
        Format::OtlpJson => vec![read_json_document(path, &mut reader)?],
        Format::OtlpProto if otlp::proto::is_length_prefixed(reader.get_ref().0.get_ref()) => {
            read_proto_delimited(path, &mut reader)?
        }
        Format::OtlpProto => vec![read_proto_message(path, &mut reader)?],
    };
    let mut ledger = InputLedger {
        path: path.display().to_string(),
        format: format.as_str().into(),
        ..InputLedger::default()
    };
    let used: usize = batches.iter().map(|b| b.spans.len()).sum();
    for batch in &mut batches {
        ledger.merge(std::mem::take(&mut batch.ledger));
    }
    if used == 0 {
        let detail = match ledger.skip_examples.values().next() {
            Some(example) => format!(": {} record(s) skipped, first: {example}", ledger.skipped),
            None => ": it holds no spans".into(),
        };
        return Err(Error::Empty {
            path: path.into(),
            format: format.as_str(),
            detail,
        });
    }
    Ok((ledger, batches))
}

/// Counts compressed bytes for the progress bar.
struct ProgressReader<R> {
    inner: R,
    progress: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}

/// Splits a stream into chunks of whole lines and parses groups of chunks in parallel. A line
/// longer than `max_record` bytes is skipped, without being held, and counted.
fn read_json_lines(
    path: &Path,
    reader: &mut impl BufRead,
    max_record: usize,
) -> Result<Vec<SpanBatch>> {
    let group = 2 * rayon::current_num_threads();
    let mut batches = Vec::new();
    let mut pending: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut carry = Vec::new();
    let mut next_line = 1u64;
    let mut too_large = SpanBatch::default();
    loop {
        let mut buf = std::mem::take(&mut carry);
        let want = CHUNK_BYTES.saturating_sub(buf.len()).max(1 << 16);
        let n = reader
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(path, e))?;
        let eof = n == 0;
        let cut = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
        };
        if cut == 0 && !eof {
            if buf.len() > max_record {
                too_large.ledger.records += 1;
                too_large.ledger.skip(SkipReason::TooLarge, 1, || {
                    format!("line {next_line}: longer than {max_record} bytes")
                });
                skip_past_newline(path, reader)?;
                next_line += 1;
            } else {
                carry = buf;
            }
            continue;
        }
        carry = buf.split_off(cut);
        if !buf.is_empty() {
            let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
            pending.push((buf, next_line));
            next_line += lines;
        }
        if pending.len() >= group || eof {
            batches.par_extend(
                pending
                    .par_drain(..)
                    .map(|(chunk, first)| otlp::json::parse_lines(&chunk, first, max_record)),
            );
        }
        if eof {
            break;
        }
    }
    batches.push(too_large);
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
fn read_json_document(path: &Path, reader: &mut impl Read) -> Result<SpanBatch> {
    let bytes = read_whole(path, reader)?;
    let mut batch = SpanBatch::default();
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

fn read_proto_message(path: &Path, reader: &mut impl Read) -> Result<SpanBatch> {
    let bytes = read_whole(path, reader)?;
    let mut batch = SpanBatch::default();
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
fn read_proto_delimited(path: &Path, reader: &mut impl Read) -> Result<Vec<SpanBatch>> {
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
            truncated.ledger.records += 1;
            truncated.ledger.skip(SkipReason::Malformed, 1, || {
                format!("byte {offset}: truncated message, the file ends inside it")
            });
            break;
        }
        pending_bytes += message.len();
        pending.push((message, offset));
        offset += 4 + announced as u64;
        if pending_bytes >= group_bytes {
            batches.par_extend(pending.par_drain(..).map(decode_delimited));
            pending_bytes = 0;
        }
    }
    batches.par_extend(pending.par_drain(..).map(decode_delimited));
    batches.push(truncated);
    Ok(batches)
}

fn decode_delimited((message, offset): (Vec<u8>, u64)) -> SpanBatch {
    let mut batch = SpanBatch::default();
    let location = format!("byte {offset}");
    if let Err(e) = otlp::proto::parse_message(&mut batch, &message, &location) {
        batch.ledger.records += 1;
        batch.ledger.skip(SkipReason::Malformed, 1, || {
            format!("{location}: not a valid TracesData message: {e}")
        });
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

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
            100_000,
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
