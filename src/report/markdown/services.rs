//! A level's services and caller → callee edges, and the services across levels.

use super::*;

/// Edges listed per level in report.md; report.json has them all.
const EDGES_SHOWN: usize = 10;

/// What a reader needs to tell a slow callee from a slow service.
const HOW_TO_READ_SERVICES: &str = "How to read it: *own* is critical-path time in the \
service's own spans; *waited on* is the time its callers spent in calls to it beyond that \
(network, queueing, its listener, or the whole call when it records no spans; `–` when no \
traced service calls it, as for the entry service); *calls out* is its own waiting on others. \
Waited-on time growing from many callers points at the callee (its network, queue or \
listener); own time growing together with all its calls out points at the service itself \
(CPU, a lock, a pool inside it).";

pub(super) fn render_services(out: &mut String, level: &Level) {
    if level.services.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Services

{HOW_TO_READ_SERVICES}
"
    );
    let mut t = Table::new(&[
        ("service", Align::Left),
        ("own ms/req", Align::Right),
        ("own share", Align::Right),
        ("waited on ms/req", Align::Right),
        ("waited-on share", Align::Right),
        ("calls in", Align::Right),
        ("callers", Align::Left),
        ("calls out ms/req", Align::Right),
    ]);
    for s in &level.services {
        let name = if s.instrumented {
            escape(&s.service)
        } else {
            format!("{} (no spans)", escape(&s.service))
        };
        t.row(vec![
            name,
            ms(s.own_ms_per_request),
            percent(s.own_share),
            // A service no traced caller calls (the entry, called by the load generator) has
            // no waited-on time to measure: shown as unknown, not as 0.
            if s.callers.is_empty() {
                "–".into()
            } else {
                ms(s.inbound_ms_per_request)
            },
            if s.callers.is_empty() {
                "–".into()
            } else {
                percent(s.inbound_share)
            },
            s.inbound_calls.to_string(),
            s.callers
                .iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(", "),
            ms(s.outbound_ms_per_request),
        ]);
    }
    out.push_str(&t.markdown());
    let _ = writeln!(
        out,
        "\nCalls by caller → callee, by their own critical-path time:\n"
    );
    // Failed calls and retries, in a level with any.
    let failures = level.edges.iter().any(|e| e.failed_calls > 0);
    let columns = [
        ("caller → callee", Align::Left),
        ("calls", Align::Right),
        ("ms/req", Align::Right),
        ("share", Align::Right),
        ("failed", Align::Right),
        ("retries", Align::Right),
        ("attempts/call", Align::Right),
    ];
    let mut t = Table::new(&columns[..columns.len() - 3 * usize::from(!failures)]);
    for e in level.edges.iter().take(EDGES_SHOWN) {
        let mut row = vec![
            format!("{} → {}", escape(&e.caller), escape(&e.callee)),
            e.calls.to_string(),
            ms(e.cp_ms_per_request),
            percent(e.share),
        ];
        if failures {
            row.extend([
                e.failed_calls.to_string(),
                e.retries.to_string(),
                format!("{:.2}", e.amplification),
            ]);
        }
        t.row(row);
    }
    out.push_str(&t.markdown());
    if level.edges.len() > EDGES_SHOWN {
        let _ = writeln!(
            out,
            "\n{} more in report.json.",
            level.edges.len() - EDGES_SHOWN
        );
    }
    let route: Vec<String> = level
        .edges
        .iter()
        .filter(|e| e.on_common_route)
        .map(|e| format!("{} → {}", escape(&e.caller), escape(&e.callee)))
        .collect();
    if !route.is_empty() {
        let _ = writeln!(
            out,
            "\nThe most common critical-path route, taken by {} of the requests: {}.",
            percent(level.common_route_share),
            route.join(", ")
        );
    }
    out.push('\n');
}

pub(super) fn render_service_scaling(out: &mut String, report: &Report, names: &[String]) {
    if report.scaling_services.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Services, by their own time and by the time their callers wait on them (ms per request at each level; largest change either way first):\n"
    );
    let own: Vec<String> = names.iter().map(|n| format!("own {n}")).collect();
    let inbound: Vec<String> = names.iter().map(|n| format!("waited on {n}")).collect();
    let mut columns: Vec<(&str, Align)> = vec![("service", Align::Left)];
    columns.extend(own.iter().map(|h| (h.as_str(), Align::Right)));
    columns.push(("own change", Align::Right));
    columns.extend(inbound.iter().map(|h| (h.as_str(), Align::Right)));
    columns.extend([
        ("waited-on change", Align::Right),
        ("part of change (own + waited on)", Align::Right),
    ]);
    let mut t = Table::new(&columns);
    for r in report.scaling_services.iter().take(SCALING_SHOWN) {
        let mut row = vec![escape(&r.service)];
        row.extend(r.own_ms_per_request_by_level.iter().map(|&v| ms(v)));
        row.push(format!("{:+.3}", r.own_change_ms_per_request));
        row.extend(r.inbound_ms_per_request_by_level.iter().map(|&v| ms(v)));
        row.push(format!("{:+.3}", r.inbound_change_ms_per_request));
        row.push(format!(
            "{} + {}",
            percent(r.own_part_of_change),
            percent(r.inbound_part_of_change)
        ));
        t.row(row);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}
