//! Database sessions per level, from the PostgreSQL log: for each role, database and
//! application, the backends (process ids) that ran statements during the level, the statements,
//! and the backends busy at once on average (the statements' summed durations over the level's
//! window: Little's law on the database side). A pool that saturates shows as its backends all
//! busy; a lock or a hot row as busy backends growing while statements per request do not. And
//! from `pg_stat_activity` samples when given: the backends each held per state, and those
//! waiting on a lock, on average over the level's samples.

use crate::model::query::{ActivitySample, SessionSecond};
use crate::report::{DatabaseActivity, DatabaseSessions, Level};
use std::collections::{BTreeMap, BTreeSet};

/// Each level's sessions, most busy first; seconds are in a level when they start within its
/// window.
pub(super) fn by_level(sessions: &[SessionSecond], levels: &[Level]) -> Vec<Vec<DatabaseSessions>> {
    levels
        .iter()
        .map(|level| {
            let end = level.start_unix_ns.saturating_add(level.window_ns as i64);
            // Per (role, database, application): backends, statements, busy ns.
            type Totals = (BTreeSet<u64>, u64, u64);
            let mut groups: BTreeMap<(&str, &str, &str), Totals> = BTreeMap::new();
            for s in sessions {
                let at = s.second_unix.saturating_mul(1_000_000_000);
                if at < level.start_unix_ns || at >= end {
                    continue;
                }
                let g = groups
                    .entry((&s.user, &s.database, &s.application))
                    .or_default();
                g.0.insert(s.pid);
                g.1 += s.statements;
                g.2 = g.2.saturating_add(s.busy_ns);
            }
            let mut rows: Vec<DatabaseSessions> = groups
                .into_iter()
                .map(
                    |((user, database, application), (pids, statements, busy_ns))| {
                        DatabaseSessions {
                            user: user.into(),
                            database: database.into(),
                            application: application.into(),
                            backends: pids.len() as u64,
                            statements,
                            busy_backends: busy_ns as f64 / level.window_ns.max(1) as f64,
                        }
                    },
                )
                .collect();
            rows.sort_by(|a, b| {
                b.busy_backends.total_cmp(&a.busy_backends).then_with(|| {
                    (&a.user, &a.database, &a.application).cmp(&(
                        &b.user,
                        &b.database,
                        &b.application,
                    ))
                })
            });
            rows
        })
        .collect()
}

/// Each level's `pg_stat_activity` rows, most backends first: the samples taken in its window,
/// and per role, database and application the mean backends per state and waiting on a lock
/// (an application absent from a sample counts 0 there).
pub(super) fn activity_by_level(
    samples: &[ActivitySample],
    levels: &[Level],
) -> Vec<Vec<DatabaseActivity>> {
    levels
        .iter()
        .map(|level| {
            let end = level.start_unix_ns.saturating_add(level.window_ns as i64);
            let within: Vec<&ActivitySample> = samples
                .iter()
                .filter(|s| s.time_unix_ns >= level.start_unix_ns && s.time_unix_ns < end)
                .collect();
            let instants: BTreeSet<i64> = within.iter().map(|s| s.time_unix_ns).collect();
            let n = instants.len() as f64;
            // Per (role, database, application): backends per state, and waiting on a lock.
            type Totals<'s> = (BTreeMap<&'s str, u64>, u64);
            let mut groups: BTreeMap<(&str, &str, &str), Totals> = BTreeMap::new();
            for s in &within {
                let g = groups
                    .entry((&s.user, &s.database, &s.application))
                    .or_default();
                *g.0.entry(&s.state).or_default() += s.backends;
                if s.wait_event_type == "Lock" {
                    g.1 += s.backends;
                }
            }
            let mut rows: Vec<(u64, DatabaseActivity)> = groups
                .into_iter()
                .map(|((user, database, application), (states, locked))| {
                    let total = states.values().sum();
                    let row = DatabaseActivity {
                        user: user.into(),
                        database: database.into(),
                        application: application.into(),
                        samples: instants.len() as u64,
                        backends_by_state: states
                            .into_iter()
                            .map(|(state, b)| (state.to_string(), b as f64 / n))
                            .collect(),
                        waiting_on_lock: locked as f64 / n,
                    };
                    (total, row)
                })
                .collect();
            rows.sort_by(|(a, ra), (b, rb)| {
                b.cmp(a).then_with(|| {
                    (&ra.user, &ra.database, &ra.application).cmp(&(
                        &rb.user,
                        &rb.database,
                        &rb.application,
                    ))
                })
            });
            rows.into_iter().map(|(_, r)| r).collect()
        })
        .collect()
}

/// An application's backends not idle (active, or idle in a transaction) at a level, mean over
/// the `pg_stat_activity` samples; None when no sample names it.
pub(super) fn in_use(level: &Level, application: &str) -> Option<f64> {
    let rows: Vec<&DatabaseActivity> = level
        .database_activity
        .iter()
        .filter(|a| a.application == application)
        .collect();
    (!rows.is_empty()).then(|| {
        rows.iter()
            .flat_map(|a| &a.backends_by_state)
            .filter(|(state, _)| state.as_str() != "idle")
            .fold(0.0, |sum, (_, b)| sum + b)
    })
}

/// The backends an application used at a level and how many were busy at once, summed over
/// its roles and databases; None when the log names no such application.
pub(super) fn of_application(level: &Level, application: &str) -> Option<(u64, f64)> {
    let rows: Vec<&DatabaseSessions> = level
        .database_sessions
        .iter()
        .filter(|s| s.application == application)
        .collect();
    (!rows.is_empty()).then(|| {
        (
            rows.iter().map(|s| s.backends).sum(),
            rows.iter().map(|s| s.busy_backends).sum(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_in_a_levels_window_are_summed_per_application() {
        let second = |application: &str, pid, second_unix, busy_ns| SessionSecond {
            user: "shop".into(),
            database: "shop".into(),
            application: application.into(),
            pid,
            second_unix,
            statements: 2,
            busy_ns,
        };
        let sessions = [
            second("orders", 11, 100, 500_000_000),
            second("orders", 12, 101, 1_500_000_000),
            second("orders", 11, 109, 1_000_000_000),
            second("orders", 13, 110, 9_000_000_000),
            second("gateway", 21, 105, 100_000_000),
        ];
        let level: Level = serde_json::from_value(serde_json::json!({
            "name": "10rps", "start_unix_ns": 100_000_000_000i64, "requests": 100, "rps": 10.0,
            "window_ns": 10_000_000_000u64, "error_rate": 0.0, "latency_ns_total": 0,
            "latency_ms": {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0},
            "bottlenecks": [], "other": {"operations": 0, "cp_ns_total": 0,
            "cp_ms_per_request": 0.0, "share": 0.0}
        }))
        .unwrap();
        let mut rows = by_level(&sessions, std::slice::from_ref(&level)).remove(0);
        assert_eq!(rows.len(), 2);
        let orders = &rows[0];
        assert_eq!(orders.application, "orders");
        // Second 110 is past the window's end.
        assert_eq!((orders.backends, orders.statements), (2, 6));
        assert!((orders.busy_backends - 0.3).abs() < 1e-12);
        let mut level = level;
        level.database_sessions = std::mem::take(&mut rows);
        assert_eq!(of_application(&level, "gateway"), Some((1, 0.01)));
        assert_eq!(of_application(&level, "pricing"), None);
    }
}
