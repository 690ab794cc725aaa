//! report.html in process: the same bytes twice, nothing fetched at view time, hostile names
//! shown as text, trace ids linked out. What a browser makes of it is checked by
//! `tests/browser/check.sh`, which `.ci/run` runs.

use crate::common::{analyze, fixture, read};
use chokepoint::report::{Report, html, markdown};

fn injection_report() -> Report {
    let dataset = read(&[fixture("html-injection/traces.otlp.json")]).unwrap();
    let mut options = chokepoint::analysis::Options::default();
    options.levels = chokepoint::analysis::levels::Levels::None;
    // Not hidden: the literals are what a hostile name would slip through.
    analyze(&dataset, &options)
}

#[test]
fn the_page_needs_no_network_and_is_the_same_bytes_twice() {
    let report = crate::reports::small_report();
    let page = html::render(&report);
    assert_eq!(page, html::render(&report));
    for fetch in ["http://", "https://", "<link", " src=", "@import", "url("] {
        assert!(!page.contains(fetch), "{fetch}");
    }
    for section in [
        "glance",
        "levels",
        "findings",
        "waterfalls",
        "statements",
        "ledger",
    ] {
        assert!(
            page.contains(&format!(r#"<section id="{section}">"#)),
            "{section}"
        );
    }
    // Each finding is there with its waterfall to show, and the drawn requests are in the store.
    for f in &report.findings {
        assert!(
            page.contains(&format!(r#"id="finding-{}""#, f.id)),
            "{}",
            f.id
        );
    }
    assert_eq!(
        page.matches(r#"<div class="wf" id="wf-"#).count(),
        report.waterfalls.len()
    );
    insta::assert_snapshot!("small_report_html", page);
}

#[test]
fn hostile_names_are_text() {
    let report = injection_report();
    assert!(
        report.waterfalls[0].spans[1]
            .operation
            .contains("<script>window.__pwned=1</script>"),
        "the fixture's names reach the report: {:?}",
        report.waterfalls[0].spans[1]
    );
    let page = html::render(&report);
    assert!(!page.contains("<script>window"), "a script element");
    assert!(!page.contains("<img"), "an element");
    assert!(!page.contains(r#"" onerror"#), "an attribute");
    assert!(page.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;"));
    // One script element: the page's own.
    assert_eq!(page.matches("<script").count(), 1);
}

#[test]
fn trace_ids_link_to_the_trace_url() {
    let mut report = crate::reports::small_report();
    let template = "https://tempo.example/explore?orgId=1&traceId={trace_id}";
    report.settings.as_mut().unwrap().trace_url = Some(template.into());
    let id = report.findings[0].exemplar_trace_ids[0].clone();
    let page = html::render(&report);
    assert!(
        page.contains(&format!(
            r#"href="https://tempo.example/explore?orgId=1&amp;traceId={id}""#
        )),
        "{id}"
    );
    let md = markdown::render(&report);
    assert!(
        md.contains(&format!(
            "[`{id}`](https://tempo.example/explore?orgId=1&traceId={id})"
        )),
        "{id}"
    );
    // Hiding literals keeps the template whole.
    let hidden = chokepoint::report::literals::hide_in(&report).unwrap();
    assert_eq!(hidden.trace_url(), Some(template));
}

#[test]
fn database_inputs_alone_show_their_statements_and_no_empty_level() {
    let dataset = read(&[fixture("pg/postgresql.log.gz")]).unwrap();
    let report = analyze(&dataset, &Default::default());
    let page = html::render(&report);
    assert!(page.contains("No trace was read"));
    assert!(
        !page.contains("load levels</span>"),
        "no level of 0 requests"
    );
    assert!(page.contains("statements</span>"));
    assert!(page.contains(r#"<section id="statements">"#));
}
