//! The detectors on hand-built traces, one test per pattern and per hard case that the issue
//! names, and their metamorphic properties on random requests: duplicating every trace doubles
//! the counts, removing spans never creates a finding at a new place, and the order in which
//! strings were first seen changes no byte of the report.

use crate::common::analyze;
use crate::common::{SpanMaker, dataset};
use chokepoint::analysis::Options;
use chokepoint::model::settings::DetectorThresholds;
use chokepoint::model::{Arguments, OpKind, Span, SpanKind};
use chokepoint::report::evidence::Evidence;
use chokepoint::report::{Confidence, Finding, FindingKind, Report};
use chokepoint_synth::Rng;
use proptest::prelude::*;

const MS: i64 = 1_000_000;

/// Builds traces span by span; ids are given out in order.
pub(crate) struct Traces {
    pub(crate) maker: SpanMaker,
    pub(crate) spans: Vec<Span>,
    next_id: u64,
}

impl Traces {
    pub(crate) fn new() -> Traces {
        Traces {
            maker: SpanMaker::new(),
            spans: Vec::new(),
            next_id: 1,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        trace: u64,
        parent: u64,
        (start, end): (i64, i64),
        service: &str,
        name: &str,
        kind: SpanKind,
        op_kind: OpKind,
        call_args: u64,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut span = self
            .maker
            .span(trace, id, parent, start, end, service, name, kind);
        span.op_kind = op_kind;
        span.call_args = call_args;
        span.arguments = match (call_args, op_kind) {
            (0, _) => Arguments::Unrecorded,
            (_, OpKind::Db) => Arguments::Literals,
            _ => Arguments::Url,
        };
        if op_kind == OpKind::Db {
            span.op_system = self.maker.strings.intern("postgresql");
            span.is_statement = true;
        }
        self.spans.push(span);
        id
    }

    pub(crate) fn root(&mut self, trace: u64, at: (i64, i64), service: &str, name: &str) -> u64 {
        self.add(
            trace,
            0,
            at,
            service,
            name,
            SpanKind::Server,
            OpKind::Http,
            0,
        )
    }

    pub(crate) fn server(&mut self, trace: u64, parent: u64, at: (i64, i64), service: &str) -> u64 {
        let name = format!("GET /{service}");
        self.add(
            trace,
            parent,
            at,
            service,
            &name,
            SpanKind::Server,
            OpKind::Http,
            0,
        )
    }

    fn query(
        &mut self,
        trace: u64,
        parent: u64,
        at: (i64, i64),
        service: &str,
        sql: &str,
        args: u64,
    ) -> u64 {
        self.add(
            trace,
            parent,
            at,
            service,
            sql,
            SpanKind::Client,
            OpKind::Db,
            args,
        )
    }

    pub(crate) fn call(
        &mut self,
        trace: u64,
        parent: u64,
        at: (i64, i64),
        service: &str,
        url: &str,
        args: u64,
    ) -> u64 {
        self.add(
            trace,
            parent,
            at,
            service,
            url,
            SpanKind::Client,
            OpKind::Http,
            args,
        )
    }

    fn internal(
        &mut self,
        trace: u64,
        parent: u64,
        at: (i64, i64),
        service: &str,
        name: &str,
    ) -> u64 {
        self.add(
            trace,
            parent,
            at,
            service,
            name,
            SpanKind::Internal,
            OpKind::Internal,
            0,
        )
    }

    /// `count` queries of `sql` under `parent`, one every `step_ms` from `first_ms`, each
    /// `len_ms` long, with arguments 1, 2, ….
    #[allow(clippy::too_many_arguments)]
    fn query_loop(
        &mut self,
        trace: u64,
        parent: u64,
        sql: &str,
        first_ms: i64,
        step_ms: i64,
        len_ms: i64,
        count: i64,
    ) {
        for i in 0..count {
            let at = ms(first_ms + step_ms * i);
            self.query(
                trace,
                parent,
                (at, at + ms(len_ms)),
                "api",
                sql,
                i as u64 + 1,
            );
        }
    }

    pub(crate) fn analyze(self, options: &Options) -> Report {
        analyze(&dataset(self.spans, self.maker), options)
    }
}

pub(crate) fn ms(t: i64) -> i64 {
    t * MS
}

pub(crate) fn of_kind(report: &Report, kind: FindingKind) -> Vec<&Finding> {
    report.findings.iter().filter(|f| f.kind == kind).collect()
}

const ITEM: &str = "select * from items where id = ?";
const USER: &str = "select * from users where id = ?";
const ORDERS: &str = "select * from orders where user_id = ?";

#[test]
fn other_spans_between_the_repeated_queries_still_make_an_n_plus_one() {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "api", "GET /orders");
    for i in 0..6 {
        let at = ms(12 * i);
        t.internal(1, root, (at, at + ms(1)), "api", "cache get");
        t.internal(1, root, (at + ms(1), at + ms(1)), "api", "log");
        t.query(
            1,
            root,
            (at + ms(1), at + ms(11)),
            "api",
            ITEM,
            100 + i as u64,
        );
    }
    t.spans[3].code_location = t.maker.strings.intern("load_items (api/orders.py:12)");
    let report = t.analyze(&Options::default());
    let found = of_kind(&report, FindingKind::NPlusOneDb);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    let f = found[0];
    assert_eq!(
        (
            f.service.as_str(),
            f.operation.as_str(),
            f.fingerprint.as_str()
        ),
        ("api", "GET /orders", ITEM)
    );
    assert_eq!(
        (f.occurrences_median, f.occurrences_max, f.traces_affected),
        (6, 6, 1)
    );
    assert_eq!(
        f.cp_ms_per_request,
        Some(60.0),
        "six sequential 10 ms queries on the path"
    );
    assert_eq!(
        f.saving_ms_per_request,
        Some(50.0),
        "all but one batched query"
    );
    assert_eq!(f.confidence, Confidence::High, "arguments were recorded");
    assert_eq!(f.code_location, "load_items (api/orders.py:12)");
    assert!(f.suggestion.contains("ANY($1)"));
    assert_eq!(f.exemplar_trace_ids.len(), 1);
    assert_eq!(f.id.len(), 16);
}

/// Five 10 ms lookups, one after another or two at a time.
fn lookups(concurrent: bool) -> Report {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(60)), "api", "GET /cart");
    for i in 0..5i64 {
        let start = if concurrent {
            ms(10 * (i / 2))
        } else {
            ms(10 * i)
        };
        t.query(1, root, (start, start + ms(10)), "api", ITEM, i as u64 + 1);
    }
    t.analyze(&Options::default())
}

