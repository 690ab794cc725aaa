//! Retries and timeouts on hand-built traces, each rule with a positive and its negatives:
//! a retry follows a failed attempt of the same call (not a concurrent repeat, not a repeat
//! after a success, not a call with other arguments), its amplification is a finding only when
//! it grows with load; a timeout is a cluster of failed calls at a ceiling (not a fast failure
//! below the successes, not failures spread out, not a value successes go past).

use crate::detectors::{Traces, ms, of_kind};
use chokepoint::analysis::Options;
use chokepoint::analysis::levels::Levels;
use chokepoint::report::evidence::Evidence;
use chokepoint::report::{FindingKind, Report};

/// How the second attempt of a call relates to the first.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Second {
    /// After the first failed: a retry.
    RetryAfterFailure,
    /// Started while the first was still running (a hedged request).
    Concurrent,
    /// After the first failed, and a third after the second succeeded.
    AfterSuccess,
    /// After the first failed, with other arguments.
    OtherArguments,
}

/// Two levels ("low": 20 requests in 10 s, "high": 80), each request of web's `GET /page`
/// calling inv's items; at each level the first `failing[level]` requests' first attempt
/// fails after `fail_us[i % len]` µs, and a second attempt follows as `second` says.
/// Successful attempts take 2 to 5 ms.
fn attempts(failing: [i64; 2], fail_us: &[i64], second: Second) -> Report {
    let mut t = Traces::new();
    let mut trace = 0;
    for (level, requests) in [20i64, 80].into_iter().enumerate() {
        let name = t.maker.strings.intern(["low", "high"][level]);
        for i in 0..requests {
            trace += 1;
            let start = ms(20_000 * level as i64 + 10_000 * i / requests);
            let fails = i < failing[level];
            let first_len = if fails {
                fail_us[i as usize % fail_us.len()] * 1_000
            } else {
                ms(2 + i % 4)
            };
            let second_at = match second {
                Second::Concurrent => start + ms(1) + first_len / 2,
                _ => start + ms(1) + first_len,
            };
            let end = second_at + ms(5);
            let root = t.root(trace as u64, (start, end), "web", "GET /page");
            t.spans[root as usize - 1].level_value = name;
            let first = (start + ms(1), start + ms(1) + first_len);
            let a = t.call(trace as u64, root, first, "web", "GET inv/items/{id}", 7);
            t.server(
                trace as u64,
                a,
                (first.0 + 100_000, first.1 - 100_000),
                "inv",
            );
            t.spans[a as usize - 1].is_error = fails;
            if fails {
                let args = if second == Second::OtherArguments {
                    8
                } else {
                    7
                };
                let at = (second_at, second_at + ms(3));
                let b = t.call(trace as u64, root, at, "web", "GET inv/items/{id}", args);
                t.server(trace as u64, b, (at.0 + 100_000, at.1 - 100_000), "inv");
                if second == Second::AfterSuccess {
                    let at = (at.1, at.1 + ms(1));
                    let c = t.call(trace as u64, root, at, "web", "GET inv/items/{id}", 7);
                    t.server(trace as u64, c, (at.0 + 100_000, at.1 - 100_000), "inv");
                }
            }
        }
    }
    let mut options = Options::default();
    options.levels = Levels::ByAttribute;
    t.analyze(&options)
}

/// The web → inv edge's (calls, failed calls, retries) at each level.
fn edge(report: &Report) -> Vec<(u64, u64, u64)> {
    report
        .levels
        .iter()
        .map(|l| {
            let e = l
                .edges
                .iter()
                .find(|e| (e.caller.as_str(), e.callee.as_str()) == ("web", "inv"))
                .unwrap();
            (e.calls, e.failed_calls, e.retries)
        })
        .collect()
}

const AT_CEILING: [i64; 5] = [50_000, 50_040, 50_120, 50_300, 50_900];

