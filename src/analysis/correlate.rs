//! The join of trace spans with database statements: which requests wait for a statement, and
//! how long. Each statement of the profile is matched with database spans in the order the
//! design gives, and says how:
//!
//! 1. `traceparent`: a sqlcommenter comment in a log entry or pg_stat_statements text names the
//!    span that ran it (an exact join, whatever the span recorded);
//! 2. a query id: the profile has already joined a log's entries with pg_stat_statements rows of
//!    the same `queryid` (`QueryRow::sources_joined_by`);
//! 3. the fingerprint of the span's `db.query.text`, with its `db.namespace` equal to the
//!    statement's database and its end within the log's window (give or take [`SKEW_NS`]) where
//!    each side says.
//!
//! Spans are counted per operation key (service, system, fingerprint), and the request-side cost
//! of a joined key is its critical-path time over all requests.

use super::queries::JoinKeys;
use super::{TraceResult, stats};
use crate::model::OpKey;
use crate::model::fingerprint::fnv1a64;
use crate::model::{Dataset, OpKind, Span, SpanId, Sym, TraceId};
use crate::report::{QueryRow, ServedEndpoint, SpanJoin};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::{BTreeMap, BTreeSet};

/// How far a span's end may fall outside a log's window of a statement and still join it: the
/// clocks of the application and the database host may differ, and `%t` has 1 s resolution.
pub const SKEW_NS: i64 = 2_000_000_000;

/// What the join found for one (statement, operation key).
#[derive(Default)]
struct Joined {
    traceparents: u64,
    spans: u64,
    duration_ns: u64,
    database_checked: bool,
    time_checked: bool,
    /// The longest span: duration, trace, span.
    longest: (u64, TraceId, SpanId),
}

impl Joined {
    fn add(&mut self, span: &Span) {
        let d = span.duration_ns() as u64;
        self.spans += 1;
        self.duration_ns += d;
        self.longest = self.longest.max((d, span.trace_id, span.span_id));
    }
}

/// Fills `rows[].spans`: for each statement, the database spans that ran it, by operation key;
/// `keys[i]` joins `rows[i]`.
pub(super) fn join(
    rows: &mut [QueryRow],
    keys: &[JoinKeys],
    results: &[TraceResult],
    dataset: &Dataset,
    level_names: &[String],
) {
    let strings = &dataset.strings;
    let mut row_of_fingerprint: HashMap<u64, usize> = HashMap::default();
    for (i, k) in keys.iter().enumerate() {
        for &id in &k.fingerprint_ids {
            row_of_fingerprint.insert(id, i);
        }
    }
    let mut row_of_context: HashMap<(TraceId, SpanId), usize> = HashMap::default();
    for (i, k) in keys.iter().enumerate() {
        for &c in &k.trace_contexts {
            row_of_context.entry(c).or_insert(i);
        }
    }
    let databases: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.database_names().into_iter().map(String::from).collect())
        .collect();
    let mut joined: BTreeMap<(usize, OpKey), Joined> = BTreeMap::new();
    let mut row_of_label: HashMap<Sym, Option<usize>> = HashMap::default();
    for span in dataset.spans.iter().filter(|s| s.op_kind == OpKind::Db) {
        let key = OpKey::of(span);
        if let Some(&row) = row_of_context.get(&(span.trace_id, span.span_id)) {
            let j = joined.entry((row, key)).or_default();
            j.traceparents += 1;
            j.add(span);
            continue;
        }
        // A label is hashed once, however many spans carry it.
        let row = *row_of_label.entry(span.op_label).or_insert_with(|| {
            let fingerprint = fnv1a64(strings.get(span.op_label).as_bytes());
            row_of_fingerprint.get(&fingerprint).copied()
        });
        let Some(row) = row else {
            continue;
        };
        let namespace = strings.get(span.db_namespace);
        let database_checked = !namespace.is_empty() && !databases[row].is_empty();
        if database_checked && !databases[row].iter().any(|d| d == namespace) {
            continue;
        }
        let window = rows[row].window_unix_ns;
        if let Some((first, last)) = window
            && (span.end_unix_ns < first - SKEW_NS || span.end_unix_ns > last + SKEW_NS)
        {
            continue;
        }
        let j = joined.entry((row, key)).or_default();
        j.add(span);
        j.database_checked |= database_checked;
        j.time_checked |= window.is_some();
    }
    // The request side: each joined key's critical-path time, its calls per trace, its levels.
    #[derive(Default)]
    struct Cost {
        cp_ns: u64,
        calls_per_trace: Vec<u64>,
        levels: BTreeSet<u32>,
        /// Traces per endpoint the spans serve.
        endpoints: HashMap<OpKey, u64>,
    }
    let joined_keys: HashSet<OpKey> = joined.keys().map(|(_, k)| *k).collect();
    let mut cost: HashMap<OpKey, Cost> = HashMap::default();
    for r in results {
        for k in r.keys.iter().filter(|k| joined_keys.contains(&k.key)) {
            let c = cost.entry(k.key).or_default();
            c.cp_ns += k.cp_ns;
            c.calls_per_trace.push(k.spans);
            c.levels.extend(r.level);
            *c.endpoints.entry(k.endpoint).or_default() += 1;
        }
    }
    for c in cost.values_mut() {
        c.calls_per_trace.sort_unstable();
    }
    let requests = results.len() as u64;
    let none = Cost::default();
    for ((row, key), j) in joined {
        let c = cost.get(&key).unwrap_or(&none);
        let method = match (j.traceparents > 0, j.database_checked, j.time_checked) {
            (true, _, _) => "traceparent",
            (false, true, true) => "fingerprint+database+time",
            (false, true, false) => "fingerprint+database",
            (false, false, true) => "fingerprint+time",
            (false, false, false) => "fingerprint",
        };
        rows[row].spans.push(SpanJoin {
            service: strings.get(key.service).into(),
            method: method.into(),
            traceparents_matched: j.traceparents,
            spans: j.spans,
            traces: c.calls_per_trace.len() as u64,
            cp_ms_per_request: stats::ms(if requests == 0 {
                0
            } else {
                stats::div_round(c.cp_ns, requests)
            }),
            mean_ms: stats::ms(stats::div_round(j.duration_ns, j.spans.max(1))),
            calls_per_trace_median: stats::percentile(&c.calls_per_trace, 50),
            calls_per_trace_max: c.calls_per_trace.last().copied().unwrap_or(0),
            levels: c
                .levels
                .iter()
                .map(|&l| level_names[l as usize].clone())
                .collect(),
            exemplar_trace_id: j.longest.1.to_string(),
            exemplar_span_id: j.longest.2.to_string(),
            endpoints: served(&c.endpoints, strings),
        });
    }
    for row in rows.iter_mut() {
        row.spans.sort_by(|a, b| {
            b.cp_ms_per_request
                .total_cmp(&a.cp_ms_per_request)
                .then_with(|| a.service.cmp(&b.service))
        });
    }
}

/// The endpoints spans serve, most traces first (then by name, so ties are stable).
pub(super) fn served(
    endpoints: &HashMap<OpKey, u64>,
    strings: &crate::model::Interner,
) -> Vec<ServedEndpoint> {
    let mut served: Vec<ServedEndpoint> = endpoints
        .iter()
        .map(|(k, &traces)| ServedEndpoint {
            service: strings.get(k.service).into(),
            operation: strings.get(k.label).into(),
            traces,
        })
        .collect();
    served.sort_by(|a, b| {
        b.traces
            .cmp(&a.traces)
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    served
}
