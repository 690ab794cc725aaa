//! `log_destination = stderr`: any `log_line_prefix`, then severity and message; continuation
//! lines start with a tab.

use super::*;

pub(super) fn parse_stderr(
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    // Lines stay borrowed from the chunk (valid UTF-8 is not copied).
    type Pending<'c> = Option<(u64, Cow<'c, str>, Vec<Cow<'c, str>>)>;
    let mut pending: Pending = None;
    let mut flush = |pending: &mut Pending, batch: &mut StatementBatch| {
        let Some((line, head, continuation)) = pending.take() else {
            return;
        };
        let (prefix_text, word, message) =
            split_severity(&head).expect("entries start at a line with a severity");
        let Ok(f) = fields(rule, prefix_text) else {
            mismatch(batch, rule, line, prefix_text);
            return;
        };
        let message = if continuation.is_empty() {
            Cow::Borrowed(message)
        } else {
            let mut m = message.to_string();
            for c in &continuation {
                m.push('\n');
                m.push_str(c);
            }
            Cow::Owned(m)
        };
        let entry = Entry {
            line,
            time_unix_ns: f.time_unix_ns,
            pid: f.pid,
            database: Cow::Borrowed(f.database),
            user: Cow::Borrowed(f.user),
            application: Cow::Borrowed(f.application),
            queryid: f.queryid,
            severity: Some(severity_of(word)),
            message,
            detail: None,
        };
        interpreter.entry(&entry, batch);
    };
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        // A tab starts a continuation line; so does a line without a severity (clients that
        // indent with spaces, text that tools wrote between entries).
        let continues = line.starts_with('\t') || split_severity(&line).is_none();
        if continues {
            match &mut pending {
                Some((_, _, continuation)) => continuation.push(match line {
                    Cow::Borrowed(l) => Cow::Borrowed(l.strip_prefix('\t').unwrap_or(l)),
                    Cow::Owned(l) => Cow::Owned(l.strip_prefix('\t').unwrap_or(&l).to_string()),
                }),
                None => {
                    batch.ledger.skip_record(SkipReason::Malformed, || {
                        format!(
                            "line {number}: not a log line, nor the continuation of one: {}",
                            summary(&line)
                        )
                    });
                }
            }
            continue;
        }
        flush(&mut pending, batch);
        pending = Some((number, line, Vec::new()));
    }
    flush(&mut pending, batch);
}

/// A stderr log: a line that starts a record.
pub fn sniff_stderr(head: &Head) -> Sniff {
    let found = head
        .lines()
        .iter()
        .any(|l| is_record_start(Layout::Stderr, l.as_bytes()));
    head.answer(found, false)
}
