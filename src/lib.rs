//! chokepoint finds why a system gets slow under load.
//!
//! After a load test, point it at what the system recorded: OpenTelemetry traces (OTLP JSON or
//! protobuf, plain, gzip, zstd or bzip2), PostgreSQL and MySQL logs, pg_stat_statements dumps
//! and a schema. This page is the map of the code: the pipeline, which module owns what, the
//! invariants every change keeps, and the decisions taken.
//!
//! # The pipeline
//!
//! ```text
//!  files ─▶ ingest ──────────────▶ model::Dataset ─▶ analysis ─────────────▶ report::Report ─▶ renderers
//!           recognize each file     spans (interned   per trace, in parallel:   every result,     markdown, JSON,
//!           by content, decompress, strings, integer  tree, critical path,      settings,         PNG charts,
//!           parse chunks in         ns), statement    detectors; then folds:    ledger            terminal
//!           parallel, ledger        statistics,       levels, ranking,                            (report::output)
//!                                   schema, ledger    scaling, statement        gate: check,
//!                                                     profile, findings         diff, SARIF
//! ```
//!
//! 1. [`ingest`] lists the inputs, recognizes each file's format from its content, and parses
//!    files (and chunks of large files) in parallel into one [`model::Dataset`], counting every
//!    record it cannot use in its file's ledger ([`model::ledger`]).
//! 2. [`model`] holds what ingest produces and what every later layer reads: spans and their
//!    trees ([`model::trace`]), operation keys ([`model::op_key`]), fingerprints, statement
//!    statistics and shapes, the schema, the ledger and the settings of a run.
//! 3. [`analysis`] turns a dataset into a [`report::Report`]. [`analysis`]'s own module only
//!    orchestrates; each trace is assembled and attributed in `per_trace` (critical path in
//!    [`analysis::critical_path`], detectors in [`analysis::detect`]), then folded: load levels
//!    ([`analysis::levels`]), each level's ranking, the scaling comparison, the statement profile
//!    ([`analysis::queries`], with statement shapes read by [`analysis::sql`]) joined to spans,
//!    and the findings.
//! 4. [`report`] is the [`report::Report`] value and its renderers, which only render: the
//!    report carries every number they print (totals and remainders too) and the settings it
//!    was computed under. [`report::output`] lists the outputs; the binary decides where they go.
//! 5. [`gate`] judges reports against budgets and a baseline (`chokepoint check`, `diff`, SARIF).
//!
//! The binary (`src/cli`) is argument handling, the settings file, the progress bar and the
//! writing of outputs; `main.rs` only calls it. The seeded generator used by the tests and
//! benches is a crate of its own (`synth/`), sharing no parsing or calendar code with this one.
//!
//! # Layers
//!
//! `model` names nothing above it; `report` names only `model`; `ingest` names `model`;
//! `analysis` names `model` and `report`; `gate` names those three; [`config`] (the settings
//! file) names `model` and `gate`. A unit test (`layers`, in
//! this file) fails when a module names one above it.
//!
//! # Where things live
//!
//! - A format: its module under [`ingest`] (its parsing and its ledger entries).
//! - A trace detector: one module under [`analysis::detect`] owns its rule, its per-trace facts,
//!   its conclusion across traces (evidence, confidence, suggestion) and its near-miss wording;
//!   its thresholds are in [`model::settings`], its kind and typed evidence in the report
//!   ([`report::FindingKind`], [`report::evidence`]), and one line in
//!   [`analysis::detect::TRACE_DETECTORS`] registers it. Statement detectors
//!   ([`analysis::detect::missing_index`], [`analysis::detect::slow_statement`]) judge one
//!   statement of the profile at a time; [`analysis::detect::slow_call`] judges each
//!   operation's span durations; [`analysis::detect::rank`] puts every finding in report order.
//! - A number in a report: computed once, in `analysis`; printed through [`report::units`].
//!
//! # Invariants
//!
//! - **Exact time.** Times are integer nanoseconds from parsing to aggregation; floats appear
//!   only where a report states a millisecond or a ratio.
//! - **Tiling.** A request's critical-path segments tile its root span exactly, so a level's
//!   bottleneck times (listed plus `other`) add up to its end-to-end latency, and the scaling
//!   rows' changes add up to the change in mean latency.
//! - **Ledger conservation.** Every input record is used or counted with a reason; nothing is
//!   dropped silently. Spans read = spans analyzed + duplicates.
//! - **Determinism.** The same inputs give the same bytes, whatever the thread count or input
//!   order: per-trace results are folded in trace-id order with integer sums, ids are hashes of
//!   text (never of interned symbol numbers), and ties are broken by text.
//! - **The JSON report's shape.** `src/report/report.schema.json` is generated from the types;
//!   every report the tests make is checked against it. Fields are added with defaults; a
//!   removal or a rename raises [`report::SCHEMA_VERSION`].
//!
//! # Decisions
//!
//! - No polars (nor arrow) in the analysis path: exact integer folds in hash maps do what it
//!   did, and it cost minutes of build. It belongs where data leaves for other engines.
//! - OTLP JSON is decoded by a lean reader of our own, checked against opentelemetry-proto's
//!   serde types in the tests; protobuf by walking the wire with prost's primitives, only the
//!   fields the model uses, strings borrowed (opentelemetry-proto's types decoded every
//!   attribute into its own allocation: a quarter of the run in malloc and free), checked
//!   against those types' prost encoding in the tests.
//! - Statement shapes come from sqlparser on one exemplar per fingerprint, never on every event.
//! - Regressions are judged against their noise by batch means over consecutive requests
//!   (load generators send bursts, so requests are not independent).
//!
//! ```
//! let dataset = chokepoint::ingest::read_inputs(
//!     &["fixtures/pg-index".into()],
//!     &chokepoint::ingest::Options::default(),
//! )?;
//! let report = chokepoint::analysis::analyze(&dataset, &chokepoint::analysis::Options::default());
//! assert_eq!(report.findings[0].kind, chokepoint::report::FindingKind::MissingIndexSuspect);
//! # Ok::<(), chokepoint::Error>(())
//! ```

