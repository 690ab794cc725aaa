//! The database logs the generated traces' database spans would leave (PostgreSQL stderr, MySQL
//! slow log).

use super::*;

/// Which database log [`write_db_log`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbLog {
    /// PostgreSQL stderr with `log_line_prefix = '%m [%p] %q%u@%d '` and
    /// `log_min_duration_statement = 0`.
    Postgres,
    /// A MySQL 8 slow query log with `long_query_time = 0`.
    Mysql,
}

/// Writes the database log the generated traces' database spans would leave: one entry per
/// span, at its end, with its duration cut to the microsecond, in time order within each
/// message's traces. Parameters are filled in with values, or, in a third of the PostgreSQL
/// entries, left as `$n` with a `DETAIL:  parameters:` line; some statements span lines; half
/// carry a sqlcommenter `traceparent` comment naming their span. Returns the ground truth.
pub fn write_db_log(options: &Options, log: DbLog, out: &mut impl Write) -> std::io::Result<Truth> {
    let mut truth = options.truth();
    let mut rng = Rng::new(options.seed ^ 0x109_5eed);
    for message in messages(options) {
        account(&message, &mut truth);
        let mut spans: Vec<(&Span, &str)> = database_spans(&message)
            .map(|(span, statement, _)| (span, statement))
            .collect();
        spans.sort_by_key(|(span, _)| (span.end_time_unix_nano, span.span_id.clone()));
        for (span, template) in spans {
            let varied;
            let template = match options.distinct_statements {
                0 => template,
                n => {
                    varied = distinct_statement(rng.range(0, n - 1));
                    varied.as_str()
                }
            };
            let micros = (span.end_time_unix_nano - span.start_time_unix_nano) / US;
            let stats = truth.statements.entry(template.to_string()).or_default();
            stats.calls += 1;
            stats.total_ns += micros * US;
            let values: Vec<u64> = (0..template.matches('$').count())
                .map(|_| rng.range(1, 999_999))
                .collect();
            let mut filled = template.to_string();
            for (n, v) in values.iter().enumerate().rev() {
                filled = filled.replace(&format!("${}", n + 1), &v.to_string());
            }
            if rng.chance(20) {
                filled = filled.replacen(" WHERE ", "\n\tWHERE ", 1);
            }
            let comment = if rng.chance(50) {
                format!(
                    " /*traceparent='00-{}-{}-01'*/",
                    hex(&span.trace_id),
                    hex(&span.span_id)
                )
            } else {
                String::new()
            };
            let (date, ns) = civil::utc(span.end_time_unix_nano);
            let pid = 1000 + rng.range(0, 39);
            let entry = match log {
                DbLog::Postgres => {
                    let prefix = format!("{date}.{:03} UTC [{pid}] app@shop ", ns / 1_000_000);
                    let ms = format!("{}.{:03}", micros / 1000, micros % 1000);
                    if !values.is_empty() && rng.chance(33) {
                        let parameters: Vec<String> = values
                            .iter()
                            .enumerate()
                            .map(|(n, v)| format!("${} = '{v}'", n + 1))
                            .collect();
                        format!(
                            "{prefix}LOG:  duration: {ms} ms  execute <unnamed>: {template}{comment}\n\
                             {prefix}DETAIL:  parameters: {}\n",
                            parameters.join(", ")
                        )
                    } else {
                        format!("{prefix}LOG:  duration: {ms} ms  statement: {filled}{comment}\n")
                    }
                }
                DbLog::Mysql => {
                    let rows = rng.range(0, 20);
                    format!(
                        "# Time: {}T{}.{:06}Z\n\
                         # User@Host: app[app] @ web-1 [10.0.0.7]  Id: {pid}\n\
                         # Query_time: {}.{:06}  Lock_time: 0.000010 Rows_sent: {rows}  Rows_examined: {}\n\
                         SET timestamp={};\n{filled}{comment};\n",
                        &date[..10],
                        &date[11..],
                        ns / 1000,
                        micros / 1_000_000,
                        micros % 1_000_000,
                        rows * 3,
                        span.end_time_unix_nano / 1_000_000_000
                    )
                }
            };
            out.write_all(entry.as_bytes())?;
        }
    }
    Ok(truth)
}

/// The `k`th of the high-cardinality shapes: its own predicate column, one of 97 tables, 8 to
/// 47 columns.
fn distinct_statement(k: u64) -> String {
    let columns: Vec<String> = (0..8 + k % 40).map(|c| format!("column_{c}")).collect();
    format!(
        "SELECT {} FROM table_{} WHERE tenant_id = $1 AND key_{k} = $2 AND created_at > $3 \
         ORDER BY created_at DESC LIMIT 100",
        columns.join(", "),
        k % 97
    )
}
