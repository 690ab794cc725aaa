//! Missing-index suspects: statements whose evidence says they read far more rows than they
//! return. Each rule has its threshold and its confidence:
//!
//! - auto_explain plans show a `Seq Scan` whose filter threw away most of the rows it read
//!   (high: the plan says so);
//! - MySQL's `Rows_examined` is far above `Rows_sent` (high when a thousand times, else medium:
//!   a join or a sort also examines rows);
//! - pg_stat_statements counts many buffers per returned row, with a mean time worth the
//!   trouble (medium: a big aggregate reads many buffers too);
//! - its mean time per call grows from the first level to the last (low: contention makes
//!   statements slower too).
//!
//! The suggested index comes from the statement's shape: equality columns of the table (WHERE,
//! then JOIN), then range columns, then ORDER BY columns when no range column came before them
//! (a B-tree cannot return rows in order past a range). A suggestion whose columns already lead
//! an index of the schema is dropped, and so is one on a table known to be tiny; both are
//! near misses. Every suspect says it is one: only the database can prove an index helps.

use super::Verdict;
use super::statements::{Context, Judgement, Statement, mean_at_least, statement_facts};
use crate::model::fingerprint::Dialect;
use crate::model::schema::{Schema, table_key};
use crate::model::settings::{DetectorThresholds, MissingIndexThresholds};
use crate::model::shape::Test;
use crate::report::evidence::{
    BlocksRule, Evidence, ExaminedRule, GrowthRule, LevelMean, MissingIndexEvidence, SeqScanRule,
    SuggestedIndex,
};
use crate::report::{Confidence, QueryRow};

/// The rules a statement met, and what they say of its table.
#[derive(Default)]
struct Met {
    seq_scan: Option<SeqScanRule>,
    rows_examined: Option<ExaminedRule>,
    blocks_per_row: Option<BlocksRule>,
    grows_with_load: Option<GrowthRule>,
    /// The highest confidence of the rules met; None when none was.
    best: Option<Confidence>,
    /// The table the evidence names, when it names one.
    table: Option<String>,
    /// Rows the table holds, as the evidence shows them.
    table_rows: Option<u64>,
}

impl Met {
    fn confidence(&mut self, c: Confidence) {
        self.best = Some(self.best.map_or(c, |b| b.min(c)));
    }
}

/// A suspect, a near miss (a suspect with no index to suggest), or nothing.
pub fn judge(statement: &Statement, context: &Context, options: &DetectorThresholds) -> Judgement {
    let o = &options.missing_index;
    let q = statement.row;
    let met = rules_met(statement, context, o);
    let index = suggestion(q, &met, context.schema, statement.stats.source.dialect(), o);
    let confidence = match (met.best, &index) {
        (Some(best), _) => best,
        // No row evidence, but the schema says no index serves the predicate: a suspect of low
        // confidence, medium when the table is known to be large.
        (None, Ok(index)) if index.predicate_unindexed => match index.table_rows {
            Some(rows) if rows >= o.min_table_rows => Confidence::Medium,
            None if mean_at_least(statement.stats, o.min_mean_ms) => Confidence::Low,
            _ => return Judgement::Clear,
        },
        (None, _) => return Judgement::Clear,
    };
    let index = match index {
        Ok(index) => index.suggested,
        Err(rule) => return Judgement::NearMiss(rule),
    };
    let (database, joined_spans) = statement_facts(q);
    let suggestion = format!(
        "Suspect: this statement reads far more rows than it returns. An index may help: \
         `{}` Check it with EXPLAIN (ANALYZE, BUFFERS) on a copy of the data before \
         creating it; only the database can prove an index helps.",
        index.statement
    );
    Judgement::Finding(Verdict {
        confidence,
        evidence: Evidence::MissingIndex(Box::new(MissingIndexEvidence {
            blocks_per_row: met.blocks_per_row,
            database,
            grows_with_load: met.grows_with_load,
            joined_spans,
            rows_examined: met.rows_examined,
            seq_scan: met.seq_scan,
            suggested_index: index,
        })),
        suggestion,
    })
}