#[test]
fn concurrent_repeats_are_reported_with_their_real_smaller_saving() {
    let sequential = lookups(false);
    let concurrent = lookups(true);
    let (s, c) = (
        of_kind(&sequential, FindingKind::NPlusOneDb)[0],
        of_kind(&concurrent, FindingKind::NPlusOneDb)[0],
    );
    assert_eq!(
        (s.cp_ms_per_request, s.saving_ms_per_request),
        (Some(50.0), Some(40.0))
    );
    assert_eq!(
        (c.cp_ms_per_request, c.saving_ms_per_request),
        (Some(30.0), Some(20.0)),
        "three waves on the path, one batched query left"
    );
    assert_eq!(
        (s.busy_ms_per_request, c.busy_ms_per_request),
        (Some(50.0), Some(50.0)),
        "concurrent or not, the database is busy as long"
    );
}

#[test]
fn identical_statements_with_identical_parameters_are_redundant_not_n_plus_one() {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "api", "GET /me");
    for i in 0..6 {
        t.query(
            1,
            root,
            (ms(10 * i), ms(10 * i + 8)),
            "api",
            "select * from users where id = ?",
            42,
        );
    }
    let report = t.analyze(&Options::default());
    assert!(
        of_kind(&report, FindingKind::NPlusOneDb).is_empty(),
        "{:#?}",
        report.findings
    );
    let found = of_kind(&report, FindingKind::RedundantCall);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].occurrences_median, 5,
        "five calls repeat the first"
    );
    assert_eq!(found[0].saving_ms_per_request, Some(40.0));
    assert!(found[0].suggestion.contains("cache"));
}

/// Ten traces of a parent calling two services one after the other; `swap(i)` reverses the order
/// in trace i.
fn fanout(swap: impl Fn(u64) -> bool) -> Report {
    let mut t = Traces::new();
    for trace in 1..=10 {
        let root = t.root(trace, (0, ms(60)), "web", "GET /page");
        let (first, second) = if swap(trace) {
            ("GET prices/{id}", "GET stock/{id}")
        } else {
            ("GET stock/{id}", "GET prices/{id}")
        };
        t.call(trace, root, (ms(2), ms(30)), "web", first, 1);
        t.call(trace, root, (ms(30), ms(55)), "web", second, 2);
    }
    t.analyze(&Options::default())
}

#[test]
fn sequential_calls_whose_order_varies_are_independent() {
    let report = fanout(|trace| trace % 2 == 0);
    let found = of_kind(&report, FindingKind::SequentialFanout);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    let f = found[0];
    assert_eq!(f.confidence, Confidence::High);
    assert!(evidence!(f, Fanout).order_varies);
    assert_eq!(f.fingerprint, "GET prices/{id} ; GET stock/{id}");
    assert_eq!(f.traces_affected, 10);
    // Each trace: 28 ms and 25 ms in a row; concurrently the shorter one hides behind the other.
    assert_eq!(f.cp_ms_per_request, Some(53.0));
    assert_eq!(
        f.saving_ms_per_request,
        Some(25.0),
        "53 ms in a row, 28 ms at once"
    );
    assert!(f.suggestion.contains("concurrently"));
}

#[test]
fn sequential_calls_in_a_fixed_order_back_to_back_have_low_confidence() {
    let report = fanout(|_| false);
    let f = of_kind(&report, FindingKind::SequentialFanout)[0];
    assert_eq!(f.confidence, Confidence::Low);
    assert!(!evidence!(f, Fanout).order_varies);
    assert_eq!(
        evidence!(f, Fanout).min_gap_ms_median,
        0.0,
        "the second starts as the first ends"
    );
    assert!(f.suggestion.contains("data dependency"));
}

#[test]
fn a_loop_in_one_percent_of_traces_is_reported_with_that_frequency_and_ranked_below() {
    let mut t = Traces::new();
    for trace in 1..=100 {
        let root = t.root(trace, (0, ms(40)), "api", "GET /feed");
        t.query_loop(trace, root, "select * from posts where id = ?", 0, 2, 2, 5);
        if trace == 7 {
            t.query_loop(trace, root, "select * from users where id = ?", 20, 2, 2, 5);
        }
    }
    let report = t.analyze(&Options::default());
    let found = of_kind(&report, FindingKind::NPlusOneDb);
    assert_eq!(found.len(), 2, "{:#?}", report.findings);
    assert_eq!(found[0].fingerprint, "select * from posts where id = ?");
    assert_eq!(found[0].traces_affected, 100);
    let rare = found[1];
    assert_eq!(rare.fingerprint, "select * from users where id = ?");
    assert_eq!(rare.traces_affected, 1);
    assert_eq!(evidence!(rare, NPlusOne).fraction_of_requests, 0.01);
    assert_eq!(
        rare.saving_ms_per_request,
        Some(0.08),
        "8 ms saved in one request of 100"
    );
}

#[test]
fn a_repeating_pair_of_queries_is_one_n_plus_one_of_the_pair() {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "api", "GET /users");
    for i in 0..5 {
        let at = ms(20 * i);
        t.query(1, root, (at, at + ms(8)), "api", USER, i as u64 + 1);
        t.internal(1, root, (at + ms(8), at + ms(9)), "api", "serialize");
        t.query(
            1,
            root,
            (at + ms(9), at + ms(19)),
            "api",
            ORDERS,
            i as u64 + 1,
        );
    }
    let report = t.analyze(&Options::default());
    let found = of_kind(&report, FindingKind::NPlusOneDb);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    let f = found[0];
    assert_eq!(f.fingerprint, format!("{ORDERS} ; {USER}"));
    assert_eq!(f.occurrences_median, 5, "five turns of the loop");
    assert_eq!(
        evidence!(f, NPlusOne).loop_body.as_ref().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        f.saving_ms_per_request,
        Some(90.0 - 10.0 - 8.0),
        "one query of each kind is left"
    );
}

#[test]
fn n_plus_one_calls_over_http() {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "web", "GET /basket");
    for i in 0..7 {
        let at = ms(12 * i + 1);
        let call = t.call(
            1,
            root,
            (at, at + ms(10)),
            "web",
            "GET catalog/items/{id}",
            i as u64 + 1,
        );
        t.server(1, call, (at + ms(1), at + ms(9)), "catalog");
    }
    let report = t.analyze(&Options::default());
    let f = of_kind(&report, FindingKind::NPlusOneHttp)[0];
    assert_eq!(
        (f.fingerprint.as_str(), f.occurrences_max),
        ("GET catalog/items/{id}", 7)
    );
    assert_eq!(
        f.saving_ms_per_request,
        Some(60.0),
        "the calls' whole subtrees are on the path"
    );
    assert!(f.suggestion.contains("batch endpoint"));
}

