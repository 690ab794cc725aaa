//! jsonlog, and the JSON wrappers of CloudNativePG and Cloud SQL.

use super::*;

pub(super) fn parse_json(
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    use serde_json::Value;
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                batch
                    .ledger
                    .skip_record(SkipReason::Malformed, || format!("line {number}: {e}"));
                continue;
            }
        };
        let text = |v: &Value, key: &str| -> Option<String> {
            match v.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        // Cloud SQL: a stderr line without its time in `textPayload`.
        if let Some(payload) = value.get("textPayload").and_then(Value::as_str) {
            let time = value
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| parse_iso(t).map(|p| p.0));
            let Some((prefix_text, word, message)) = split_severity(payload) else {
                batch.ledger.skip_record(SkipReason::NotAQuery, || {
                    format!("line {number}: {}", summary(payload))
                });
                continue;
            };
            let f = Prefix::infer(prefix_text)
                .and_then(|p| Prefix::compile(&p).ok())
                .and_then(|p| {
                    p.parse(prefix_text).map(|f| {
                        let s = |v: &str| v.to_string();
                        (f.pid, s(f.database), s(f.user), s(f.application))
                    })
                });
            let (pid, database, user, application) = f.unwrap_or_default();
            let message = message.replace("\n\t", "\n");
            let entry = Entry {
                line: number,
                time_unix_ns: time,
                pid,
                database: Cow::Owned(database),
                user: Cow::Owned(user),
                application: Cow::Owned(application),
                queryid: None,
                severity: Some(severity_of(word)),
                message: Cow::Owned(message),
                detail: None,
            };
            interpreter.entry(&entry, batch);
            continue;
        }
        // CloudNativePG wraps the record; jsonlog is the record.
        let record = value.get("record").unwrap_or(&value);
        let time = text(record, "timestamp")
            .or_else(|| text(record, "log_time"))
            .and_then(|t| parse_pg_timestamp(&t));
        let entry = Entry {
            line: number,
            time_unix_ns: time,
            pid: text(record, "pid")
                .or_else(|| text(record, "process_id"))
                .and_then(|p| p.parse().ok()),
            database: Cow::Owned(
                text(record, "dbname")
                    .or_else(|| text(record, "database_name"))
                    .unwrap_or_default(),
            ),
            user: Cow::Owned(text(record, "user").unwrap_or_default()),
            application: Cow::Owned(text(record, "application_name").unwrap_or_default()),
            queryid: text(record, "query_id").and_then(|q| q.parse().ok()),
            severity: text(record, "error_severity").map(|s| severity_of(&s)),
            message: Cow::Owned(text(record, "message").unwrap_or_default()),
            detail: text(record, "detail").map(Cow::Owned),
        };
        interpreter.entry(&entry, batch);
    }
}

/// A jsonlog line (or a JSON wrapper of one): `error_severity`, or Cloud SQL's `textPayload`.
pub fn sniff_json(head: &Head) -> Sniff {
    head.answer(
        head.is_json() && (head.has(b"\"error_severity\"") || head.has(b"\"textPayload\"")),
        false,
    )
}