#[test]
fn retries_that_grow_with_load_amplify_it() {
    // One failure in 20 at low load, 30 in 80 at high: the retries' rate grows 7.5 times.
    let report = attempts([1, 30], &AT_CEILING, Second::RetryAfterFailure);
    assert_eq!(edge(&report), [(21, 1, 1), (110, 30, 30)]);
    let found = of_kind(&report, FindingKind::RetryAmplification);
    assert_eq!(found.len(), 1, "{:?}", report.findings);
    let f = found[0];
    assert_eq!(
        (f.service.as_str(), f.fingerprint.as_str()),
        ("web", "web → inv")
    );
    assert_eq!(f.traces_affected, 31);
    let Evidence::Retries(e) = &f.evidence else {
        panic!("{:?}", f.evidence)
    };
    assert!(e.grows_with_load && !e.callee_saturating);
    let amplification: Vec<f64> = e.by_level.iter().map(|l| l.amplification).collect();
    assert_eq!(amplification, [21.0 / 20.0, 110.0 / 80.0]);
    assert!(f.suggestion.contains("backoff"), "{}", f.suggestion);
    // No redundant call: a retry repeats its call by necessity.
    assert!(of_kind(&report, FindingKind::RedundantCall).is_empty());
}

#[test]
fn concurrent_repeats_repeats_after_success_and_other_arguments_are_no_retries() {
    for second in [Second::Concurrent, Second::OtherArguments] {
        let report = attempts([1, 30], &AT_CEILING, second);
        let retries: u64 = edge(&report).iter().map(|e| e.2).sum();
        assert_eq!(retries, 0, "{second:?}");
        assert!(
            of_kind(&report, FindingKind::RetryAmplification).is_empty(),
            "{second:?}"
        );
    }
    // The call after the successful retry is a call of its own.
    let report = attempts([1, 30], &AT_CEILING, Second::AfterSuccess);
    assert_eq!(edge(&report), [(22, 1, 1), (140, 30, 30)]);
    // Retries at a steady rate (one request in four at both levels) do not grow with load.
    let report = attempts([5, 20], &AT_CEILING, Second::RetryAfterFailure);
    assert_eq!(edge(&report), [(25, 5, 5), (100, 20, 20)]);
    assert!(of_kind(&report, FindingKind::RetryAmplification).is_empty());
}

#[test]
fn failed_calls_that_stop_at_one_duration_are_a_timeout() {
    let report = attempts([1, 30], &AT_CEILING, Second::RetryAfterFailure);
    let found = of_kind(&report, FindingKind::Timeout);
    assert_eq!(found.len(), 1, "{:?}", report.findings);
    let f = found[0];
    assert_eq!(
        (f.service.as_str(), f.operation.as_str()),
        ("web", "GET inv/items/{id}")
    );
    let Evidence::Timeout(e) = &f.evidence else {
        panic!("{:?}", f.evidence)
    };
    assert_eq!((e.ceiling_ms, e.cluster_top_ms), (50.0, 50.9));
    assert_eq!((e.cluster_calls, e.calls_past_ceiling), (31, 0));
    let levels: Vec<(u64, u64, u64)> = e
        .by_level
        .iter()
        .map(|l| (l.requests, l.calls, l.timed_out))
        .collect();
    assert_eq!(levels, [(20, 21, 1), (80, 110, 30)]);
    // At high load: the 30 timed-out calls' durations over 80 requests.
    let lost: i64 = (0..30).map(|i| AT_CEILING[i % 5]).sum::<i64>() * 1_000;
    assert_eq!(
        e.by_level[1].lost_ms_per_request,
        (lost as f64 / 80.0).round() / 1e6
    );
    assert!(
        f.cost_in_words(|s| s).contains("gave up at 50"),
        "{}",
        f.cost_in_words(|s| s)
    );
}

