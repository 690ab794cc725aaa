//! Where failures start. A request failed when its root span is in error; its failure's
//! *origin* is the deepest erroring span on the path the error took to the root, and its
//! *chain* the erroring spans of that path, root first. Per level, origins are ranked by the
//! failed requests they explain, with the endpoints that failed from each.
//!
//! The path goes from an erroring span to the erroring spans below it, and through the client
//! spans between (many instrumentations leave a call's client span without a status when its
//! server answered with an error), but not through any other span that is not in error: such
//! a span handled what failed below it. Of several erroring spans below one, the path follows
//! the one that ended last: the failure the span saw last before it failed itself (of retries,
//! the last attempt).
//!
//! An *error cascade* is a service whose errors explain most failed requests of other
//! services' endpoints: the finding `error_cascade`, with the level where it starts.

use super::per_trace::TraceResult;
use super::stats;
use crate::model::fingerprint::fnv1a64;
use crate::model::trace::{Node, Tree};
use crate::model::{Interner, OpKey, SpanKind, Sym, TraceId};
use crate::report::evidence::{CascadeEvidence, Evidence, LevelFailures};
use crate::report::{
    Confidence, FailedEndpoint, FailureOrigin, Finding, FindingKind, OperationName,
};
use rustc_hash::FxHashMap as HashMap;

/// Origins listed per level, most failed requests first.
const TOP_ORIGINS: usize = 10;
/// Endpoints listed per origin, most failed requests first.
const TOP_ENDPOINTS: usize = 5;

/// The erroring spans an error went through up to `top` (a span in error: a failed request's
/// root), `top` first, its origin last.
pub fn chain_from(tree: &Tree<'_>, top: Node) -> Vec<Node> {
    let mut chain = vec![top];
    let mut below: Vec<Node> = Vec::new();
    loop {
        // The erroring spans reached from the last through client spans not in error.
        let mut next: Option<Node> = None;
        below.clear();
        below.extend_from_slice(tree.children(chain[chain.len() - 1]));
        while let Some(node) = below.pop() {
            let span = tree.span(node);
            if span.is_error {
                let later = |other: Node| {
                    let o = tree.span(other);
                    (span.end_unix_ns, std::cmp::Reverse(span.span_id))
                        > (o.end_unix_ns, std::cmp::Reverse(o.span_id))
                };
                if next.is_none_or(later) {
                    next = Some(node);
                }
            } else if span.kind == SpanKind::Client {
                below.extend_from_slice(tree.children(node));
            }
        }
        match next {
            Some(node) => chain.push(node),
            None => return chain,
        }
    }
}

#[derive(Default)]
struct OriginTotals<'t> {
    failed: u64,
    endpoints: HashMap<OpKey, u64>,
    chains: HashMap<&'t [OpKey], u64>,
    /// (root start, trace id) of its failed requests: the earliest are its exemplars.
    exemplars: Vec<(i64, TraceId)>,
}