#![deny(missing_docs)]

pub mod analysis;
pub mod config;
pub mod error;
pub mod gate;
pub mod ingest;
pub mod model;
pub mod report;

pub use error::{Error, Result};

#[cfg(test)]
mod layers {
    //! The layers, checked: a module may name only the modules below it (doc comments aside).

    use std::path::Path;

    /// Each module, with the modules it may use besides itself.
    const ALLOWED: [(&str, &[&str]); 7] = [
        ("model", &[]),
        ("report", &["model"]),
        ("ingest", &["model", "error"]),
        ("analysis", &["model", "report"]),
        ("gate", &["model", "report", "analysis"]),
        ("config", &["model", "gate"]),
        ("error", &[]),
    ];

    fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                sources(&entry.unwrap().path(), out);
            }
        } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
    }

    #[test]
    fn no_module_uses_one_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut broken = Vec::new();
        for (module, allowed) in ALLOWED {
            let mut files = Vec::new();
            sources(&src.join(module), &mut files);
            sources(&src.join(format!("{module}.rs")), &mut files);
            assert!(!files.is_empty(), "src/{module} is gone: update the layers");
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("//") {
                        continue;
                    }
                    for (i, _) in line.match_indices("crate::") {
                        let rest = &line[i + 7..];
                        // `crate::{a, b::c}` names each of a and b.
                        let names: Vec<&str> = match rest.strip_prefix('{') {
                            Some(group) => {
                                group.split('}').next().unwrap_or("").split(',').collect()
                            }
                            None => vec![rest],
                        };
                        for name in names {
                            let used: String = name
                                .trim()
                                .chars()
                                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                                .collect();
                            let ok = used == module
                                || allowed.contains(&used.as_str())
                                || ["Error", "Result"].contains(&used.as_str());
                            if !ok {
                                broken.push(format!("{}:{}: {line}", file.display(), n + 1));
                            }
                        }
                    }
                }
            }
        }
        assert!(
            broken.is_empty(),
            "uses against the layers:\n{}",
            broken.join("\n")
        );
    }
}