/// frontend → cart → inventory → its database.
fn chain() -> Traces {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "frontend", "GET /x");
    let c1 = t.call(1, root, (ms(10), ms(90)), "frontend", "GET cart/{id}", 1);
    let s1 = t.server(1, c1, (ms(12), ms(88)), "cart");
    let c2 = t.call(1, s1, (ms(20), ms(80)), "cart", "GET inventory/{id}", 1);
    let s2 = t.server(1, c2, (ms(22), ms(78)), "inventory");
    t.query(
        1,
        s2,
        (ms(30), ms(70)),
        "inventory",
        "select stock from items where id = ?",
        1,
    );
    t
}

#[test]
fn a_deep_synchronous_chain_gives_the_time_each_hop_adds() {
    let report = chain().analyze(&Options::default());
    let found = of_kind(&report, FindingKind::SyncChain);
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    let f = found[0];
    assert_eq!(
        f.fingerprint,
        "frontend GET /x → cart GET /cart → inventory GET /inventory"
    );
    assert_eq!(f.occurrences_max, 3, "services crossed");
    assert_eq!(f.cp_ms_per_request, Some(80.0), "the first call's subtree");
    assert_eq!(
        f.saving_ms_per_request,
        Some(8.0),
        "the two client spans' own time"
    );
    let hops: Vec<(f64, f64)> = evidence!(f, Chain)
        .hops
        .iter()
        .map(|h| (h.cp_ms_per_request, h.call_ms_per_request))
        .collect();
    assert_eq!(hops, vec![(24.0, 4.0), (20.0, 4.0), (56.0, 0.0)]);
    assert_eq!(
        hops.iter().map(|h| h.0).sum::<f64>(),
        100.0,
        "the hops tile the request"
    );
}

/// Four lookups under one parent: one short of the default N+1 threshold.
fn four_lookups() -> Traces {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(50)), "api", "GET /cart");
    t.query_loop(1, root, ITEM, 0, 10, 9, 4);
    t
}

fn with_detectors(set: impl Fn(&mut DetectorThresholds)) -> Options {
    let mut detectors = DetectorThresholds::default();
    set(&mut detectors);
    let mut options = Options::default();
    options.detect = Some(detectors);
    options
}

#[test]
fn thresholds_come_from_options_and_near_misses_say_which_rule_failed() {
    let report = four_lookups().analyze(&Options::default());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let miss = &report.near_misses[0];
    assert_eq!(
        (miss.kind, miss.rule.as_str(), miss.fingerprint.as_str()),
        (
            FindingKind::NPlusOneDb,
            "4 distinct calls at most, needs 5",
            ITEM
        )
    );
    let lower = with_detectors(|d| d.n_plus_one.min_repeats = 4);
    assert_eq!(
        of_kind(&four_lookups().analyze(&lower), FindingKind::NPlusOneDb).len(),
        1
    );
    let deeper = with_detectors(|d| d.sync_chain.min_services = 4);
    assert!(chain().analyze(&deeper).findings.is_empty());
}

/// Service names and what each may call.
const SERVICES: [&str; 4] = ["web", "cart", "stock", "price"];
const QUERIES: [&str; 3] = [
    "select * from items where id = ?",
    "select * from users where id = ?",
    "update carts set total = ? where id = ?",
];

/// A random request: each span calls queries, internal work and other services, one after
/// another or a few at a time, so that loops, repeats, fan-outs and chains all occur.
fn random_request(t: &mut Traces, rng: &mut Rng, trace: u64) {
    let root = t.root(trace, (0, 0), "web", "GET /page");
    let end = random_children(t, rng, trace, root, 0, 0, 0);
    t.spans
        .iter_mut()
        .find(|s| s.span_id.0 == root.to_be_bytes())
        .expect("root")
        .end_unix_ns = end + 1_000;
}

/// Adds children under `parent` (of service `service`) from `start`; returns when the last ends.
fn random_children(
    t: &mut Traces,
    rng: &mut Rng,
    trace: u64,
    parent: u64,
    service: usize,
    start: i64,
    depth: u32,
) -> i64 {
    let mut at = start + 1_000;
    let mut last_start = at;
    let mut end = at;
    for _ in 0..rng.range(1, if depth == 0 { 20 } else { 6 }) {
        // A quarter of the children start with the previous one (concurrency).
        let begin = if rng.range(0, 3) == 0 {
            last_start
        } else {
            at + rng.range(0, 2_000) as i64
        };
        let len = rng.range(1, 20) as i64 * 1_000_000;
        let svc = SERVICES[service];
        match rng.range(0, 9) {
            0..=4 => {
                let sql = QUERIES[rng.range(0, 2) as usize];
                t.query(
                    trace,
                    parent,
                    (begin, begin + len),
                    svc,
                    sql,
                    rng.range(1, 6),
                );
            }
            5..=7 if depth < 3 => {
                let callee = rng.range(1, 3) as usize;
                let url = format!("GET {}/{{id}}", SERVICES[callee]);
                let call = t.call(trace, parent, (begin, begin), svc, &url, rng.range(1, 30));
                let server = t.server(trace, call, (begin + 100, begin + 100), SERVICES[callee]);
                let server_end =
                    random_children(t, rng, trace, server, callee, begin + 100, depth + 1);
                for s in t.spans.iter_mut().rev().filter(|s| {
                    s.span_id.0 == server.to_be_bytes() || s.span_id.0 == call.to_be_bytes()
                }) {
                    s.end_unix_ns = if s.span_id.0 == server.to_be_bytes() {
                        server_end
                    } else {
                        server_end + 100
                    };
                }
                at = at.max(server_end + 100);
                end = end.max(server_end + 100);
                last_start = begin;
                continue;
            }
            _ => {
                t.internal(trace, parent, (begin, begin + len), svc, "render");
            }
        }
        last_start = begin;
        at = at.max(begin + len);
        end = end.max(begin + len);
    }
    end
}

fn random_requests(seed: u64, traces: u64) -> Traces {
    let mut rng = Rng::new(seed);
    let mut t = Traces::new();
    for trace in 1..=traces {
        random_request(&mut t, &mut rng, trace);
    }
    t
}

/// The place and kind of every finding (a finding is created when one of these is new).
fn places(report: &Report) -> std::collections::BTreeSet<(FindingKind, String, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.kind, f.service.clone(), f.operation.clone()))
        .collect()
}

