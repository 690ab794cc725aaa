//! Reading inputs: files and folders (recursively), each file's format recognized from its
//! content, decompressed as a stream, parsed in parallel (files in parallel, and chunks of a
//! file in parallel where the format allows), and merged into one [`Dataset`] with a ledger per
//! file.

pub mod chunks;
pub mod decompress;
pub mod mysql_slow;
pub mod otlp;
pub mod pglog;
pub mod pgss;
pub mod schema;
pub mod sniff;
pub mod spans;
pub mod statements;
pub mod time;

use crate::error::{Error, Result};
use crate::model::Dataset;
use crate::model::intern::remap;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::StatementStats;
use chunks::{CHUNK_BYTES, MAX_RECORD_BYTES};
use rayon::prelude::*;
use spans::SpanBatch;
use std::io::Read;
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
            contents.spans = otlp::framing::read_json_lines(
                path,
                &mut reader,
                CHUNK_BYTES,
                MAX_RECORD_BYTES,
                level_key,
            )?
        }
        (Format::OtlpJson, _) => {
            contents.spans = vec![otlp::framing::read_json_document(
                path,
                &mut reader,
                level_key,
            )?]
        }
        (Format::OtlpProto, _) if otlp::proto::is_length_prefixed(head) => {
            contents.spans = otlp::framing::read_proto_delimited(path, &mut reader, level_key)?
        }
        (Format::OtlpProto, _) => {
            contents.spans = vec![otlp::framing::read_proto_message(
                path,
                &mut reader,
                level_key,
            )?]
        }
        (_, Some(layout)) => {
            let rule = pglog::prefix_rule(
                path,
                layout,
                head,
                options.pg_prefix.as_deref(),
                &mut ledger,
            )?;
            let cut = |buf: &[u8]| match layout {
                pglog::Layout::Csv => chunks::csv_cut(buf),
                pglog::Layout::Json => chunks::line_cut(buf),
                _ => chunks::record_cut(buf, |_, line| pglog::is_record_start(layout, line)),
            };
            let parse = |chunk: &[u8], first: u64| pglog::parse_chunk(layout, &rule, chunk, first);
            let batch = chunks::read_statements(path, &mut reader, CHUNK_BYTES, &cut, &parse)?;
            contents.statements = batch.finish(&mut ledger);
        }
        (Format::MysqlSlow, _) => {
            let cut = |buf: &[u8]| chunks::record_cut(buf, mysql_slow::is_record_start);
            let batch = chunks::read_statements(
                path,
                &mut reader,
                chunks::CHUNK_BYTES,
                &cut,
                &mysql_slow::parse_chunk,
            )?;
            contents.statements = batch.finish(&mut ledger);
        }
        (Format::PgssCsv | Format::PgssJson, _) => {
            let bytes = chunks::read_whole(path, &mut reader)?;
            let batch = if format == Format::PgssCsv {
                pgss::parse_csv(&bytes)
            } else {
                pgss::parse_json(&bytes)
            };
            contents.statements = batch.finish(&mut ledger);
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