/// The rules the statement meets.
fn rules_met(statement: &Statement, context: &Context, o: &MissingIndexThresholds) -> Met {
    let q = statement.stats;
    let mut met = Met::default();
    let ratio = |read: f64, returned: f64| read / returned.max(1.0);
    // auto_explain: the scanned table that threw the most rows away.
    if let Some((table, scan)) = q
        .plan
        .seq_scans
        .iter()
        .filter(|(_, s)| s.plans > 0)
        .max_by_key(|(t, s)| (s.rows_removed_by_filter, std::cmp::Reverse(*t)))
    {
        let read = (scan.rows + scan.rows_removed_by_filter) / scan.plans;
        let returned = scan.rows / scan.plans;
        let removed_fraction = scan.rows_removed_by_filter as f64
            / (scan.rows + scan.rows_removed_by_filter).max(1) as f64;
        if read >= o.min_rows_read_per_call
            && ratio(read as f64, returned as f64) >= o.min_read_per_returned
        {
            met.confidence(Confidence::High);
            met.table = Some(table.clone());
            met.table_rows = Some(read);
            met.seq_scan = Some(SeqScanRule {
                filter: scan.filter.clone(),
                of_plans: q.plan.plans,
                plans: scan.plans,
                removed_fraction,
                rows_read_per_scan: read,
                rows_returned_per_scan: returned,
                rule: format!(
                    "a Seq Scan reads ≥ {} rows per scan, ≥ {} per row it returns",
                    o.min_rows_read_per_call, o.min_read_per_returned
                ),
                table: table.clone(),
            });
        }
    }
    // MySQL: rows examined against rows returned (sent, or affected by an UPDATE or DELETE).
    let returned = q.rows_sent + q.rows_affected;
    if q.rows_examined > 0 && q.calls > 0 {
        let per_call = q.rows_examined / q.calls;
        let r = ratio(q.rows_examined as f64, returned as f64);
        if per_call >= o.min_rows_read_per_call && r >= o.min_read_per_returned {
            // A call that examines this many rows reads a table at least this large.
            met.table_rows = met.table_rows.max(Some(per_call));
            met.confidence(if r >= 1000.0 {
                Confidence::High
            } else {
                Confidence::Medium
            });
            met.rows_examined = Some(ExaminedRule {
                examined_per_sent: r,
                rows_examined_per_call: per_call,
                rows_sent_per_call: returned as f64 / q.calls as f64,
                rule: format!(
                    "≥ {} rows examined per call, ≥ {} per row sent",
                    o.min_rows_read_per_call, o.min_read_per_returned
                ),
            });
        }
    }
    // pg_stat_statements: buffers per returned row.
    let blocks = q.blocks.shared_hit + q.blocks.shared_read;
    if blocks > 0 && q.calls >= o.min_calls {
        let per_row = ratio(blocks as f64, returned.max(q.calls) as f64);
        if per_row >= o.min_blocks_per_row && mean_at_least(q, o.min_mean_ms) {
            met.confidence(Confidence::Medium);
            met.blocks_per_row = Some(BlocksRule {
                blocks_per_returned_row: per_row,
                calls: q.calls,
                mean_ms: q.mean_ms(),
                rule: format!(
                    "≥ {} buffers per returned row, mean ≥ {} ms",
                    o.min_blocks_per_row, o.min_mean_ms
                ),
                shared_blocks_hit: q.blocks.shared_hit,
                shared_blocks_read: q.blocks.shared_read,
            });
        }
    }
    // Time per call that grows with load, from the levels' own statement profiles.
    let by_level: Vec<(&str, f64)> = context
        .levels
        .iter()
        .zip(context.level_stats)
        .filter_map(|(l, stats)| {
            let at = stats.get(&q.fingerprint_id)?;
            (at.calls >= o.min_calls).then_some((l.name.as_str(), at.mean_ms()))
        })
        .collect();
    // A plan that read few rows, or a tenth of the time spent waiting for locks, says the
    // growth is waiting (locks, a pool), not scanning.
    let plans_read_few = q.plan.plans > 0 && met.seq_scan.is_none();
    let waited_for_locks = q.lock_ns > 0 && u128::from(q.lock_ns) * 10 >= u128::from(q.total_ns);
    if let (Some(first), Some(last)) = (by_level.first(), by_level.last())
        && !plans_read_few
        && !waited_for_locks
        && by_level.len() >= 2
        && first.1 > 0.0
        && last.1 / first.1 >= o.min_growth
    {
        met.confidence(Confidence::Low);
        met.grows_with_load = Some(GrowthRule {
            growth: last.1 / first.1,
            mean_ms_by_level: by_level
                .iter()
                .map(|&(level, mean_ms)| LevelMean {
                    level: level.into(),
                    mean_ms,
                })
                .collect(),
            rule: format!(
                "mean per call grows ≥ {}× from the first level to the last",
                o.min_growth
            ),
        });
    }
    met
}