#[test]
fn random_requests_reach_every_finding_kind() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let report = random_requests(seed, 12).analyze(&Options::default());
        kinds.extend(report.findings.iter().map(|f| f.kind));
    }
    assert_eq!(kinds.len(), 5, "the generator reaches {kinds:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Fan-out's absolute minimum of traces is set to 1: doubling the traces passes any such
    /// minimum by design; its minimum share of traces is kept.
    #[test]
    fn duplicating_every_trace_doubles_the_counts_and_nothing_else(seed in any::<u64>(), traces in 1u64..12) {
        let options = with_detectors(|d| d.fanout.min_traces = 1);
        let once = random_requests(seed, traces);
        let mut twice = random_requests(seed, traces);
        let copies: Vec<Span> = twice.spans.iter().cloned().map(|mut s| {
            s.trace_id.0[0] = 0xff;
            s
        }).collect();
        twice.spans.extend(copies);
        let (a, b) = (once.analyze(&options), twice.analyze(&options));
        prop_assert_eq!(a.findings.len(), b.findings.len());
        for (x, y) in a.findings.iter().zip(&b.findings) {
            prop_assert_eq!(&x.id, &y.id);
            prop_assert_eq!(2 * x.traces_affected, y.traces_affected);
            prop_assert_eq!((x.occurrences_median, x.occurrences_max), (y.occurrences_median, y.occurrences_max));
            prop_assert_eq!((x.cp_ms_per_request, x.saving_ms_per_request), (y.cp_ms_per_request, y.saving_ms_per_request));
        }
        prop_assert_eq!(a.near_misses.len(), b.near_misses.len());
        for (x, y) in a.near_misses.iter().zip(&b.near_misses) {
            prop_assert_eq!(2 * x.traces, y.traces);
        }
    }

    /// Fan-out is left out: by its rule, dropping one of two calls to the same operation turns
    /// a repeat (a loop, the N+1 detector's business) into two distinct sequential calls, and
    /// dropping a parent span from a trace where it made no fan-out raises the share of its
    /// traces that do. Roots are kept: removing one removes the request.
    #[test]
    fn removing_spans_never_creates_a_finding(seed in any::<u64>(), traces in 1u64..12, drop_one_in in 2u64..8) {
        let all = random_requests(seed, traces);
        let mut some = random_requests(seed, traces);
        let mut rng = Rng::new(seed ^ 0x5eed);
        some.spans.retain(|s| s.parent_span_id.is_none() || rng.range(0, drop_one_in - 1) != 0);
        let (a, b) = (all.analyze(&Options::default()), some.analyze(&Options::default()));
        let before = places(&a);
        for place in places(&b).into_iter().filter(|p| p.0 != FindingKind::SequentialFanout) {
            prop_assert!(before.contains(&place), "{:?} appeared after removing spans", place);
        }
    }

    #[test]
    fn the_order_strings_were_first_seen_in_changes_no_byte(seed in any::<u64>(), traces in 1u64..12) {
        let plain = random_requests(seed, traces).analyze(&Options::default()).to_json();
        // The same traces, built after interning every name in reverse order.
        let mut t = Traces::new();
        let mut names: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
        names.extend(QUERIES.iter().map(|q| q.to_string()));
        names.extend(SERVICES.iter().map(|s| format!("GET /{s}")));
        names.extend(SERVICES.iter().map(|s| format!("GET {s}/{{id}}")));
        names.extend(["GET /page", "render", "postgresql"].map(String::from));
        for name in names.iter().rev() {
            t.maker.strings.intern(name);
        }
        let mut rng = Rng::new(seed);
        for trace in 1..=traces {
            random_request(&mut t, &mut rng, trace);
        }
        t.spans.reverse();
        prop_assert_eq!(plain, t.analyze(&Options::default()).to_json());
    }
}

#[test]
fn connection_checkouts_are_neither_repeated_calls_nor_a_fan_out() {
    // As the OpenTelemetry pg instrumentation records a pool: a `pg-pool.connect` database span
    // without a statement before each query.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(200)), "api", "GET /orders");
    for i in 0..6 {
        let at = ms(20 * i);
        let connect = t.query(1, root, (at, at + ms(8)), "api", "pg-pool.connect", 0);
        t.spans[connect as usize - 1].is_connection = true;
        t.spans[connect as usize - 1].is_statement = false;
        t.query(
            1,
            root,
            (at + ms(8), at + ms(18)),
            "api",
            ITEM,
            100 + i as u64,
        );
    }
    let search = t.root(2, (0, ms(100)), "api", "GET /search");
    let connect = t.query(2, search, (0, ms(40)), "api", "pg-pool.connect", 0);
    t.spans[connect as usize - 1].is_connection = true;
    t.query(2, search, (ms(40), ms(99)), "api", USER, 7);
    let report = t.analyze(&Options::default());
    let found: Vec<(FindingKind, &str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.kind, f.operation.as_str(), f.fingerprint.as_str()))
        .collect();
    assert_eq!(
        found,
        [(FindingKind::NPlusOneDb, "GET /orders", ITEM)],
        "the loop's queries only; no fan-out of a checkout and its query"
    );
    let pool = report.levels[0]
        .bottlenecks
        .iter()
        .find(|b| b.operation == "pg-pool.connect")
        .expect("the checkouts keep their time in the ranking");
    assert_eq!(pool.cp_ns_total, (6 * 8 + 40) as u64 * MS as u64);
}

/// A MySQL slow log where a lookup by an unindexed column examines 500,000 rows for the one it
/// sends, beside a lookup of a 40-row table and a count that takes 400 ms examining nothing.
#[test]
fn a_mysql_full_scan_is_a_suspect_on_its_table_and_columns() {
    let dir = crate::common::fixture("mysql");
    let report = crate::common::analyze_json(&dir, &["full-scan-slow.log"]);
    let suspects: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == chokepoint::report::FindingKind::MissingIndexSuspect)
        .collect();
    assert_eq!(suspects.len(), 1, "{:?}", report.findings);
    let f = suspects[0];
    assert!(
        f.fingerprint
            .starts_with("select id, name from customers where email = ?")
    );
    // Equality first, then the ORDER BY column a B-tree can return in order.
    assert_eq!(
        evidence!(f, MissingIndex).suggested_index.statement,
        "ALTER TABLE customers ADD INDEX (email, created_at), ALGORITHM=INPLACE, LOCK=NONE;",
        "in MySQL's own syntax"
    );
    assert_eq!(
        evidence!(f, MissingIndex)
            .rows_examined
            .as_ref()
            .map(|r| r.rows_examined_per_call),
        Some(500_000)
    );
    assert_eq!(f.confidence.as_str(), "high");
    // The 40-row table examines too few rows to be a suspect, or a near miss.
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.fingerprint.contains("countries"))
    );
    assert!(
        !report
            .near_misses
            .iter()
            .any(|n| n.fingerprint.contains("countries"))
    );
    // The count is slow but shows no sign of a missing index: a slow statement.
    let slow: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.kind == chokepoint::report::FindingKind::SlowStatement)
        .map(|f| f.fingerprint.as_str())
        .collect();
    assert_eq!(slow, ["select count(*) from orders"]);

    // A mysqldump schema with an index that starts with both columns covers it.
    let schema = crate::common::temp_dir("mysql-schema").join("shop.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE `customers` (\n  `id` int NOT NULL,\n  `email` varchar(200),\n  `created_at` datetime,\n  PRIMARY KEY (`id`),\n  KEY `by_email` (`email`,`created_at`)\n) ENGINE=InnoDB;\n",
    )
    .unwrap();
    let report = crate::common::analyze_json(
        &dir,
        &["full-scan-slow.log", "--schema", schema.to_str().unwrap()],
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind == chokepoint::report::FindingKind::MissingIndexSuspect)
    );
    assert!(
        report
            .near_misses
            .iter()
            .any(|n| n.rule == "already covered by index by_email (email, created_at)"),
        "{:?}",
        report.near_misses
    );
}

