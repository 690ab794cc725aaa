//! The ingest ledger: for each input file, how many records were read and, for every record not
//! used, why. Every record read is either used or counted here; nothing is dropped silently.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a record was not used.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A line or message that is not valid for its format.
    Malformed,
    /// A record larger than the size cap.
    TooLarge,
    /// A span without a valid trace or span id.
    InvalidId,
    /// A span that ends before it starts.
    EndBeforeStart,
    /// A span whose times do not fit signed 64-bit nanoseconds, or that lasts over 2^53 ns.
    TimeOutOfRange,
    /// A second span with the same trace and span id as one already kept.
    DuplicateSpan,
    /// A file found in a folder that matches no input format (the whole file is one record).
    UnrecognizedFile,
    /// A file found in a folder that could not be read, or held no usable record (empty, a
    /// header alone, a dangling link): the whole file is one record.
    UnreadableFile,
    /// A database log entry that is not a query: connections, checkpoints, errors, …
    NotAQuery,
    /// A logged statement without a duration (`log_statement`, not `log_min_duration_statement`).
    NoDuration,
    /// A logged duration without its statement (`log_duration`).
    NoStatement,
    /// A PostgreSQL log line whose prefix does not match the `--pg-prefix` given.
    PrefixMismatch,
    /// A pg_stat_statements row of a statement nested in a function (`toplevel = false`): not a
    /// call the application made.
    NestedStatement,
    /// A record with a number too large for what it measures (a duration past 2^64 ns, a count
    /// past 2^64): it is not used rather than wrapped or cut to fit.
    NumberOutOfRange,
}

impl SkipReason {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Malformed => "malformed",
            SkipReason::TooLarge => "too_large",
            SkipReason::InvalidId => "invalid_id",
            SkipReason::EndBeforeStart => "end_before_start",
            SkipReason::TimeOutOfRange => "time_out_of_range",
            SkipReason::DuplicateSpan => "duplicate_span",
            SkipReason::UnrecognizedFile => "unrecognized_file",
            SkipReason::UnreadableFile => "unreadable_file",
            SkipReason::NotAQuery => "not_a_query",
            SkipReason::NoDuration => "statement_without_duration",
            SkipReason::NoStatement => "duration_without_statement",
            SkipReason::PrefixMismatch => "prefix_mismatch",
            SkipReason::NestedStatement => "nested_statement",
            SkipReason::NumberOutOfRange => "number_out_of_range",
        }
    }
}

/// The ledger of one input file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputLedger {
    /// The file, as given or found in a folder.
    pub path: String,
    /// The format it was read as.
    pub format: String,
    /// Records read: used plus skipped.
    pub records: u64,
    /// Records not used.
    pub skipped: u64,
    /// Records not used, by reason.
    pub skip_reasons: BTreeMap<SkipReason, u64>,
    /// The first example of each reason, with its location.
    pub skip_examples: BTreeMap<SkipReason, String>,
    /// Things worth knowing about records that were used (a sampling rate, an unknown prefix),
    /// by kind, with the first example.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

impl InputLedger {
    /// Counts `count` skipped records; keeps the first example of each reason.
    pub fn skip(&mut self, reason: SkipReason, count: u64, example: impl FnOnce() -> String) {
        if count == 0 {
            return;
        }
        self.skipped += count;
        *self.skip_reasons.entry(reason).or_default() += count;
        self.skip_examples.entry(reason).or_insert_with(example);
    }

    /// Counts one record read and not used.
    pub fn skip_record(&mut self, reason: SkipReason, example: impl FnOnce() -> String) {
        self.records += 1;
        self.skip(reason, 1, example);
    }

    /// Notes something about this file's records, once per kind.
    pub fn note(&mut self, kind: &str, text: impl FnOnce() -> String) {
        if !self.notes.contains_key(kind) {
            self.notes.insert(kind.to_string(), text());
        }
    }

    /// Adds another ledger's counts (of a later chunk of the same file) to this one.
    pub fn merge(&mut self, other: InputLedger) {
        self.records += other.records;
        self.skipped += other.skipped;
        for (reason, n) in other.skip_reasons {
            *self.skip_reasons.entry(reason).or_default() += n;
        }
        for (reason, example) in other.skip_examples {
            self.skip_examples.entry(reason).or_insert(example);
        }
        for (kind, text) in other.notes {
            self.notes.entry(kind).or_insert(text);
        }
    }
}
