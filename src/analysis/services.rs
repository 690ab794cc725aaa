//! Blame by service. The operation ranking puts a call's own time (a client span's duration
//! minus its server span's, or a whole call to an uninstrumented database or service) under the
//! caller, since the caller recorded the span; but that time is spent on the wire, in the callee's
//! queue or listener, or in the callee itself. Here each span's critical-path time goes either to
//! the service it ran in (its own time) or, for a call, to the edge caller → callee; the callee is
//! the service of the call's server span, or else the peer the call names (the database system,
//! the host of the URL, the RPC service). A service is then ranked two ways: by its own time and
//! by the time its callers spend waiting on it (its inbound edges). Every nanosecond of the
//! critical path lands in exactly one of the two, so a level's own times and edges add up to its
//! latency.

use super::detect::TraceView;
use super::per_trace::TraceResult;
use super::stats::{self, ms};
use crate::model::{Interner, OpKey, OpKind, SpanKind, Sym};
use crate::report::{EdgeRow, Level, ServiceRow, ServiceScalingRow};
use std::collections::{BTreeMap, BTreeSet};

/// Who is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Callee {
    /// The service of the call's server span.
    Service(Sym),
    /// No server span: the peer the call's operation names.
    Peer(OpKey),
}

/// Where critical-path time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Blamed {
    /// Time a service spent itself.
    Own(Sym),
    /// The own time of calls from a service to a callee.
    Edge(Sym, Callee),
}

/// One trace's critical-path time for one service or edge.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlameInTrace {
    pub(super) blamed: Blamed,
    pub(super) cp_ns: u64,
    /// Calls (edges only).
    pub(super) calls: u64,
    /// Of them, calls that failed (u32, like the next: a million spans hold several million
    /// of these).
    pub(super) failed: u32,
    /// The attempts they made, which reached the callee ([`super::retries`]).
    pub(super) attempts: u32,
    /// Of them, attempts that retried a failed one.
    pub(super) retries: u32,
    /// The time it was busy with the request: the durations of a service's server and
    /// consumer spans (its entries), or of an edge's calls.
    pub(super) busy_ns: u64,
}

/// A trace's critical-path time by service and edge, sorted, with its calls' failures and
/// retries.
pub(super) fn in_trace(view: &TraceView) -> Vec<BlameInTrace> {
    let attempts = &view.attempts;
    let tree = view.tree;
    let mut out: Vec<BlameInTrace> = (0..tree.len())
        .map(|i| {
            let node = i as crate::model::trace::Node;
            let span = tree.span(node);
            let is_call = match span.op_kind {
                OpKind::Db => !span.is_connection && span.kind != SpanKind::Server,
                _ => matches!(span.kind, SpanKind::Client | SpanKind::Producer),
            };
            let blamed = if is_call {
                let server = tree
                    .children(node)
                    .iter()
                    .map(|&c| tree.span(c))
                    .find(|c| c.kind == SpanKind::Server);
                Blamed::Edge(
                    span.service,
                    match server {
                        Some(s) => Callee::Service(s.service),
                        None => Callee::Peer(view.keys[i]),
                    },
                )
            } else {
                Blamed::Own(span.service)
            };
            BlameInTrace {
                blamed,
                cp_ns: view.cp_ns[i],
                calls: u64::from(is_call),
                failed: u32::from(is_call && attempts.failed[i]),
                attempts: if is_call {
                    1 + attempts.inner_retries[i]
                } else {
                    0
                },
                retries: if is_call { attempts.retries[i] } else { 0 },
                busy_ns: if is_call || matches!(span.kind, SpanKind::Server | SpanKind::Consumer) {
                    span.duration_ns() as u64
                } else {
                    0
                },
            }
        })
        .collect();
    out.sort_by_key(|b| b.blamed);
    out.dedup_by(|b, a| {
        let same = a.blamed == b.blamed;
        if same {
            a.cp_ns += b.cp_ns;
            a.calls += b.calls;
            a.failed += b.failed;
            a.attempts += b.attempts;
            a.retries += b.retries;
            a.busy_ns = a.busy_ns.saturating_add(b.busy_ns);
        }
        same
    });
    out
}

