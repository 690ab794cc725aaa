//! How OTLP files are framed: JSON lines cut into chunks parsed in parallel, one JSON document,
//! one protobuf message, or length-prefixed protobuf messages decoded in groups in parallel.

use super::Options;
use crate::error::{Error, Result};
use crate::ingest::Format;
use crate::ingest::chunks::{
    CHUNK_BYTES, MAX_RECORD_BYTES, for_each_chunk_group, line_cut, read_whole,
};
use crate::ingest::sniff::is_json_lines;
use crate::ingest::spans::{Drafts, SpanBatch};
use crate::model::ledger::SkipReason;
use rayon::prelude::*;
use std::io::{BufRead, Read};
use std::path::Path;

/// OTLP/JSON: one value per line, or one document.
pub fn read_json(
    path: &Path,
    reader: &mut (impl BufRead + Send),
    head: &[u8],
    options: &Options,
) -> Result<Vec<SpanBatch>> {
    let level_key = options.level_attribute.as_deref();
    if is_json_lines(head) {
        read_json_lines(path, reader, CHUNK_BYTES, MAX_RECORD_BYTES, level_key)
    } else {
        Ok(vec![read_json_document(path, reader, level_key)?])
    }
}

/// OTLP protobuf: length-prefixed messages, or one message.
pub fn read_proto(
    path: &Path,
    reader: &mut (impl BufRead + Send),
    head: &[u8],
    options: &Options,
) -> Result<Vec<SpanBatch>> {
    let level_key = options.level_attribute.as_deref();
    if super::proto::is_length_prefixed(head) {
        read_proto_delimited(path, reader, level_key)
    } else {
        Ok(vec![read_proto_message(path, reader, level_key)?])
    }
}

/// Splits a stream into chunks of whole lines and parses groups of chunks in parallel. A line
/// longer than `max_record` bytes is skipped, without being held, and counted.
pub fn read_json_lines(
    path: &Path,
    reader: &mut (impl BufRead + Send),
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
            batches.par_extend(group.par_iter().map(|(chunk, first)| {
                let mut batch = SpanBatch::new(level_key);
                super::json::parse_lines(&mut batch, chunk, *first, max_record);
                batch
            }));
        },
    )?;
    let mut last = SpanBatch::new(None);
    last.ledger = too_large;
    batches.push(last);
    Ok(batches)
}

/// One (pretty-printed) document.
pub fn read_json_document(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
) -> Result<SpanBatch> {
    read_json_spans(path, reader, level_key, Format::OtlpJson, |batch, bytes| {
        super::json::parse_value(batch, bytes, "document")
    })
}

/// A JSON document of spans in `format` (OTLP, Jaeger, Zipkin), read whole and parsed by
/// `parse`; a syntax error names its line and column.
pub fn read_json_spans(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
    format: Format,
    parse: impl FnOnce(&mut SpanBatch, &[u8]) -> std::result::Result<(), serde_json::Error>,
) -> Result<SpanBatch> {
    read_one(path, reader, level_key, |batch, bytes| {
        parse(batch, bytes).map_err(|e| Error::Parse {
            path: path.into(),
            format: format.as_str(),
            location: format!("line {}, column {}: ", e.line(), e.column()),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        })
    })
}

/// One protobuf `TracesData` message.
pub fn read_proto_message(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
) -> Result<SpanBatch> {
    read_one(path, reader, level_key, |batch, bytes| {
        super::proto::parse_message(batch, bytes, "message").map_err(|e| Error::Parse {
            path: path.into(),
            format: Format::OtlpProto.as_str(),
            location: String::new(),
            message: format!("not a valid TracesData message: {e}"),
        })
    })
}

/// A file that is one value: read whole, parsed into one batch.
fn read_one(
    path: &Path,
    reader: &mut impl Read,
    level_key: Option<&str>,
    parse: impl FnOnce(&mut SpanBatch, &[u8]) -> Result<()>,
) -> Result<SpanBatch> {
    let bytes = read_whole(path, reader)?;
    let mut batch = SpanBatch::new(level_key);
    parse(&mut batch, &bytes)?;
    Ok(batch)
}

/// Length-prefixed messages; groups of messages are decoded in parallel while the next group
/// is read. A message that does not decode, or that the file cuts short, is counted as
/// malformed; a length beyond [`super::proto::MAX_MESSAGE_BYTES`] means the stream is not what
/// it seemed, and is an error naming the byte offset.
pub fn read_proto_delimited(
    path: &Path,
    reader: &mut (impl Read + Send),
    level_key: Option<&str>,
) -> Result<Vec<SpanBatch>> {
    let mut messages = Messages {
        group_bytes: CHUNK_BYTES * rayon::current_num_threads(),
        offset: 0,
        truncated: SpanBatch::default(),
        done: false,
    };
    let mut batches = Vec::new();
    let mut current = messages.read_group(path, reader)?;
    while !messages.done {
        let (_, next) = rayon::join(
            || decode_group(&mut current, level_key, &mut batches),
            || messages.read_group(path, reader),
        );
        current = next?;
    }
    decode_group(&mut current, level_key, &mut batches);
    batches.push(messages.truncated);
    Ok(batches)
}

