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
#[doc(hidden)]
pub mod synth;

pub use error::{Error, Result};