/// `count` calls of `label` of one kind under a root of `root_ms`, one every `step_ms` from 1 ms,
/// each `len_ms` long, with arguments from `args(i)` (0: not recorded).
#[allow(clippy::too_many_arguments)]
fn repeated_calls(
    label: &str,
    span_kind: SpanKind,
    op_kind: OpKind,
    count: i64,
    step_ms: i64,
    len_ms: i64,
    root_ms: i64,
    args: impl Fn(i64) -> u64,
) -> Report {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(root_ms)), "web", "GET /basket");
    for i in 0..count {
        let at = ms(1 + step_ms * i);
        t.add(
            1,
            root,
            (at, at + ms(len_ms)),
            "web",
            label,
            span_kind,
            op_kind,
            args(i),
        );
    }
    t.analyze(&Options::default())
}

#[test]
fn repeats_with_unrecorded_arguments_are_an_n_plus_one_never_redundant() {
    // Placeholders without parameters: ten identical texts may be ten different ids.
    let report = repeated_calls(ITEM, SpanKind::Client, OpKind::Db, 10, 5, 4, 60, |_| 0);
    assert!(of_kind(&report, FindingKind::RedundantCall).is_empty());
    let f = of_kind(&report, FindingKind::NPlusOneDb)[0];
    assert_eq!(evidence!(f, NPlusOne).arguments, [Arguments::Unrecorded]);
    assert_eq!(f.confidence, Confidence::Medium);
    // Two calls with the same recorded arguments: the second is redundant, a read, so cached.
    let report = repeated_calls(ITEM, SpanKind::Client, OpKind::Db, 2, 5, 4, 20, |_| 7);
    let f = of_kind(&report, FindingKind::RedundantCall)[0];
    assert_eq!(evidence!(f, Redundant).arguments, [Arguments::Literals]);
    assert!(
        f.suggestion.contains("reuse the first result"),
        "{}",
        f.suggestion
    );
    // Two calls with unrecorded arguments: nothing at all.
    let report = repeated_calls(ITEM, SpanKind::Client, OpKind::Db, 2, 5, 4, 20, |_| 0);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn writes_are_never_told_to_cache() {
    let insert = "insert into audit (sku) values (?)";
    // A repeated identical write: a duplicate to drop, not a result to reuse.
    let report = repeated_calls(insert, SpanKind::Client, OpKind::Db, 2, 5, 4, 20, |_| 7);
    let f = of_kind(&report, FindingKind::RedundantCall)[0];
    assert!(!f.suggestion.contains("cache the") && f.suggestion.contains("must not be cached"));
    // An insert per item: one multi-row statement.
    let report = repeated_calls(insert, SpanKind::Client, OpKind::Db, 6, 5, 4, 40, |i| {
        i as u64 + 1
    });
    let f = of_kind(&report, FindingKind::NPlusOneDb)[0];
    assert!(f.suggestion.contains("multi-row"), "{}", f.suggestion);
    // An update per item: one set-based statement.
    let update = "update stock set quantity = quantity - ? where sku = ?";
    let report = repeated_calls(update, SpanKind::Client, OpKind::Db, 6, 5, 4, 40, |i| {
        i as u64 + 1
    });
    let f = of_kind(&report, FindingKind::NPlusOneDb)[0];
    assert!(
        f.suggestion.contains("one statement over all their keys"),
        "{}",
        f.suggestion
    );
    // A POST per item, bodies unrecorded: an N+1 of calls, sent in bulk, never cached.
    let post = "POST orders/audit/events";
    let report = repeated_calls(post, SpanKind::Client, OpKind::Http, 3, 12, 10, 40, |_| 0);
    assert!(of_kind(&report, FindingKind::RedundantCall).is_empty());
    let f = of_kind(&report, FindingKind::NPlusOneHttp)[0];
    assert!(f.suggestion.contains("bulk") && f.suggestion.contains("none can be cached"));
    // A GET per item is fetched in one call.
    let get = "GET catalog/items/{id}";
    let report = repeated_calls(get, SpanKind::Client, OpKind::Http, 3, 12, 10, 40, |i| {
        i as u64 + 1
    });
    assert!(
        of_kind(&report, FindingKind::NPlusOneHttp)[0]
            .suggestion
            .contains("batch endpoint")
    );
    // Two distinct calls are no loop.
    let report = repeated_calls(get, SpanKind::Client, OpKind::Http, 2, 12, 10, 40, |i| {
        i as u64 + 1
    });
    assert!(of_kind(&report, FindingKind::NPlusOneHttp).is_empty());
}

#[test]
fn messages_published_in_a_loop_are_an_n_plus_one_of_messages() {
    let publish = "orders publish";
    let report = repeated_calls(
        publish,
        SpanKind::Producer,
        OpKind::Messaging,
        4,
        3,
        2,
        20,
        |_| 0,
    );
    let f = of_kind(&report, FindingKind::NPlusOneMessage)[0];
    assert_eq!(f.occurrences_max, 4);
    assert!(f.suggestion.contains("batch"), "{}", f.suggestion);
    // Two messages are no loop; consumers are not sends.
    let report = repeated_calls(
        publish,
        SpanKind::Producer,
        OpKind::Messaging,
        2,
        3,
        2,
        20,
        |_| 0,
    );
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let report = repeated_calls(
        publish,
        SpanKind::Consumer,
        OpKind::Messaging,
        4,
        3,
        2,
        20,
        |_| 0,
    );
    assert!(of_kind(&report, FindingKind::NPlusOneMessage).is_empty());
}

/// One trace: a parent of `parent_ms` calling `first` for `len_ms[0]` ms, then after `gap_ms`
/// `second` for `len_ms[1]` ms.
fn two_calls(op_kind: OpKind, parent_ms: i64, len_ms: [i64; 2], gap_ms: i64) -> Report {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(parent_ms)), "web", "GET /page");
    let (a, b) = match op_kind {
        OpKind::Db => (ITEM, USER),
        _ => ("GET stock/{id}", "GET prices/{id}"),
    };
    let first_end = 1 + len_ms[0];
    t.add(
        1,
        root,
        (ms(1), ms(first_end)),
        "web",
        a,
        SpanKind::Client,
        op_kind,
        1,
    );
    let second = first_end + gap_ms;
    t.add(
        1,
        root,
        (ms(second), ms(second + len_ms[1])),
        "web",
        b,
        SpanKind::Client,
        op_kind,
        2,
    );
    t.analyze(&Options::default())
}

