//! Dumps of statistics rows, CSV with a header or JSON (an array of objects, or one object per
//! line), read by column name: pg_stat_statements, MySQL's performance_schema digests, the
//! schema's CSV exports. A format says what a row means (`add_row`); how rows are found, and a
//! row that cannot be read counted, is here once.

use super::statements::StatementBatch;
use crate::model::ledger::SkipReason;
use crate::model::query::Source;

/// What a format does with one row: fold it into the batch, or count it in the ledger.
pub type AddRow = fn(&dyn Row, u64, &mut StatementBatch);

/// Why a row cannot be used, and the column that says so.
pub type Unusable = (SkipReason, &'static str);

/// A counter column; 0 when the column is missing or empty (older versions lack some).
pub fn count(row: &dyn Row, column: &'static str) -> Result<u64, Unusable> {
    match row.text(column).filter(|v| !v.is_empty()) {
        Some(v) => super::time::checked_count(&v).map_err(|reason| (reason, column)),
        None => Ok(0),
    }
}

/// Counts the row at `line` as skipped for `reason`, with the column and its value.
pub fn skip(batch: &mut StatementBatch, row: &dyn Row, line: u64, (reason, column): Unusable) {
    batch.ledger.skip(reason, 1, || match row.text(column) {
        Some(value) if !value.is_empty() => format!("row at line {line}: {column} = {value:?}"),
        _ => format!("row at line {line}: no {column}"),
    })
}

/// One row of a dump, by column name (CSV with its header, or a JSON object); the schema
/// dumps (`super::schema`) read their CSV rows through it too.
pub trait Row {
    /// The value of `column` (matched without regard to case), as text.
    fn text(&self, column: &str) -> Option<String>;
}

impl Row for (&csv::StringRecord, &csv::StringRecord) {
    fn text(&self, column: &str) -> Option<String> {
        let i = self
            .0
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(column))?;
        self.1.get(i).map(str::to_string)
    }
}

impl Row for serde_json::Map<String, serde_json::Value> {
    fn text(&self, column: &str) -> Option<String> {
        let value = self.get(column).or_else(|| {
            self.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(column))
                .map(|(_, v)| v)
        })?;
        match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// A dump in CSV with a header row: each row to `add_row` with its line.
pub fn parse_csv(bytes: &[u8], source: Source, add_row: AddRow) -> StatementBatch {
    let mut batch = StatementBatch::new(source);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            batch
                .ledger
                .skip_record(SkipReason::Malformed, || format!("line 1: {e}"));
            return batch;
        }
    };
    crate::ingest::chunks::for_each_csv_row(reader, bytes, |line, _, read| match read {
        Ok(record) => add_row(&(&headers, record), line, &mut batch),
        Err(e) => batch
            .ledger
            .skip_record(SkipReason::Malformed, || format!("line {line}: {e}")),
    });
    batch
}

/// A dump as a JSON array of rows, or one JSON row per line: each row to `add_row`.
pub fn parse_json(bytes: &[u8], source: Source, add_row: AddRow) -> StatementBatch {
    use serde_json::Value;
    let mut batch = StatementBatch::new(source);
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(rows)) => {
                for (i, row) in rows.iter().enumerate() {
                    match row.as_object() {
                        Some(map) => add_row(map, i as u64 + 1, &mut batch),
                        None => {
                            batch.ledger.skip_record(SkipReason::Malformed, || {
                                format!("array element {}: not an object", i + 1)
                            });
                        }
                    }
                }
            }
            Ok(_) | Err(_) => {
                let e = serde_json::from_str::<Value>(trimmed).err();
                batch.ledger.skip_record(SkipReason::Malformed, || match e {
                    Some(e) => format!("line {}, column {}: {e}", e.line(), e.column()),
                    None => "not an array of rows".into(),
                });
            }
        }
        return batch;
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => add_row(&map, i as u64 + 1, &mut batch),
            Ok(_) | Err(_) => {
                batch.ledger.skip_record(SkipReason::Malformed, || {
                    format!("line {}: not a JSON row", i + 1)
                });
            }
        }
    }
    batch
}