#[test]
fn fast_failures_spread_failures_and_a_ceiling_successes_pass_are_no_timeout() {
    // A refused connection fails at once: a cluster, but below the 2–5 ms successes.
    let fast = [300, 310, 320, 330, 340];
    // Failures from 10 to 58 ms, 4 ms apart: no five within 5% of one another.
    let spread: Vec<i64> = (0..13).map(|i| 10_000 + 4_000 * i).collect();
    for (fail_us, why) in [(&fast[..], "fast"), (&spread[..], "spread")] {
        let report = attempts([1, 30], fail_us, Second::RetryAfterFailure);
        assert!(
            of_kind(&report, FindingKind::Timeout).is_empty(),
            "{why}: {:?}",
            report.findings
        );
    }
    // Successes past the cluster: the failures at 3 ms are among the 2–5 ms successes.
    let report = attempts([1, 30], &[3_000], Second::RetryAfterFailure);
    assert!(of_kind(&report, FindingKind::Timeout).is_empty());
}

#[test]
fn requests_shed_under_load_are_counted_apart_from_failures() {
    let mut t = Traces::new();
    for trace in 1..=10u64 {
        let start = ms(trace as i64 * 100);
        let root = t.root(trace, (start, start + ms(5)), "web", "GET /page");
        // Four refused (503: in error by the status, shed by the response), one failed.
        let span = &mut t.spans[root as usize - 1];
        span.is_error = trace <= 5;
        span.shed = trace <= 4;
    }
    let report = t.analyze(&Options::default());
    let level = &report.levels[0];
    assert_eq!((level.shed_requests, level.error_rate), (4, 0.1));
    let endpoint = &level.endpoints[0];
    assert_eq!((endpoint.failed_requests, endpoint.shed_requests), (1, 4));
    let explained: u64 = level
        .failure_origins
        .iter()
        .map(|o| o.failed_requests)
        .sum();
    assert_eq!(explained, 1);
}

/// One request of web's `GET /page` making one call to inv whose span holds a server span
/// per attempt, each (start ms, end ms, route, in error); the web → inv edge's (calls,
/// attempts, retries, failed calls).
fn one_call(servers: &[(i64, i64, &str, bool)]) -> (u64, u64, u64, u64) {
    let mut t = Traces::new();
    let root = t.root(1, (0, ms(100)), "web", "GET /page");
    let call = t.call(1, root, (ms(1), ms(99)), "web", "GET inv/items/{id}", 7);
    for &(start, end, route, failed) in servers {
        let id = t.add(
            1,
            call,
            (ms(start), ms(end)),
            "inv",
            route,
            chokepoint::model::SpanKind::Server,
            chokepoint::model::OpKind::Http,
            0,
        );
        t.spans[id as usize - 1].is_error = failed;
    }
    let report = t.analyze(&Options::default());
    let e = report.levels[0]
        .edges
        .iter()
        .find(|e| e.caller == "web")
        .unwrap();
    (e.calls, e.attempts, e.retries, e.failed_calls)
}

#[test]
fn a_client_that_retries_inside_its_span_reaches_the_callee_once_per_server_span() {
    let item = "GET /items/{id}";
    // Failed, failed, answered: two retries, and the call succeeded.
    let servers = [
        (2, 10, item, true),
        (11, 20, item, true),
        (21, 30, item, false),
    ];
    assert_eq!(one_call(&servers), (1, 3, 2, 0));
    // The client gave up on the first (a timeout): it was still running when the second came.
    assert_eq!(
        one_call(&[(2, 90, item, false), (52, 60, item, false)]),
        (1, 2, 1, 0)
    );
    // The last attempt failed too: the call failed.
    assert_eq!(
        one_call(&[(2, 10, item, true), (11, 20, item, true)]),
        (1, 2, 1, 1)
    );
    // No retry: one server span; a redirect to another route; an answer, then the same route.
    assert_eq!(one_call(&[(2, 10, item, false)]), (1, 1, 0, 0));
    let redirect = [(2, 10, "GET /old/{id}", false), (11, 20, item, false)];
    assert_eq!(one_call(&redirect), (1, 1, 0, 0));
    assert_eq!(
        one_call(&[(2, 10, item, false), (11, 20, item, false)]),
        (1, 1, 0, 0)
    );
}
