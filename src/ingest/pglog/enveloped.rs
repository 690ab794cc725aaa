//! syslog (BSD and ISO times) and Heroku logplex: each line in an envelope (time, process,
//! message and line numbers, logplex's colour), the lines of one message possibly interleaved
//! with other processes'.

use super::*;

/// A syslog or logplex line's envelope: time, pid, colour, whether it starts a message, body.
pub(super) struct Envelope<'a> {
    pub(super) time_unix_ns: Option<i64>,
    pub(super) pid: Option<u64>,
    pub(super) colour: Option<&'a str>,
    pub(super) first: bool,
    pub(super) body: Cow<'a, str>,
}

pub(super) fn envelope(layout: Layout, line: &str, year: i64) -> Option<Envelope<'_>> {
    let (time, after_time) = match layout {
        Layout::Syslog { .. } => match parse_bsd_syslog(line, year) {
            Some((t, used)) => (Some(t), &line[used..]),
            None => {
                let (t, used) = parse_iso(line)?;
                (Some(t), &line[used..])
            }
        },
        _ => {
            let (t, used) = parse_iso(line)?;
            (Some(t), &line[used..])
        }
    };
    let (pid, rest, colour) = match layout {
        Layout::Logplex => {
            let at = after_time.find("app[postgres.")? + "app[postgres.".len();
            let digits = after_time[at..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let pid = after_time[at..at + digits].parse().ok();
            let rest = after_time[at + digits..].strip_prefix(']')?;
            let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
            let (colour, rest) = match rest.strip_prefix('[') {
                Some(r) if !r.starts_with(|c: char| c.is_ascii_digit()) => {
                    let end = r.find(']')?;
                    (Some(&r[..end]), r[end + 1..].trim_start())
                }
                _ => (None, rest),
            };
            (pid, rest, colour)
        }
        _ => {
            // ` host ident[pid]: `
            let open = after_time.find('[')?;
            let close = open + after_time[open..].find("]: ")?;
            let pid = after_time[open + 1..close].parse().ok();
            (pid, &after_time[close + 3..], None)
        }
    };
    let seq = rest.strip_prefix('[')?;
    let close = seq.find(']')?;
    let (_, m) = seq[..close].split_once('-')?;
    let first = m == "1";
    let body = &seq[close + 1..];
    let body = body.strip_prefix(' ').unwrap_or(body);
    let body = if body.contains("#011") {
        Cow::Owned(body.replace("#011", "\t"))
    } else {
        Cow::Borrowed(body)
    };
    Some(Envelope {
        time_unix_ns: time,
        pid,
        colour,
        first,
        body,
    })
}

/// syslog and logplex: lines of one message share the process id and the message number, and
/// may be interleaved with other processes' lines.
pub(super) fn parse_enveloped(
    layout: Layout,
    year: i64,
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    struct Open {
        line: u64,
        time: Option<i64>,
        pid: Option<u64>,
        colour: Option<String>,
        text: String,
    }
    let mut entries: Vec<Open> = Vec::new();
    let mut open_of_pid: FxHashMap<Option<u64>, usize> = FxHashMap::default();
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        let Some(env) = envelope(layout, &line, year) else {
            batch.ledger.skip_record(SkipReason::Malformed, || {
                format!(
                    "line {number}: not a {} line: {}",
                    if layout == Layout::Logplex {
                        "logplex"
                    } else {
                        "syslog"
                    },
                    summary(&line)
                )
            });
            continue;
        };
        let continues =
            !env.first && (env.body.starts_with('\t') || split_severity(&env.body).is_none());
        if continues {
            match open_of_pid.get(&env.pid) {
                Some(&k) => {
                    entries[k].text.push('\n');
                    entries[k]
                        .text
                        .push_str(env.body.strip_prefix('\t').unwrap_or(&env.body));
                }
                None => {
                    batch.ledger.skip_record(SkipReason::Malformed, || {
                        format!("line {number}: a continuation line without its entry")
                    });
                }
            }
            continue;
        }
        open_of_pid.insert(env.pid, entries.len());
        entries.push(Open {
            line: number,
            time: env.time_unix_ns,
            pid: env.pid,
            colour: env.colour.map(str::to_string),
            text: env.body.into_owned(),
        });
    }
    for open in &entries {
        let Some((prefix_text, word, message)) = split_severity(&open.text) else {
            batch.ledger.skip_record(SkipReason::Malformed, || {
                format!(
                    "line {}: no severity in: {}",
                    open.line,
                    summary(&open.text)
                )
            });
            continue;
        };
        let f = if layout == Layout::Logplex {
            Fields::default()
        } else {
            match fields(rule, prefix_text) {
                Ok(f) => f,
                Err(()) => {
                    mismatch(batch, rule, open.line, prefix_text);
                    continue;
                }
            }
        };
        let database = if f.database.is_empty() {
            open.colour.as_deref().unwrap_or("")
        } else {
            f.database
        };
        let entry = Entry {
            line: open.line,
            time_unix_ns: f.time_unix_ns.or(open.time),
            pid: f.pid.or(open.pid),
            database: Cow::Borrowed(database),
            user: Cow::Borrowed(f.user),
            application: Cow::Borrowed(f.application),
            queryid: f.queryid,
            severity: Some(severity_of(word)),
            message: Cow::Borrowed(message),
            detail: None,
        };
        interpreter.entry(&entry, batch);
    }
}

/// A Heroku logplex line: an ISO time, then `app[postgres.`.
pub fn sniff_logplex(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|line| {
        parse_civil(line).is_some()
            && line.as_bytes().get(10) == Some(&b'T')
            && line.contains(" app[postgres.")
    });
    head.answer(found, false)
}

/// A syslog line (BSD or ISO time) carrying PostgreSQL's `[line-part]` numbering.
pub fn sniff_syslog(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|line| {
        let iso = line.as_bytes().get(10) == Some(&b'T') && parse_iso(line).is_some();
        (iso || parse_bsd_syslog(line, 2000).is_some()) && line.contains("]: [")
    });
    head.answer(found, false)
}
