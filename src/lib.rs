//! chokepoint finds why a system gets slow under load.
//!
//! After a load test, point it at what the system recorded (OpenTelemetry traces as OTLP JSON or
//! protobuf, plain, gzip or zstd). The pipeline:
//!
//! 1. [`ingest`] recognizes each file's format from its content and parses files (and chunks of
//!    large files) in parallel into one [`model::Dataset`], counting every record it cannot use
//!    in a per-file ledger;
//! 2. [`model::trace`] assembles spans into trace trees (duplicates, orphans and cycles counted);
//! 3. [`analysis`] attributes each request's end-to-end latency to the spans on its critical
//!    path, exactly to the nanosecond, and ranks operations by their share of latency;
//! 4. [`report`] renders the one [`report::Report`] value as markdown, JSON and a terminal
//!    summary; nothing is computed in a renderer.
//!
//! ```
//! let dataset = chokepoint::ingest::read_inputs(
//!     &["fixtures/demo".into()],
//!     &chokepoint::ingest::Options::default(),
//! ).unwrap();
//! let report = chokepoint::analysis::analyze(&dataset, &chokepoint::analysis::Options::default());
//! let level = &report.levels[0];
//! let total: u64 = level.bottlenecks.iter().map(|b| b.cp_ns_total).sum::<u64>() + level.other.cp_ns_total;
//! assert_eq!(total, level.latency_ns_total, "attribution adds up to the end-to-end latency");
//! ```

#![deny(missing_docs)]

pub mod analysis;
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
    const ALLOWED: [(&str, &[&str]); 6] = [
        ("model", &[]),
        ("report", &["model"]),
        ("ingest", &["model", "error"]),
        ("analysis", &["model", "report"]),
        ("gate", &["model", "report", "analysis"]),
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