/// The name of a callee: its service, or the peer its operation names (the database system,
/// the host of the URL without its port, the RPC service, the messaging system).
pub(super) fn callee_name(callee: Callee, strings: &Interner) -> String {
    let key = match callee {
        Callee::Service(s) => return strings.get(s).into(),
        Callee::Peer(key) => key,
    };
    let (system, label) = (strings.get(key.system), strings.get(key.label));
    let named = match key.kind {
        OpKind::Db | OpKind::Messaging => system,
        // "GET cart:8080/cart/{id}": the host after the method, before the path and port.
        OpKind::Http => label
            .split_once(' ')
            .map_or("", |(_, rest)| rest)
            .split(['/', ':'])
            .next()
            .unwrap_or(""),
        OpKind::Rpc => label.split_once('/').map_or(system, |(service, _)| service),
        OpKind::Internal => label,
    };
    if named.is_empty() {
        format!("(unnamed {} peer)", key.kind.as_str())
    } else {
        named.into()
    }
}

/// Sums over a level's requests, with their batch means for a standard error.
#[derive(Default)]
struct Sum {
    ns: u64,
    calls: u64,
    failed: u64,
    attempts: u64,
    retries: u64,
    busy_ns: u64,
    per_batch: Vec<u64>,
}

impl Sum {
    fn add(&mut self, ns: u64, calls: u64, batch: Option<usize>, batches: stats::Batches) {
        self.ns = self.ns.saturating_add(ns);
        self.calls += calls;
        if let Some(b) = batch {
            self.per_batch.resize(batches.count() as usize, 0);
            self.per_batch[b] += ns;
        }
    }

    fn per_request(&self, requests: u64) -> f64 {
        ms(stats::div_round(self.ns, requests.max(1)))
    }

    fn standard_error(&self, batches: stats::Batches) -> Option<f64> {
        stats::per_request_standard_error(&self.per_batch, batches)
    }
}

