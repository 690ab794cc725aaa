//! Database sessions per level, from the PostgreSQL log: for each role, database and
//! application, the backends (process ids) that ran statements during the level, the statements,
//! and the backends busy at once on average (the statements' summed durations over the level's
//! window: Little's law on the database side). A pool that saturates shows as its backends all
//! busy; a lock or a hot row as busy backends growing while statements per request do not.

use crate::model::query::SessionSecond;
use crate::report::{DatabaseSessions, Level};
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