#[test]
fn a_fan_out_needs_the_time_and_the_share_and_calls_close_in_time() {
    let found = |r: &Report| of_kind(r, FindingKind::SequentialFanout).len();
    // One recorded trace is enough: 30 ms saved of a 100 ms request.
    assert_eq!(found(&two_calls(OpKind::Http, 100, [40, 30], 1)), 1);
    // Calls in a 3 ms request: 50% of the parent, but 1 ms is not worth a call's concurrency.
    assert_eq!(found(&two_calls(OpKind::Http, 3, [1, 1], 0)), 0);
    // 12 ms saved of a 2 s request: the time, not the share.
    assert_eq!(found(&two_calls(OpKind::Http, 2000, [40, 12], 0)), 0);
    // Two calls 10 s apart are not one fan-out, however much they would "save".
    assert_eq!(
        found(&two_calls(OpKind::Http, 20_000, [4000, 4000], 10_000)),
        0
    );
    // Two queries saving 2 ms of a 10 ms request: a database fan-out.
    assert_eq!(found(&two_calls(OpKind::Db, 10, [3, 2], 0)), 1);
    // Two queries saving 0.2 ms: below the database threshold.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(1)), "web", "GET /summary");
    t.query(1, root, (100_000, 400_000), "web", ITEM, 1);
    t.query(1, root, (400_000, 600_000), "web", USER, 2);
    assert_eq!(found(&t.analyze(&Options::default())), 0);
}

#[test]
fn rows_an_update_changes_are_rows_it_returns() {
    // An UPDATE that examines 5,000 rows and changes them all reads nothing in vain: no suspect.
    // One that examines 5,000 rows to change 1 does.
    let dir = crate::common::temp_dir("update-rows");
    let event = |at: u32, affected: u32, sql: &str| {
        format!(
            "# Time: 2026-12-05T10:00:{at:02}.000000Z\n# User@Host: shop[shop] @ localhost []  Id:    12\n\
             # Query_time: 0.050000  Lock_time: 0.000004 Rows_sent: 0  Rows_examined: 5000  Rows_affected: {affected}\n\
             SET timestamp=1796464801;\n{sql};\n"
        )
    };
    let mut log = String::from("/usr/sbin/mysqld, Version: 8.0.36. started with:\n");
    for at in 0..20 {
        log += &event(at, 5000, "UPDATE stock SET reserved = 0 WHERE batch = 7");
        log += &event(
            at,
            1,
            "UPDATE counters SET value = value + 1 WHERE name = 'x'",
        );
    }
    std::fs::write(dir.join("slow.log"), log).unwrap();
    let report = crate::common::analyze_json(&dir, &["slow.log"]);
    let suspects: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::MissingIndexSuspect)
        .map(|f| f.fingerprint.as_str())
        .collect();
    assert_eq!(
        suspects,
        ["update counters set value = value + ? where name = ?"],
        "{:?}",
        report.findings
    );
}

#[test]
fn a_statement_finding_keeps_its_id_when_its_kind_changes() {
    // The MySQL full scan: a suspect by default; a slow statement when the suspect's rule is
    // out of reach. One statement, one id.
    let dir = crate::common::fixture("mysql");
    let dataset = crate::common::read(&[dir.join("full-scan-slow.log")]).unwrap();
    let of = |report: &Report| {
        report
            .findings
            .iter()
            .find(|f| f.fingerprint.starts_with("select id, name from customers"))
            .map(|f| (f.kind, f.id.clone()))
            .unwrap()
    };
    let suspect = of(&analyze(&dataset, &Options::default()));
    let slow = of(&analyze(
        &dataset,
        &with_detectors(|d| {
            d.missing_index.min_rows_read_per_call = u64::MAX;
            d.slow_statement.min_mean_ms = 1.0;
        }),
    ));
    assert_eq!(suspect.0, FindingKind::MissingIndexSuspect);
    assert_eq!(slow.0, FindingKind::SlowStatement);
    assert_eq!(suspect.1, slow.1);
}

#[test]
fn writes_and_locking_reads_in_a_transaction_are_no_fan_out() {
    // As a handler that locks a counter row, updates it, inserts an order and calls a service:
    // the statements take effect in order on one connection, so only the call could move.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "orders", "POST /place");
    let lock = "select value from counters where name = ? for update";
    t.query(1, root, (ms(1), ms(30)), "orders", lock, 1);
    t.query(
        1,
        root,
        (ms(30), ms(45)),
        "orders",
        "update counters set value = ?",
        2,
    );
    t.query(
        1,
        root,
        (ms(45), ms(60)),
        "orders",
        "insert into orders (id) values (?)",
        3,
    );
    t.call(
        1,
        root,
        (ms(60), ms(95)),
        "orders",
        "GET stock/reserve/{id}",
        4,
    );
    let report = t.analyze(&Options::default());
    assert!(
        of_kind(&report, FindingKind::SequentialFanout).is_empty(),
        "{:#?}",
        report.findings
    );
    // Two plain reads and the call: a fan-out of those.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "orders", "GET /page");
    t.query(1, root, (ms(1), ms(30)), "orders", ITEM, 1);
    t.query(1, root, (ms(30), ms(60)), "orders", USER, 2);
    t.call(1, root, (ms(60), ms(95)), "orders", "GET stock/{id}", 3);
    let report = t.analyze(&Options::default());
    let f = of_kind(&report, FindingKind::SequentialFanout)[0];
    assert_eq!(evidence!(f, Fanout).calls.len(), 3);
}