/// A level's services, ranked by their own time plus the time callers wait on them, and its
/// edges, ranked by their time, those of the most common critical-path route marked, with the
/// share of requests that took it; `traces` in start order, over `window_ns`.
pub(super) fn level(
    traces: &[&TraceResult],
    latency_ns_total: u64,
    window_ns: u64,
    strings: &Interner,
) -> (Vec<ServiceRow>, Vec<EdgeRow>, f64) {
    let requests = traces.len() as u64;
    let batches = stats::Batches::new(requests, stats::MIN_BATCH_FOR_MEAN);
    let mut names: BTreeMap<Callee, String> = BTreeMap::new();
    let mut own: BTreeMap<String, Sum> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String), Sum> = BTreeMap::new();
    for (i, t) in traces.iter().enumerate() {
        let batch = batches.of(i);
        for b in &t.blame {
            match b.blamed {
                Blamed::Own(service) => {
                    let own = own.entry(strings.get(service).into()).or_default();
                    own.add(b.cp_ns, 0, batch, batches);
                    own.busy_ns = own.busy_ns.saturating_add(b.busy_ns);
                }
                Blamed::Edge(caller, callee) => {
                    let callee = names
                        .entry(callee)
                        .or_insert_with(|| callee_name(callee, strings))
                        .clone();
                    let edge = edges
                        .entry((strings.get(caller).into(), callee))
                        .or_default();
                    edge.add(b.cp_ns, b.calls, batch, batches);
                    edge.failed += u64::from(b.failed);
                    edge.attempts += u64::from(b.attempts);
                    edge.retries += u64::from(b.retries);
                    edge.busy_ns = edge.busy_ns.saturating_add(b.busy_ns);
                }
            }
        }
    }
    let share = |ns: u64| ns as f64 / latency_ns_total.max(1) as f64;
    // Inbound and outbound per service: the sums of its edges' per-batch sums.
    let mut inbound: BTreeMap<String, (Sum, BTreeSet<String>)> = BTreeMap::new();
    let mut outbound: BTreeMap<String, Sum> = BTreeMap::new();
    for ((caller, callee), sum) in &edges {
        let (into, callers) = inbound.entry(callee.clone()).or_default();
        let out = outbound.entry(caller.clone()).or_default();
        into.busy_ns = into.busy_ns.saturating_add(sum.busy_ns);
        for s in [into, out] {
            s.ns += sum.ns;
            s.calls += sum.calls;
            s.per_batch
                .resize(sum.per_batch.len().max(s.per_batch.len()), 0);
            for (a, b) in s.per_batch.iter_mut().zip(&sum.per_batch) {
                *a += b;
            }
        }
        callers.insert(caller.clone());
    }
    let empty = Sum::default();
    let all: BTreeSet<&String> = own.keys().chain(inbound.keys()).collect();
    let mut services: Vec<(u64, ServiceRow)> = all
        .into_iter()
        .map(|name| {
            let mine = own.get(name).unwrap_or(&empty);
            let (into, callers) = inbound.get(name).map_or((&empty, Vec::new()), |(s, c)| {
                (s, c.iter().cloned().collect())
            });
            let out = outbound.get(name).unwrap_or(&empty);
            let row = ServiceRow {
                service: name.clone(),
                instrumented: own.contains_key(name),
                own_ns_total: mine.ns,
                own_ms_per_request: mine.per_request(requests),
                own_share: share(mine.ns),
                own_ms_per_request_se: mine.standard_error(batches),
                inbound_ns_total: into.ns,
                inbound_ms_per_request: into.per_request(requests),
                inbound_share: share(into.ns),
                inbound_ms_per_request_se: into.standard_error(batches),
                inbound_calls: into.calls,
                callers,
                outbound_ms_per_request: out.per_request(requests),
                // Little's law: the time it was busy with requests over the level's window;
                // a peer without spans is busy while its callers wait on it.
                in_flight: if own.contains_key(name) {
                    mine.busy_ns
                } else {
                    into.busy_ns
                } as f64
                    / window_ns.max(1) as f64,
            };
            (mine.ns.saturating_add(into.ns), row)
        })
        .collect();
    services.sort_by(|(a, ra), (b, rb)| b.cmp(a).then_with(|| ra.service.cmp(&rb.service)));
    let (route, route_requests) = common_route(traces, &mut names, strings);
    let mut edge_rows: Vec<(u64, EdgeRow)> = edges
        .into_iter()
        .map(|((caller, callee), sum)| {
            let row = EdgeRow {
                on_common_route: route.contains(&(caller.clone(), callee.clone())),
                caller,
                callee,
                calls: sum.calls,
                calls_per_request: sum.calls as f64 / requests.max(1) as f64,
                failed_calls: sum.failed,
                attempts: sum.attempts,
                retries: sum.retries,
                amplification: sum.attempts as f64 / (sum.attempts - sum.retries).max(1) as f64,
                cp_ms_per_request: sum.per_request(requests),
                share: share(sum.ns),
                cp_ms_per_request_se: sum.standard_error(batches),
            };
            (sum.ns, row)
        })
        .collect();
    edge_rows.sort_by(|(a, ra), (b, rb)| {
        b.cmp(a)
            .then_with(|| (&ra.caller, &ra.callee).cmp(&(&rb.caller, &rb.callee)))
    });
    (
        services.into_iter().map(|(_, r)| r).collect(),
        edge_rows.into_iter().map(|(_, r)| r).collect(),
        route_requests as f64 / requests.max(1) as f64,
    )
}

/// The most common critical-path route of a level's requests: the set of caller → callee
/// edges on a request's critical path (an edge whose calls hold part of it), the set most
/// requests took (of sets as common, the first by name); with how many took it. Empty, with
/// its count, when most requests crossed no edge on their path.
fn common_route(
    traces: &[&TraceResult],
    names: &mut BTreeMap<Callee, String>,
    strings: &Interner,
) -> (BTreeSet<(String, String)>, u64) {
    let mut routes: std::collections::HashMap<Vec<Blamed>, u64> = Default::default();
    for t in traces {
        // A trace's blame is sorted, so equal routes are equal vectors.
        let route: Vec<Blamed> = t
            .blame
            .iter()
            .filter(|b| matches!(b.blamed, Blamed::Edge(..)) && b.cp_ns > 0)
            .map(|b| b.blamed)
            .collect();
        *routes.entry(route).or_default() += 1;
    }
    let mut named: Vec<(u64, BTreeSet<(String, String)>)> = routes
        .into_iter()
        .map(|(route, count)| {
            let edges = route
                .into_iter()
                .filter_map(|b| match b {
                    Blamed::Edge(caller, callee) => Some((
                        strings.get(caller).to_string(),
                        names
                            .entry(callee)
                            .or_insert_with(|| callee_name(callee, strings))
                            .clone(),
                    )),
                    Blamed::Own(_) => None,
                })
                .collect();
            (count, edges)
        })
        .collect();
    named.sort_by(|(a, ra), (b, rb)| b.cmp(a).then_with(|| ra.cmp(rb)));
    named
        .into_iter()
        .next()
        .map_or((BTreeSet::new(), 0), |(count, edges)| (edges, count))
}

