//! Reading inputs: files and folders (recursively), each file's format recognized from its
//! content, decompressed as a stream, parsed in parallel (files in parallel, and chunks of a
//! file in parallel where the format allows), and merged into one [`Dataset`] with a ledger per
//! file.

pub mod activity;
pub mod chunks;
pub mod decompress;
pub mod jaeger;
pub mod load_timeline;
pub mod mysql_digest;
pub mod mysql_slow;
pub mod otlp;
pub mod pglog;
pub mod pgss;
pub mod registry;
pub mod rows;
pub mod schema;
pub mod sniff;
pub mod spans;
pub mod statements;
pub mod time;
pub mod zipkin;

use crate::error::{Error, Result};
use crate::model::intern::remap;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::StatementStats;
use crate::model::{Dataset, Sym};
use rayon::prelude::*;
use registry::Detected;
pub use registry::Format;
use sniff::Head;
use spans::SpanBatch;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    /// How to read OTLP.
    pub otlp: otlp::Options,
    /// How to read PostgreSQL logs.
    pub pglog: pglog::Options,
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
    /// Database sessions per second.
    pub sessions: Vec<crate::model::query::SessionSecond>,
    /// `pg_stat_activity` samples.
    pub activity: Vec<crate::model::query::ActivitySample>,
}

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputFile {
    /// Its path.
    pub path: PathBuf,
    /// Found while walking a folder rather than named.
    pub in_folder: bool,
}

/// Lists the files of `paths` (folders recursively), sorted and without repeats (one file
/// named twice, as `f.log` and `./f.log` or through a link, is read once), so that the order
/// inputs are given in does not change the result. An entry of a folder that cannot even be
/// looked at (a dangling link) is listed, for its reading to fail and be counted.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    fn walk(path: &Path, in_folder: bool, out: &mut Vec<InputFile>) -> Result<()> {
        if path == Path::new(STDIN) && !in_folder {
            out.push(InputFile {
                path: path.to_path_buf(),
                in_folder,
            });
            return Ok(());
        }
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(_) if in_folder => {
                out.push(InputFile {
                    path: path.to_path_buf(),
                    in_folder,
                });
                return Ok(());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
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
    let mut seen = std::collections::HashSet::new();
    files
        .retain(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    Ok(files)
}

/// Reads every input into one dataset. Fails on the first file named (in path order) that
/// cannot be read, yields no usable record or matches no format; a file found in a folder that
/// does is counted in the ledger instead (log rotation leaves empty files, links dangle), and
/// the run goes on. Fails when no file holds a usable record.
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
            Err(e) if file.in_folder => {
                let mut ledger = InputLedger {
                    path: file.path.display().to_string(),
                    format: "unreadable".into(),
                    records: 1,
                    ..InputLedger::default()
                };
                let message = e.to_string();
                let prefix = format!("{}: ", file.path.display());
                let why = message
                    .strip_prefix(&prefix)
                    .unwrap_or(&message)
                    .to_string();
                ledger.skip(SkipReason::UnreadableFile, 1, || why);
                unrecognized.get_or_insert(e);
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
        dataset.sessions.extend(contents.sessions);
        dataset.activity.extend(contents.activity);
        // Strings are merged in batch order (so that symbols do not depend on thread timing),
        // spans rewritten in parallel, then moved into one vector of the exact size.
        let mut batches = contents.spans;
        let tables: Vec<Vec<Sym>> = batches
            .iter()
            .map(|batch| dataset.strings.absorb(&batch.strings))
            .collect();
        batches
            .par_iter_mut()
            .zip(&tables)
            .for_each(|(batch, table)| {
                for s in &mut batch.spans {
                    for sym in s.symbols_mut() {
                        *sym = remap(*sym, table);
                    }
                    s.input = input;
                }
            });
        dataset
            .spans
            .reserve(batches.iter().map(|b| b.spans.len()).sum());
        for batch in batches {
            dataset.spans.extend(batch.spans);
        }
        dataset.inputs.push(contents.ledger);
    }
    if dataset.spans.is_empty() && dataset.statements.is_empty() && dataset.activity.is_empty() {
        let path = paths.first().cloned().unwrap_or_default();
        return Err(unrecognized.unwrap_or(Error::Empty {
            path,
            format: "input",
            detail: ": no files found".into(),
        }));
    }
    dataset.finish();
    Ok(dataset)
}

/// The input name that stands for standard input.
pub const STDIN: &str = "-";

/// Reads one file (`-`: standard input): recognizes, decompresses and parses it.
pub fn read_file(path: &Path, options: &Options) -> Result<FileContents> {
    let file: Box<dyn Read + Send> = if path == Path::new(STDIN) {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let file = ProgressReader {
        inner: file,
        progress: options.progress.clone(),
    };
    let (_, mut reader, break_off) = decompress::open(file).map_err(|e| Error::io(path, e))?;
    let mut wanted = sniff::HEAD_BYTES;
    let mut head = Vec::with_capacity(wanted);
    (&mut reader)
        .take(wanted as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    if head.trim_ascii().is_empty() {
        break_off.check(path, "input")?;
        return Err(Error::Empty {
            path: path.into(),
            format: "input",
            detail: ": the file is empty".into(),
        });
    }
    let format = match options.format {
        Some(format) => format,
        None => loop {
            let complete = head.len() < wanted;
            match registry::detect(&Head::new(&head, complete)) {
                Detected::Format(format) => break format,
                Detected::NeedMore if wanted < sniff::MAX_HEAD_BYTES => {
                    wanted *= 4;
                    (&mut reader)
                        .take((wanted - head.len()) as u64)
                        .read_to_end(&mut head)
                        .map_err(|e| Error::io(path, e))?;
                }
                Detected::NeedMore | Detected::Nothing => {
                    let tried = Format::ALL.map(Format::as_str).join(", ");
                    return Err(Error::UnknownFormat {
                        path: path.into(),
                        tried,
                        head: sniff::describe_head(&head),
                    });
                }
            }
        },
    };
    let mut ledger = InputLedger {
        path: path.display().to_string(),
        format: format.as_str().into(),
        ..InputLedger::default()
    };
    let mut reader = std::io::Cursor::new(head).chain(reader);
    let head = reader.get_ref().0.get_ref().clone();
    let input = registry::Input {
        path,
        head: &head,
        options,
    };
    let mut contents = FileContents::default();
    let records = format.read(&input, &mut reader, &mut ledger);
    // A compressed file cut short: what came before the cut is read and the cut is a malformed
    // record, as in a plain file; a format read whole has nothing to show for it.
    if let Some(message) = break_off.message() {
        match records {
            Ok(_) => ledger.skip_record(SkipReason::Malformed, || message.to_string()),
            Err(_) => break_off.check(path, format.as_str())?,
        }
    }
    match records? {
        registry::Records::Spans(spans) => contents.spans = spans,
        registry::Records::Statements(statements) => contents.statements = statements,
        registry::Records::Log(statements, sessions) => {
            contents.statements = statements;
            contents.sessions = sessions;
        }
        registry::Records::Activity(samples) => contents.activity = samples,
    }
    let spans: usize = contents.spans.iter().map(|b| b.spans.len()).sum();
    for batch in &mut contents.spans {
        ledger.merge(std::mem::take(&mut batch.ledger));
    }
    if spans == 0 && contents.statements.is_empty() && contents.activity.is_empty() {
        let what = format.holds();
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