/// Where [`read_proto_delimited`] is in its stream.
struct Messages {
    /// Bytes a group holds before it is decoded.
    group_bytes: usize,
    /// The byte offset of the next length prefix.
    offset: u64,
    /// Messages cut short or over the cap.
    truncated: SpanBatch,
    /// The stream ended (or was cut inside a message).
    done: bool,
}

impl Messages {
    /// The file ends inside the message at `offset`: it is counted malformed, and the stream ends.
    fn cut_short(&mut self, offset: u64) {
        self.truncated
            .ledger
            .skip_record(SkipReason::Malformed, || {
                format!("byte {offset}: truncated message, the file ends inside it")
            });
        self.done = true;
    }

    /// The next group of messages with their offsets.
    fn read_group(&mut self, path: &Path, reader: &mut impl Read) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut pending: Vec<(Vec<u8>, u64)> = Vec::new();
        let mut pending_bytes = 0;
        while !self.done && pending_bytes < self.group_bytes {
            let offset = self.offset;
            let mut prefix = Vec::with_capacity(4);
            reader
                .take(4)
                .read_to_end(&mut prefix)
                .map_err(|e| Error::io(path, e))?;
            if prefix.is_empty() {
                self.done = true;
                break;
            }
            let announced = match <[u8; 4]>::try_from(prefix.as_slice()) {
                Ok(bytes) => u32::from_be_bytes(bytes) as usize,
                Err(_) => usize::MAX,
            };
            if announced != usize::MAX && announced > super::proto::MAX_MESSAGE_BYTES {
                return Err(Error::Parse {
                    path: path.into(),
                    format: Format::OtlpProto.as_str(),
                    location: format!("byte {offset}: "),
                    message: format!(
                        "length prefix {announced} exceeds the {} byte limit; not a length-prefixed OTLP stream",
                        super::proto::MAX_MESSAGE_BYTES
                    ),
                });
            }
            if announced != usize::MAX && announced > MAX_RECORD_BYTES {
                // Read past, never held; counted like a JSON line over the cap.
                let passed =
                    std::io::copy(&mut reader.take(announced as u64), &mut std::io::sink())
                        .map_err(|e| Error::io(path, e))?;
                if passed < announced as u64 {
                    self.cut_short(offset);
                    break;
                }
                self.truncated.ledger.skip_record(SkipReason::TooLarge, || {
                    format!(
                        "byte {offset}: a message of {announced} bytes, over {MAX_RECORD_BYTES}"
                    )
                });
                self.offset += 4 + announced as u64;
                continue;
            }
            let mut message = Vec::new();
            if announced != usize::MAX {
                // Reserved (not touched) at once, so that the read does not grow and copy it.
                message.reserve_exact(announced);
                reader
                    .take(announced as u64)
                    .read_to_end(&mut message)
                    .map_err(|e| Error::io(path, e))?;
            }
            if message.len() < announced || announced == usize::MAX {
                self.cut_short(offset);
                break;
            }
            // A message costs its bytes and its place in the group, so that a stream of empty
            // messages (4 bytes each) also makes bounded groups.
            pending_bytes += message.len() + MESSAGE_OVERHEAD_BYTES;
            pending.push((message, offset));
            self.offset += 4 + announced as u64;
        }
        Ok(pending)
    }
}

/// What a message waiting in a group costs besides its bytes (its buffer and offset).
const MESSAGE_OVERHEAD_BYTES: usize = 64;

/// Decodes a group of messages in parallel into one batch per share of the group, in file
/// order, and empties the group. A thread gets four shares, so that a thread done early (or
/// back from reading the next group) takes work from the others.
fn decode_group(
    pending: &mut Vec<(Vec<u8>, u64)>,
    level_key: Option<&str>,
    batches: &mut Vec<SpanBatch>,
) {
    let share = pending
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    batches.par_extend(pending.par_chunks(share).map(|messages| {
        let mut batch = SpanBatch::new(level_key);
        let mut drafts = Drafts::new(level_key);
        for (message, offset) in messages {
            let location = format!("byte {offset}");
            let parsed =
                super::proto::parse_message_with(&mut drafts, &mut batch, message, &location);
            if let Err(e) = parsed {
                batch.ledger.skip_record(SkipReason::Malformed, || {
                    format!("{location}: not a valid TracesData message: {e}")
                });
            }
        }
        batch
    }));
    pending.clear();
}