#[test]
fn a_slow_query_or_call_recorded_only_in_spans_is_a_finding() {
    // One recorded trace: a 3 s query and a 2.5 s call to another service.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(6000)), "api", "GET /report");
    t.query(1, root, (ms(10), ms(3010)), "api", ORDERS, 1);
    t.call(1, root, (ms(3100), ms(5600)), "api", "GET ledger/{id}", 2);
    t.query(1, root, (ms(5700), ms(5702)), "api", ITEM, 3);
    let report = t.analyze(&Options::default());
    let slow = of_kind(&report, FindingKind::SlowStatement);
    assert_eq!(slow.len(), 1, "{:#?}", report.findings);
    assert_eq!(slow[0].fingerprint, ORDERS);
    assert_eq!(slow[0].operation, "GET /report", "the endpoint it serves");
    assert_eq!(slow[0].cp_ms_per_request, Some(3000.0));
    assert_eq!(slow[0].saving_ms_per_request, None);
    let e = evidence!(slow[0], SlowSpans);
    assert_eq!((e.mean_ms, e.spans), (3000.0, 1));
    assert_eq!(e.share_of_latency, 0.5);
    let call = of_kind(&report, FindingKind::SlowCall);
    assert_eq!(call.len(), 1);
    assert_eq!(call[0].fingerprint, "GET ledger/{id}");
    // Ranked by critical-path cost: the fan-out of both (5.5 s), the query's 3 s, the call's
    // 2.5 s.
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FindingKind::SequentialFanout,
            FindingKind::SlowStatement,
            FindingKind::SlowCall
        ]
    );
    // A 2 ms query and a 50 ms call are not slow.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "api", "GET /report");
    t.query(1, root, (ms(1), ms(3)), "api", ORDERS, 1);
    t.call(1, root, (ms(10), ms(60)), "api", "GET ledger/{id}", 2);
    assert!(t.analyze(&Options::default()).findings.is_empty());
}

#[test]
fn a_statement_run_by_a_child_span_without_its_text_is_one_operation() {
    // As PDO records it: the statement's text on one span, its execution (40 ms) on a child
    // that names no statement.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(50)), "api", "GET /orders");
    let prepare = t.query(1, root, (ms(1), ms(45)), "api", ORDERS, 0);
    let execute = t.query(
        1,
        prepare,
        (ms(3), ms(43)),
        "api",
        "PDOStatement::execute",
        0,
    );
    t.spans[execute as usize - 1].is_statement = false;
    let report = t.analyze(&Options::default());
    let ops: Vec<(&str, f64)> = report.levels[0]
        .bottlenecks
        .iter()
        .map(|b| (b.operation.as_str(), b.cp_ms_per_request))
        .collect();
    assert_eq!(ops[0], (ORDERS, 44.0), "{ops:?}");
    assert!(
        !ops.iter().any(|(op, _)| *op == "PDOStatement::execute"),
        "{ops:?}"
    );
}

#[test]
fn many_calls_at_once_or_between_two_services_amplify_the_load() {
    // 12 different calls at once under one parent: excessive concurrent fan-out.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(50)), "web", "GET /dashboard");
    for i in 0..12u64 {
        let label = format!("GET widget{i}/{{id}}");
        t.call(1, root, (ms(1), ms(40)), "web", &label, i + 1);
    }
    let report = t.analyze(&Options::default());
    let f = of_kind(&report, FindingKind::ConcurrentFanout)[0];
    assert_eq!(evidence!(f, Amplification).calls_per_request_max, 12);
    assert_eq!(f.saving_ms_per_request, None, "not estimated");
    // The same 12 calls one after another are no concurrent fan-out.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(130)), "web", "GET /dashboard");
    for i in 0..12i64 {
        let label = format!("GET widget{i}/{{id}}");
        t.call(
            1,
            root,
            (ms(1 + 10 * i), ms(10 + 10 * i)),
            "web",
            &label,
            i as u64 + 1,
        );
    }
    assert!(
        of_kind(
            &t.analyze(&Options::default()),
            FindingKind::ConcurrentFanout
        )
        .is_empty()
    );
    // 10 calls from web to catalog, under several parents and of several operations: chatty.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(200)), "web", "GET /page");
    for part in 0..2i64 {
        let parent = t.internal(
            1,
            root,
            (ms(100 * part), ms(100 * part + 90)),
            "web",
            "render",
        );
        for i in 0..5i64 {
            let at = ms(100 * part + 1 + 15 * i);
            let label = format!("GET catalog/op{i}");
            let call = t.call(1, parent, (at, at + ms(10)), "web", &label, 1);
            t.server(1, call, (at + ms(1), at + ms(9)), "catalog");
        }
    }
    let report = t.analyze(&Options::default());
    let f = of_kind(&report, FindingKind::ChattyServices)[0];
    assert_eq!(f.fingerprint, "web → catalog");
    assert_eq!(f.occurrences_max, 10);
    // Nine calls are not chatty.
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(200)), "web", "GET /page");
    for i in 0..9i64 {
        let at = ms(1 + 15 * i);
        let label = format!("GET catalog/op{i}");
        let call = t.call(1, root, (at, at + ms(10)), "web", &label, 1);
        t.server(1, call, (at + ms(1), at + ms(9)), "catalog");
    }
    assert!(of_kind(&t.analyze(&Options::default()), FindingKind::ChattyServices).is_empty());
}

/// Two levels of 10 s, 10 and 40 requests, each request waiting `wait_ms` at its level for a
/// pooled connection (a `pg-pool.connect` span) before its query.
fn pooled(wait_ms: [i64; 2]) -> Report {
    let mut t = Traces::new();
    let mut trace = 0;
    for (level, (requests, wait)) in [(10i64, wait_ms[0]), (40, wait_ms[1])]
        .into_iter()
        .enumerate()
    {
        let name = t.maker.strings.intern(["low", "high"][level]);
        for i in 0..requests {
            trace += 1;
            let start = ms(20_000 * level as i64 + 10_000 * i / requests);
            let root = t.root(trace, (start, start + ms(wait + 10)), "api", "GET /orders");
            t.spans[root as usize - 1].level_value = name;
            let connect = t.query(
                trace,
                root,
                (start, start + ms(wait)),
                "api",
                "pg-pool.connect",
                0,
            );
            t.spans[connect as usize - 1].is_connection = true;
            t.spans[connect as usize - 1].is_statement = false;
            t.query(
                trace,
                root,
                (start + ms(wait), start + ms(wait + 9)),
                "api",
                ITEM,
                0,
            );
        }
    }
    let mut options = Options::default();
    options.levels = chokepoint::analysis::levels::Levels::ByAttribute;
    t.analyze(&options)
}

#[test]
fn a_wait_that_grows_faster_than_the_load_is_saturation() {
    // Four times the throughput, twenty times the wait: the pool has run out.
    let report = pooled([1, 20]);
    let f = of_kind(&report, FindingKind::Saturation)[0];
    assert_eq!(
        (f.service.as_str(), f.operation.as_str()),
        ("api", "GET /orders")
    );
    let e = evidence!(f, Saturation);
    assert_eq!(e.resource, "connection pool");
    assert_eq!(e.appears_at.as_deref(), Some("high"));
    assert_eq!(f.confidence, Confidence::High);
    // A wait that grows slower than the load, or not at all, is no saturation.
    for waits in [[1, 3], [5, 5]] {
        let report = pooled(waits);
        assert!(
            of_kind(&report, FindingKind::Saturation).is_empty(),
            "{waits:?}"
        );
    }
}