/// Each service's own and inbound time per request at each level, and their changes from the
/// first level to the last (exact, as the operations' in `scaling`: one integer numerator over
/// the two levels' request counts), largest change either way first; nothing with fewer than
/// two levels.
pub(super) fn scaling(levels: &[Level]) -> Vec<ServiceScalingRow> {
    if levels.len() < 2 {
        return Vec::new();
    }
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let (n_first, n_last) = (first.requests as i128, last.requests as i128);
    let whole = last.latency_ns_total as i128 * n_first - first.latency_ns_total as i128 * n_last;
    let scale = (n_first * n_last) as f64 * 1e6;
    let names: BTreeSet<&str> = levels
        .iter()
        .flat_map(|l| l.services.iter().map(|s| s.service.as_str()))
        .collect();
    let mut rows: Vec<(i128, ServiceScalingRow)> = names
        .into_iter()
        .map(|name| {
            fn at<'l>(l: &'l Level, name: &str) -> Option<&'l ServiceRow> {
                l.services.iter().find(|s| s.service == name)
            }
            let by_level = |f: fn(&ServiceRow) -> f64| -> Vec<f64> {
                levels.iter().map(|l| at(l, name).map_or(0.0, f)).collect()
            };
            let change = |f: fn(&ServiceRow) -> u64| -> i128 {
                at(last, name).map_or(0, f) as i128 * n_first
                    - at(first, name).map_or(0, f) as i128 * n_last
            };
            let (own, inbound) = (change(|s| s.own_ns_total), change(|s| s.inbound_ns_total));
            let ms = |c: i128| if scale == 0.0 { 0.0 } else { c as f64 / scale };
            let part = |c: i128| {
                if whole == 0 {
                    0.0
                } else {
                    c as f64 / whole as f64
                }
            };
            let row = ServiceScalingRow {
                service: name.into(),
                own_ms_per_request_by_level: by_level(|s| s.own_ms_per_request),
                inbound_ms_per_request_by_level: by_level(|s| s.inbound_ms_per_request),
                own_change_ms_per_request: ms(own),
                own_part_of_change: part(own),
                inbound_change_ms_per_request: ms(inbound),
                inbound_part_of_change: part(inbound),
            };
            (own.abs().max(inbound.abs()), row)
        })
        .collect();
    rows.sort_by(|(a, ra), (b, rb)| b.cmp(a).then_with(|| ra.service.cmp(&rb.service)));
    rows.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_named_by_what_its_operation_says() {
        let mut strings = Interner::default();
        let mut peer = |kind, system: &str, label: &str| {
            let key = OpKey {
                service: strings.intern("caller"),
                kind,
                system: strings.intern(system),
                label: strings.intern(label),
            };
            (Callee::Peer(key), strings.clone())
        };
        let cases = [
            (peer(OpKind::Db, "postgresql", "SELECT 1"), "postgresql"),
            (peer(OpKind::Http, "", "GET cart:8080/cart/{id}"), "cart"),
            (
                peer(OpKind::Http, "", "GET /cart/{id}"),
                "(unnamed http peer)",
            ),
            (
                peer(OpKind::Rpc, "grpc", "hipstershop.CartService/GetCart"),
                "hipstershop.CartService",
            ),
            (peer(OpKind::Messaging, "kafka", "publish orders"), "kafka"),
        ];
        for ((callee, strings), name) in cases {
            assert_eq!(callee_name(callee, &strings), name);
        }
    }
}
