//! The integration tests, in one binary (each extra test binary would link the crate again).

mod bad_input;
mod cli;
#[macro_use]
mod common;
mod conformance;
mod dblogs;
mod detectors;
mod failure_under_load;
mod gate;
mod html;
mod levels;
mod otlp;
mod pg_capture;
mod pg_index;
mod properties;
mod pyshop;
mod reports;
mod sql_shape;
mod synth_truth;
mod trace_formats;