/// The origins of a level's failed requests, most failed requests first.
pub(super) fn origins(
    traces: &[&TraceResult],
    strings: &Interner,
    exemplars: usize,
) -> Vec<FailureOrigin> {
    let mut totals: HashMap<OpKey, OriginTotals<'_>> = HashMap::default();
    let mut failed = 0u64;
    for t in traces {
        let Some(&origin) = t.failure_chain.last() else {
            continue;
        };
        failed += 1;
        let e = totals.entry(origin).or_default();
        e.failed += 1;
        *e.endpoints.entry(t.root_key).or_default() += 1;
        *e.chains.entry(&t.failure_chain).or_default() += 1;
        e.exemplars.push((t.root_start_ns, t.trace_id));
    }
    let name = |key: &OpKey| OperationName {
        service: strings.get(key.service).into(),
        operation: strings.get(key.label).into(),
    };
    let mut out: Vec<FailureOrigin> = totals
        .into_iter()
        .map(|(key, mut t)| {
            let mut endpoints: Vec<FailedEndpoint> = t
                .endpoints
                .into_iter()
                .map(|(k, failed_requests)| FailedEndpoint {
                    endpoint: name(&k),
                    failed_requests,
                })
                .collect();
            endpoints.sort_by(|a, b| {
                (b.failed_requests, &a.endpoint).cmp(&(a.failed_requests, &b.endpoint))
            });
            endpoints.truncate(TOP_ENDPOINTS);
            let chain = most_common(&t.chains, name);
            t.exemplars.sort_unstable();
            FailureOrigin {
                origin: name(&key),
                failed_requests: t.failed,
                share_of_failures: t.failed as f64 / failed as f64,
                chain,
                endpoints,
                exemplar_trace_ids: t
                    .exemplars
                    .iter()
                    .take(exemplars)
                    .map(|(_, id)| id.to_string())
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| (b.failed_requests, &a.origin).cmp(&(a.failed_requests, &b.origin)));
    out.truncate(TOP_ORIGINS);
    out
}

/// The most common of `chains`, each operation named by `name`; of chains as common, the
/// first by those names, whatever the map's order.
fn most_common<T: Ord>(chains: &HashMap<&[OpKey], u64>, name: impl Fn(&OpKey) -> T) -> Vec<T> {
    chains
        .iter()
        .map(|(chain, &n)| (n, chain.iter().map(&name).collect::<Vec<_>>()))
        .max_by(|(n, a), (m, b)| n.cmp(m).then_with(|| b.cmp(a)))
        .map(|(_, chain)| chain)
        .unwrap_or_default()
}

/// The parts the findings of failure under load (`error_cascade`, `retry_amplification`,
/// `timeout`) share: an id from the kind and `keys`, the traces where it occurs from
/// `per_trace` (its count in each affected trace, with the trace's root start and id; the
/// exemplars are those where it counts most, earliest first), no span ids and no critical-path
/// time (its cost is in its evidence). The caller sets the rest: service, operation,
/// fingerprint, levels, confidence and suggestion.
pub(super) fn finding(
    kind: FindingKind,
    keys: &[&str],
    mut per_trace: Vec<(u64, i64, TraceId)>,
    exemplars: usize,
    evidence: Evidence,
) -> Finding {
    per_trace.sort_unstable_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut counts: Vec<u64> = per_trace.iter().map(|t| t.0).collect();
    counts.sort_unstable();
    let id = std::iter::once(kind.as_str())
        .chain(keys.iter().copied())
        .collect::<Vec<_>>()
        .join("\0");
    Finding {
        id: format!("{:016x}", fnv1a64(id.as_bytes())),
        kind,
        service: String::new(),
        operation: String::new(),
        fingerprint: String::new(),
        traces_affected: counts.len() as u64,
        occurrences_median: stats::percentile(&counts, 50),
        occurrences_max: counts.last().copied().unwrap_or(0),
        cp_ms_per_request: None,
        cp_ms_per_request_se: None,
        saving_ms_per_request: None,
        busy_ms_per_request: None,
        levels: Vec::new(),
        confidence: Confidence::Medium,
        evidence,
        exemplar_trace_ids: per_trace
            .iter()
            .take(exemplars)
            .map(|t| t.2.to_string())
            .collect(),
        exemplar_span_ids: Vec::new(),
        exemplar_involved_span_ids: Vec::new(),
        code_location: String::new(),
        suggestion: String::new(),
    }
}

/// Failures its errors must explain at a level for an error cascade to start there: more
/// than half of the failed requests of other services' endpoints, and at least this many.
pub const MIN_CASCADE_FAILURES: u64 = 5;

/// What one service's errors did to other services' requests.
#[derive(Default)]
struct Cascade<'t> {
    /// Per level, failed requests of other services' endpoints whose origin is in it.
    explained: Vec<u64>,
    /// Their origins and chains.
    origins: HashMap<OpKey, u64>,
    chains: HashMap<&'t [OpKey], u64>,
    /// (chain length, root start, trace id) of those requests.
    traces: Vec<(u64, i64, TraceId)>,
}

/// `error_cascade` findings: a service whose errors explain most failed requests of other
/// services' endpoints (more than half, [`MIN_CASCADE_FAILURES`] at least) at some level; it
/// starts at the first such level.
pub(super) fn cascades(
    results: &[TraceResult],
    level_names: &[String],
    strings: &Interner,
    exemplars: usize,
) -> Vec<Finding> {
    let levels = level_names.len();
    let mut requests = vec![0u64; levels];
    let mut failed = vec![0u64; levels];
    // Failed requests per level and endpoint service.
    let mut failed_at: HashMap<(u32, Sym), u64> = HashMap::default();
    let mut by_service: HashMap<Sym, Cascade<'_>> = HashMap::default();
    for t in results {
        let Some(level) = t.level else { continue };
        requests[level as usize] += 1;
        let Some(origin) = t.failure_chain.last() else {
            continue;
        };
        failed[level as usize] += 1;
        *failed_at.entry((level, t.root_key.service)).or_default() += 1;
        if origin.service == t.root_key.service {
            continue;
        }
        let c = by_service.entry(origin.service).or_default();
        c.explained.resize(levels, 0);
        c.explained[level as usize] += 1;
        *c.origins.entry(*origin).or_default() += 1;
        *c.chains.entry(&t.failure_chain).or_default() += 1;
        c.traces
            .push((t.failure_chain.len() as u64, t.root_start_ns, t.trace_id));
    }
    let name = |key: &OpKey| format!("{} {}", strings.get(key.service), strings.get(key.label));
    let mut out: Vec<Finding> = by_service
        .into_iter()
        .filter_map(|(service, c)| {
            let by_level: Vec<LevelFailures> = (0..levels)
                .map(|l| {
                    let own = failed_at.get(&(l as u32, service)).copied().unwrap_or(0);
                    let failed_elsewhere = failed[l] - own;
                    LevelFailures {
                        level: level_names[l].clone(),
                        requests: requests[l],
                        failed_elsewhere,
                        explained: c.explained[l],
                        share: c.explained[l] as f64 / failed_elsewhere.max(1) as f64,
                    }
                })
                .collect();
            let holds = |l: &LevelFailures| {
                l.explained >= MIN_CASCADE_FAILURES && 2 * l.explained > l.failed_elsewhere
            };
            let start = by_level.iter().position(holds)?;
            let (&origin, _) = c
                .origins
                .iter()
                .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| name(b).cmp(&name(a))))?;
            let chain = most_common(&c.chains, name);
            let chain_text = chain.join(" → ");
            let service = strings.get(service).to_string();
            let levels_with = by_level
                .iter()
                .filter(|l| l.explained > 0)
                .map(|l| l.level.clone())
                .collect();
            // Sure when it holds at every level from its start on.
            let confidence = if by_level[start..].iter().all(holds) {
                Confidence::High
            } else {
                Confidence::Medium
            };
            let starts_at = by_level[start].level.clone();
            let suggestion = format!(
                "Errors in {service} fail other services' requests (most of their failures from \
                 level {starts_at} on): find why {service} fails (its spans' error messages), \
                 and keep its callers from failing with it: a timeout with a degraded answer or \
                 a fallback where one will do, and a circuit breaker so that a failing \
                 {service} is not called at full rate."
            );
            let evidence = Evidence::Cascade(CascadeEvidence {
                starts_at,
                by_level,
                chain,
            });
            let base = finding(
                FindingKind::ErrorCascade,
                &[&service],
                c.traces,
                exemplars,
                evidence,
            );
            Some(Finding {
                service,
                operation: strings.get(origin.label).into(),
                fingerprint: chain_text,
                levels: levels_with,
                confidence,
                suggestion,
                ..base
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::trace::test_span;

    /// Spans (id, parent, start, end, kind, in error), each its own operation named `op{id}`;
    /// the chain of their trace's failure by those names, empty when the root is not in error.
    fn chain(spans: &[(u8, u8, i64, i64, SpanKind, bool)]) -> Vec<String> {
        let spans: Vec<_> = spans
            .iter()
            .map(|&(id, parent, start, end, kind, is_error)| {
                let mut s = test_span(id, parent, start, end);
                s.kind = kind;
                s.is_error = is_error;
                s
            })
            .collect();
        let tree = Tree::build(&spans).unwrap();
        if !tree.span(tree.root).is_error {
            return Vec::new();
        }
        chain_from(&tree, tree.root)
            .iter()
            .map(|&n| format!("op{}", tree.span(n).span_id.0[7]))
            .collect()
    }

    use SpanKind::{Client, Internal, Server};

    #[test]
    fn the_chain_goes_through_a_client_span_without_status_to_the_deepest_error() {
        // root → client (no status) → server in error → its query in error.
        let spans = [
            (1, 0, 0, 100, Server, true),
            (2, 1, 10, 90, Client, false),
            (3, 2, 20, 80, Server, true),
            (4, 3, 30, 40, Client, true),
            (5, 3, 50, 60, Internal, false),
        ];
        assert_eq!(chain(&spans), ["op1", "op3", "op4"]);
    }

    #[test]
    fn of_several_errors_below_the_one_that_ended_last_is_followed() {
        // Two failed attempts of a call, then the root fails: the last attempt is the path.
        let spans = [
            (1, 0, 0, 100, Server, true),
            (2, 1, 10, 30, Client, true),
            (3, 1, 40, 70, Client, true),
            (4, 3, 45, 65, Server, true),
        ];
        assert_eq!(chain(&spans), ["op1", "op3", "op4"]);
    }

    #[test]
    fn a_span_not_in_error_handled_what_failed_below_it() {
        // The root fails by itself: the error under the internal span was handled there.
        let spans = [
            (1, 0, 0, 100, Server, true),
            (2, 1, 10, 90, Internal, false),
            (3, 2, 20, 80, Client, true),
        ];
        assert_eq!(chain(&spans), ["op1"]);
    }

    #[test]
    fn a_request_whose_root_succeeded_did_not_fail() {
        let spans = [(1, 0, 0, 100, Server, false), (2, 1, 10, 30, Client, true)];
        assert!(chain(&spans).is_empty());
    }
}