/// An index to suggest, and what the schema said of it.
struct Suggestion {
    suggested: SuggestedIndex,
    /// The table is in the schema given and no index of it starts with any column the
    /// statement filters or joins on: every call scans.
    predicate_unindexed: bool,
    /// The table's rows, the largest any source gave.
    table_rows: Option<u64>,
}

/// The index to suggest: its table, its columns, and the facts for the evidence (what the schema
/// and the table statistics said); or, when there is none to suggest, the rule that stopped it.
/// The table's size is the largest any source gave: statistics taken after a reset say 0 live
/// rows while a plan read a million, and the plan is the stronger evidence.
fn suggestion(
    q: &QueryRow,
    met: &Met,
    schema: &Schema,
    dialect: Dialect,
    o: &MissingIndexThresholds,
) -> Result<Suggestion, String> {
    let shape = &q.shape;
    if !shape.parsed {
        return Err("the statement could not be parsed, so its columns are unknown".into());
    }
    let of_table = |column: &str, table: &str| -> Option<String> {
        match column.rsplit_once('.') {
            Some((t, c)) if table_key(t) == table_key(table) => Some(c.to_lowercase()),
            None if shape.tables.len() == 1 => Some(column.to_lowercase()),
            _ => None,
        }
    };
    let columns_for = |table: &str| -> (Vec<String>, usize) {
        let mut columns: Vec<String> = Vec::new();
        let push = |c: Option<String>, columns: &mut Vec<String>| {
            if let Some(c) = c
                && !columns.contains(&c)
            {
                columns.push(c);
            }
        };
        for p in shape
            .where_columns
            .iter()
            .filter(|p| p.test == Test::Equality)
        {
            push(of_table(&p.column, table), &mut columns);
        }
        for c in &shape.join_columns {
            push(of_table(c, table), &mut columns);
        }
        let equality = columns.len();
        let before = columns.len();
        for p in shape.where_columns.iter().filter(|p| p.test == Test::Range) {
            push(of_table(&p.column, table), &mut columns);
        }
        if columns.len() == before {
            for c in &shape.order_by_columns {
                push(of_table(c, table), &mut columns);
            }
        }
        (columns, equality)
    };
    // The table the evidence names, else the statement's table with the most columns to index.
    let table = match met.table.clone() {
        Some(t) => t,
        None => shape
            .tables
            .iter()
            .max_by_key(|t| (columns_for(t).0.len(), std::cmp::Reverse(*t)))
            .cloned()
            .ok_or("the statement names no table")?,
    };
    let (columns, equality) = columns_for(&table);
    if columns.is_empty() {
        return Err(format!(
            "no WHERE, JOIN or ORDER BY column of {table} that a plain index could serve"
        ));
    }
    let known = schema.table(&table);
    let live_rows = known.and_then(|t| t.live_rows);
    let rows = live_rows.max(met.table_rows);
    if let Some(rows) = rows
        && rows < o.min_table_rows
    {
        return Err(format!(
            "{table} has {rows} rows, under {} (too small for an index to pay)",
            o.min_table_rows
        ));
    }
    let schema_check = match known {
        None if schema.tables.is_empty() => "no schema given: existing indexes not checked".into(),
        None => format!("{table} is not in the schema given"),
        Some(t) => {
            if let Some(index) = t
                .indexes
                .iter()
                .find(|i| covers(&i.columns, &columns, equality))
            {
                return Err(format!(
                    "already covered by index {} ({})",
                    if index.name.is_empty() {
                        "without a name"
                    } else {
                        &index.name
                    },
                    index.columns.join(", ")
                ));
            }
            format!("no index of {table} starts with these columns")
        }
    };
    let schema_check = match (live_rows, met.table_rows) {
        (Some(live), Some(read)) if live < read => format!(
            "{schema_check}; the table statistics say {live} live rows, but a scan read {read} \
             (statistics reset or stale): the scan is believed"
        ),
        _ => schema_check,
    };
    // pg_stat_user_tables: how the table is read overall, beside this statement's evidence.
    let scans = known.and_then(|t| t.seq_scans.zip(t.index_scans));
    // In the database's own syntax.
    let statement = match dialect {
        Dialect::Postgres => format!(
            "CREATE INDEX CONCURRENTLY ON {table} ({});",
            columns.join(", ")
        ),
        Dialect::Mysql => format!(
            "ALTER TABLE {table} ADD INDEX ({}), ALGORITHM=INPLACE, LOCK=NONE;",
            columns.join(", ")
        ),
    };
    let filtered: Vec<String> = shape
        .where_columns
        .iter()
        .filter(|p| p.test != Test::Other)
        .map(|p| p.column.as_str())
        .chain(shape.join_columns.iter().map(String::as_str))
        .filter_map(|c| of_table(c, &table))
        .collect();
    Ok(Suggestion {
        predicate_unindexed: known.is_some_and(|t| {
            !t.indexes
                .iter()
                .any(|i| i.columns.first().is_some_and(|c| filtered.contains(c)))
        }),
        table_rows: rows,
        suggested: SuggestedIndex {
            statement,
            columns,
            live_rows,
            schema: schema_check,
            table,
            table_index_scans: scans.map(|(_, idx)| idx),
            table_seq_scan_share: scans.map(|(seq, idx)| seq as f64 / (seq + idx).max(1) as f64),
            table_seq_scans: scans.map(|(seq, _)| seq),
        },
    })
}

/// True when `index` starts with `columns`: the first `equality` in any order, the rest in order.
fn covers(index: &[String], columns: &[String], equality: usize) -> bool {
    if index.len() < columns.len() {
        return false;
    }
    let mut lead: Vec<&String> = index[..equality].iter().collect();
    let mut want: Vec<&String> = columns[..equality].iter().collect();
    lead.sort();
    want.sort();
    lead == want && index[equality..columns.len()] == columns[equality..]
}

#[cfg(test)]
mod tests {
    use super::covers;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn an_index_covers_a_suggestion_it_starts_with() {
        // Equality columns in any order, then the rest in order.
        assert!(covers(&v(&["b", "a", "c"]), &v(&["a", "b"]), 2));
        assert!(covers(&v(&["a", "b"]), &v(&["a"]), 1));
        assert!(!covers(&v(&["a"]), &v(&["a", "b"]), 1));
        assert!(!covers(&v(&["b", "a"]), &v(&["a", "b"]), 1));
        assert!(!covers(&v(&["c", "a"]), &v(&["a"]), 1));
    }
}
