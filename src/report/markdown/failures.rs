//! A level's failed requests by where they started.

use super::*;
use crate::report::OperationName;

/// "service `operation`".
fn operation(o: &OperationName) -> String {
    format!("{} {}", escape(&o.service), code(&o.operation))
}

pub(super) fn render_failure_origins(out: &mut String, level: &Level, trace_url: Option<&str>) {
    if level.failure_origins.is_empty() {
        return;
    }
    let failed: u64 = level.endpoints.iter().map(|e| e.failed_requests).sum();
    let _ = writeln!(
        out,
        "\n### Where failures start\n\n{failed} failed requests ({} of the level). The origin is \
         the deepest erroring span on the path of a request's error; the chain, the erroring \
         spans from the request's root to it.\n",
        percent(level.error_rate)
    );
    let mut t = Table::new(&[
        ("failed", Align::Right),
        ("share", Align::Right),
        ("origin", Align::Left),
        ("chain", Align::Left),
        ("endpoints", Align::Left),
        ("first trace", Align::Left),
    ]);
    for o in &level.failure_origins {
        let chain: Vec<String> = o.chain.iter().map(operation).collect();
        let endpoints: Vec<String> = o
            .endpoints
            .iter()
            .map(|e| format!("{} ({})", operation(&e.endpoint), e.failed_requests))
            .collect();
        t.row(vec![
            o.failed_requests.to_string(),
            percent(o.share_of_failures),
            operation(&o.origin),
            chain.join(" → "),
            endpoints.join("; "),
            o.exemplar_trace_ids
                .first()
                .map(|id| trace_ref(id, trace_url))
                .unwrap_or_default(),
        ]);
    }
    out.push_str(&t.markdown());
}
