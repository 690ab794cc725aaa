//! OTLP, JSON and protobuf: their decoders ([`json`], with its fast path `json_scan`, and
//! [`proto`]) and how their files are framed ([`framing`]). Both fill the format-neutral span
//! builder ([`crate::ingest::spans`]).
//!
//! Checked against the OTLP 1.x protobuf definitions (opentelemetry-proto), the OTLP/JSON
//! encoding rules of the OTLP specification, the Collector's file exporter output and the
//! OpenTelemetry semantic conventions 1.2x (with the pre-1.21 attribute names as aliases).

pub mod framing;
pub mod json;
mod json_scan;
pub mod proto;

/// How to read OTLP.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The attribute whose value names each span's load level (`--levels attr:KEY`), read from
    /// the span's attributes or else its resource's.
    pub level_attribute: Option<String>,
}
