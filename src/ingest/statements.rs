//! Where database parsers put what they read: each query event is fingerprinted and folded at
//! once into its statement's [`StatementStats`], so a chunk of a log costs memory for its
//! distinct statements only. Batches of one file (each a run of its chunks) merge in file
//! order, and merging equals adding one by one (the first exemplar, the first trace contexts,
//! the first examples of the ledger are the file's first, however the file was cut). The fingerprint caches (raw text to id, shape to id, id to
//! normalized text) belong to the thread, not the chunk: with thousands of distinct statements,
//! most of a chunk's are new to the chunk but not to the thread.

use crate::model::fingerprint::{Dialect, Fingerprinter, fnv1a64, trace_context};
use crate::model::ledger::InputLedger;
use crate::model::query::{MAX_TRACE_CONTEXTS, Phase, QueryEvent, Source, StatementStats};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::hash_map::Entry;

/// Raw statement texts remembered with their fingerprint before the cache is cleared: enough
/// for the statements of a chunk, bounded however many literals a log holds.
const MAX_CACHED_TEXTS: usize = 1 << 16;

/// The statements of a run of chunks (or of one file) of database input.
#[derive(Debug, Default)]
pub struct StatementBatch {
    /// Where in `stats` a statement is, by fingerprint id and hash of the database name.
    index: FxHashMap<(u64, u64), usize>,
    /// The statements in the order first seen; a statement's place is its handle for the
    /// entries that complete it later (a `DETAIL:  parameters:` line).
    stats: Vec<StatementStats>,
    /// Records read and skipped in this chunk.
    pub ledger: InputLedger,
    source: Source,
    /// Per session second: statements and their time.
    sessions: FxHashMap<SessionKey, (u64, u64)>,
}

/// A thread's fingerprint caches.
#[derive(Default)]
struct Fingerprints {
    /// FxHash of the raw text → fingerprint id (a cache: a collision could only ever give a
    /// statement another's fingerprint, with odds of 2^-64 per pair).
    by_text: FxHashMap<u64, u64>,
    /// Fingerprint id → normalized text, [`MAX_CACHED_TEXT_BYTES`] at most.
    texts: FxHashMap<u64, Box<str>>,
    text_bytes: usize,
    fingerprinter: Fingerprinter,
}

/// Bytes of normalized text a thread remembers before it forgets them all.
const MAX_CACHED_TEXT_BYTES: usize = 16 << 20;

impl Fingerprints {
    /// The normalized text of `sql`, whose fingerprint id is `id`.
    fn text(&mut self, id: u64, sql: &str, dialect: Dialect) -> String {
        if let Some(text) = self.texts.get(&id) {
            return text.to_string();
        }
        let text = self.fingerprinter.normalize(sql, dialect).text.to_string();
        if self.text_bytes + text.len() > MAX_CACHED_TEXT_BYTES {
            self.texts.clear();
            self.text_bytes = 0;
        }
        self.text_bytes += text.len();
        self.texts.insert(id, text.as_str().into());
        text
    }
}

thread_local! {
    static FINGERPRINTS: RefCell<Fingerprints> = RefCell::default();
}

/// Role, database, application, backend pid and second of a session's statements.
type SessionKey = (String, String, String, u64, i64);

/// Session seconds kept per file (about 100 MB at most): an hour of 290 backends, each busy
/// every second.
pub const MAX_SESSION_SECONDS: usize = 1 << 20;

impl StatementBatch {
    /// An empty batch of `source` statements.
    pub fn new(source: Source) -> StatementBatch {
        StatementBatch {
            source,
            ..StatementBatch::default()
        }
    }

    /// The statement `sql` belongs to in `database`, created when new.
    pub fn statement(&mut self, sql: &str, database: &str) -> &mut StatementStats {
        let at = self.place(sql, database);
        &mut self.stats[at]
    }

    /// The statement at `place`, as [`StatementBatch::record`] gave it.
    pub fn at(&mut self, place: usize) -> &mut StatementStats {
        &mut self.stats[place]
    }