/// Levels of 10 s at `rates` requests per second; each request calls the pricing service
/// (`call_ms`, growing by `call_growth_ms` per level) and then spends, with no span, 20 ms of
/// work plus a wait of `wait_ms` at its level (a millisecond of jitter around it).
fn handler_with_unrecorded_wait(rates: &[i64], wait_ms: &[i64], call_growth_ms: i64) -> Report {
    let mut t = Traces::new();
    let mut trace = 0;
    for (level, (&rate, &wait)) in rates.iter().zip(wait_ms).enumerate() {
        let name = t.maker.strings.intern(&format!("L{level}"));
        let requests = 10 * rate;
        for i in 0..requests {
            trace += 1;
            let start = ms(20_000 * level as i64 + 10_000 * i / requests);
            let call_ms = 10 + call_growth_ms * level as i64;
            let own_ms = 20 + wait + [0, 1, -1, 0, 1][i as usize % 5];
            let end = start + ms(call_ms + own_ms + 1);
            let root = t.root(trace, (start, end), "inventory", "GET /reserve");
            t.spans[root as usize - 1].level_value = name;
            let call = t.call(
                trace,
                root,
                (start, start + ms(call_ms)),
                "inventory",
                "GET pricing/price",
                1,
            );
            t.server(
                trace,
                call,
                (start + ms(1), start + ms(call_ms - 1)),
                "pricing",
            );
        }
    }
    let mut options = Options::default();
    options.levels = chokepoint::analysis::levels::Levels::ByAttribute;
    t.analyze(&options)
}

#[test]
fn time_no_span_covers_that_grows_with_the_load_is_a_hidden_wait() {
    let report = handler_with_unrecorded_wait(&[4, 8, 16], &[1, 2, 12], 0);
    let found = of_kind(&report, FindingKind::Saturation);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = found[0];
    assert_eq!(
        (f.service.as_str(), f.operation.as_str()),
        ("inventory", "GET /reserve")
    );
    let e = evidence!(f, Saturation);
    assert!(e.resource.starts_with("hidden wait"), "{}", e.resource);
    assert_eq!(e.appears_at.as_deref(), Some("L2"));
    let per_call: Vec<f64> = e.by_level.iter().map(|w| w.ms_per_call.unwrap()).collect();
    assert!(
        (per_call[2] - per_call[0] - 11.0).abs() < 0.5,
        "{per_call:?}"
    );
    // In flight by Little's law: 4 requests a second of about 32 ms at the first level.
    let in_flight: Vec<f64> = e.by_level.iter().map(|w| w.in_flight.unwrap()).collect();
    assert!((in_flight[0] - 4.0 * 0.032).abs() < 0.02, "{in_flight:?}");
    assert!(in_flight[2] > in_flight[0] * 4.0, "{in_flight:?}");
    assert!(f.suggestion.contains("no span covers"));
    // Not a hidden wait in the handler: its own time steady while its call slows (the wait is
    // the pricing service's, whose own time grows: found there); a growth under 1 ms; and a
    // baseline and an incident at one load.
    let report = handler_with_unrecorded_wait(&[4, 8, 16], &[1, 1, 1], 10);
    let places: Vec<&str> = of_kind(&report, FindingKind::Saturation)
        .iter()
        .map(|f| f.operation.as_str())
        .collect();
    assert_eq!(places, ["GET /pricing"]);
    for (rates, waits) in [
        (&[4, 8, 16][..], &[0, 0, 0][..]),
        (&[8, 8][..], &[1, 12][..]),
    ] {
        let report = handler_with_unrecorded_wait(rates, waits, 0);
        assert!(
            of_kind(&report, FindingKind::Saturation).is_empty(),
            "{rates:?} {waits:?}"
        );
    }
}

/// `total` requests of web's `GET /page`, each calling pay; the first `from_pay` fail because
/// pay's server span failed (the client span between has no status), the next `by_itself`
/// fail in web alone.
fn failing_requests(total: u64, from_pay: u64, by_itself: u64) -> Report {
    let mut t = Traces::new();
    for trace in 1..=total {
        let root = t.root(trace, (0, ms(50)), "web", "GET /page");
        let call = t.call(trace, root, (ms(10), ms(40)), "web", "GET pay/charge", 0);
        t.server(trace, call, (ms(12), ms(38)), "pay");
        let failed_in_pay = trace <= from_pay;
        let failed_in_web = trace <= from_pay + by_itself;
        for span in t.spans.iter_mut().rev().take(3) {
            span.is_error = match span.kind {
                SpanKind::Server if span.parent_span_id.is_none() => failed_in_web,
                SpanKind::Server => failed_in_pay,
                _ => false,
            };
        }
    }
    t.analyze(&Options::default())
}

#[test]
fn errors_in_one_service_that_fail_another_services_requests_are_a_cascade() {
    let report = failing_requests(20, 6, 0);
    let found = of_kind(&report, FindingKind::ErrorCascade);
    assert_eq!(found.len(), 1, "{:?}", report.findings);
    let f = found[0];
    assert_eq!(
        (f.service.as_str(), f.operation.as_str()),
        ("pay", "GET /pay")
    );
    assert_eq!(f.traces_affected, 6);
    assert_eq!(f.fingerprint, "web GET /page → pay GET /pay");
    let Evidence::Cascade(e) = &f.evidence else {
        panic!("{:?}", f.evidence)
    };
    assert_eq!(e.starts_at, report.levels[0].name);
    let l = &e.by_level[0];
    assert_eq!(
        (l.requests, l.failed_elsewhere, l.explained, l.share),
        (20, 6, 6, 1.0)
    );
    let origins = &report.levels[0].failure_origins;
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].failed_requests, 6);
}

#[test]
fn failures_of_a_service_itself_few_failures_or_a_minority_are_no_cascade() {
    for (from_pay, by_itself, why) in [
        (0, 6, "web failed by itself"),
        (4, 0, "four failures are too few to call it"),
        (6, 7, "pay explains 6 of 13 failures, not most"),
    ] {
        let report = failing_requests(20, from_pay, by_itself);
        assert!(
            of_kind(&report, FindingKind::ErrorCascade).is_empty(),
            "{why}: {:?}",
            report.findings
        );
        let failed: u64 = report.levels[0]
            .failure_origins
            .iter()
            .map(|o| o.failed_requests)
            .sum();
        assert_eq!(failed, from_pay + by_itself, "{why}");
    }
}