    /// The place of the statement `sql` belongs to in `database`, created when new.
    fn place(&mut self, sql: &str, database: &str) -> usize {
        let dialect = self.source.dialect();
        // The thread's cache serves every source: the same text may lex otherwise in another
        // dialect (MySQL's "a" is a string, PostgreSQL's a name).
        let raw = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = rustc_hash::FxBuildHasher.build_hasher();
            h.write_u8(dialect as u8);
            h.write(sql.as_bytes());
            h.finish()
        };
        let id = FINGERPRINTS.with_borrow_mut(|f| match f.by_text.get(&raw) {
            Some(&id) => id,
            None => {
                if f.by_text.len() >= MAX_CACHED_TEXTS {
                    f.by_text.clear();
                }
                let id = f.fingerprinter.id(sql, dialect);
                f.by_text.insert(raw, id);
                id
            }
        });
        match self.index.entry((id, fnv1a64(database.as_bytes()))) {
            Entry::Occupied(place) => *place.get(),
            Entry::Vacant(slot) => {
                self.stats.push(StatementStats {
                    fingerprint_id: id,
                    fingerprint: FINGERPRINTS.with_borrow_mut(|f| f.text(id, sql, dialect)),
                    exemplar: sql.to_string(),
                    database: database.to_string(),
                    source: self.source,
                    ..StatementStats::default()
                });
                *slot.insert(self.stats.len() - 1)
            }
        }
    }

    /// Folds one logged duration into its statement (an execution, or a parse or bind step);
    /// the statement's place.
    pub fn record(&mut self, phase: Phase, event: &QueryEvent<'_>) -> usize {
        let context = trace_context(event.sql);
        let place = self.place(event.sql, event.database);
        let stats = &mut self.stats[place];
        match phase {
            Phase::Execute => stats.add(event),
            Phase::Parse | Phase::Bind => {
                let totals = if phase == Phase::Parse {
                    &mut stats.parse
                } else {
                    &mut stats.bind
                };
                totals.count = totals.count.saturating_add(1);
                totals.total_ns = totals.total_ns.saturating_add(event.duration_ns);
            }
        }
        // Parse, bind and execute of one call carry the same comment: it is kept once.
        if let Some(context) = context
            && stats.trace_contexts.len() < MAX_TRACE_CONTEXTS
            && stats.trace_contexts.last() != Some(&context)
        {
            stats.trace_contexts.push(context);
        }
        place
    }

    /// Counts a statement of `duration_ns` that ended at `end_unix_ns` in a session.
    pub fn session(
        &mut self,
        (user, database, application): (&str, &str, &str),
        pid: u64,
        end_unix_ns: i64,
        duration_ns: u64,
    ) {
        let key = (
            user.to_string(),
            database.to_string(),
            application.to_string(),
            pid,
            end_unix_ns.div_euclid(1_000_000_000),
        );
        self.add_session(key, 1, duration_ns);
    }

    /// Adds to a session second; past [`MAX_SESSION_SECONDS`] a new one is not counted, and a
    /// note says so.
    fn add_session(&mut self, key: SessionKey, statements: u64, busy_ns: u64) {
        if self.sessions.len() >= MAX_SESSION_SECONDS && !self.sessions.contains_key(&key) {
            self.ledger
                .notes
                .entry("database_sessions_capped".into())
                .or_insert_with(|| {
                    format!(
                        "over {MAX_SESSION_SECONDS} session-seconds (role, database, \
                         application, backend, second): later ones are left out of the \
                         database sessions; statements are all counted"
                    )
                });
            return;
        }
        let e = self.sessions.entry(key).or_default();
        e.0 += statements;
        e.1 = e.1.saturating_add(busy_ns);
    }

    /// The sessions counted, sorted.
    pub fn take_sessions(&mut self) -> Vec<crate::model::query::SessionSecond> {
        let mut out: Vec<crate::model::query::SessionSecond> = std::mem::take(&mut self.sessions)
            .into_iter()
            .map(
                |((user, database, application, pid, second_unix), (statements, busy_ns))| {
                    crate::model::query::SessionSecond {
                        user,
                        database,
                        application,
                        pid,
                        second_unix,
                        statements,
                        busy_ns,
                    }
                },
            )
            .collect();
        out.sort_unstable();
        out
    }

    /// Adds a later chunk of the same file.
    pub fn merge(&mut self, other: StatementBatch) {
        self.ledger.merge(other.ledger);
        for (key, (statements, busy_ns)) in other.sessions {
            self.add_session(key, statements, busy_ns);
        }
        let mut others = other.stats;
        for (key, place) in other.index {
            let stats = std::mem::take(&mut others[place]);
            match self.index.entry(key) {
                Entry::Occupied(mine) => self.stats[*mine.get()].merge(stats),
                Entry::Vacant(slot) => {
                    slot.insert(self.stats.len());
                    self.stats.push(stats);
                }
            }
        }
    }

    /// The statements, the batch's ledger merged into the file's.
    pub fn finish(mut self, ledger: &mut InputLedger) -> Vec<StatementStats> {
        ledger.merge(std::mem::take(&mut self.ledger));
        self.into_statements()
    }

    /// Statements with at least one execution, parse or bind, or plan, sorted by fingerprint id
    /// then database (their input is set when the dataset is assembled).
    pub fn into_statements(self) -> Vec<StatementStats> {
        let mut out: Vec<StatementStats> = self
            .stats
            .into_iter()
            .filter(|s| s.calls > 0 || s.parse.count > 0 || s.bind.count > 0 || s.plan.plans > 0)
            .collect();
        out.sort_by(|a, b| (a.fingerprint_id, &a.database).cmp(&(b.fingerprint_id, &b.database)));
        out
    }

    /// Statements held so far.
    pub fn len(&self) -> usize {
        self.stats.len()
    }

    /// True when no statement was recorded.
    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_seen_in_one_dialect_is_fingerprinted_anew_in_the_other() {
        let sql = r#"SELECT "a" FROM t"#;
        let fingerprint = |source| {
            let mut batch = StatementBatch::new(source);
            batch.statement(sql, "db").fingerprint.clone()
        };
        // The same thread, so the same caches, in both orders.
        for _ in 0..2 {
            assert_eq!(fingerprint(Source::PgLog), r#"select "a" from t"#);
            assert_eq!(fingerprint(Source::MysqlSlow), "select ? from t");
        }
        assert_eq!(fingerprint(Source::PgLog), r#"select "a" from t"#);
    }

    #[test]
    fn session_seconds_are_capped_with_a_note() {
        let mut batch = StatementBatch::new(Source::PgLog);
        let session = ("shop", "shop", "orders");
        for second in 0..=MAX_SESSION_SECONDS as i64 {
            batch.session(session, 7, second * 1_000_000_000, 1_000);
        }
        // A second already counted still adds up past the cap.
        batch.session(session, 7, 0, 1_000);
        assert!(batch.ledger.notes.contains_key("database_sessions_capped"));
        let sessions = batch.take_sessions();
        assert_eq!(sessions.len(), MAX_SESSION_SECONDS);
        assert_eq!((sessions[0].statements, sessions[0].busy_ns), (2, 2_000));
    }
}
