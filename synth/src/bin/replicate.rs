//! `chokepoint-replicate`: copies a real trace capture N times with fresh trace ids, so that a
//! benchmark reads spans a real SDK wrote (their attributes, their sizes) in the numbers it
//! needs. OTLP/JSON lines are copied as text, only the trace ids rewritten, so that every other
//! byte is the SDK's; protobuf is written from the same messages (decoded from the JSON lines
//! or from length-prefixed protobuf).
//!
//!     chokepoint-replicate --copies N --format otlp-json|otlp-proto --out FILE INPUT...

use clap::{Parser, ValueEnum};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// OTLP/JSON lines.
    OtlpJson,
    /// Length-prefixed OTLP protobuf.
    OtlpProto,
}

/// Copies real captures with fresh trace ids.
#[derive(Debug, Parser)]
struct Args {
    /// Copies of each input.
    #[arg(long)]
    copies: u32,
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// OTLP/JSON lines or length-prefixed protobuf files, gzipped or not.
    inputs: Vec<PathBuf>,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chokepoint-replicate: {e}");
            ExitCode::from(2)
        }
    }
}

/// The file's bytes, gunzipped when they are gzip.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

/// A trace id of copy `copy`: the original with its first four bytes XORed with the copy's
/// number (copy 0 is the original).
fn fresh(id: &mut [u8], copy: u32) {
    for (b, c) in id.iter_mut().zip(copy.to_be_bytes()) {
        *b ^= c;
    }
}

/// `"traceId":"HEX"` rewritten for `copy`, every other byte kept.
fn rewrite_json_line(line: &str, copy: u32) -> String {
    const KEY: &str = "\"traceId\"";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(KEY) {
        let after = &rest[at + KEY.len()..];
        let Some(open) = after.find('"') else { break };
        let value = &after[open + 1..];
        let Some(close) = value.find('"') else { break };
        out.push_str(&rest[..at + KEY.len() + open + 1]);
        let hex = &value[..close];
        let mut bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        if bytes.len() == 16 && hex.len() == 32 {
            fresh(&mut bytes, copy);
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
        } else {
            out.push_str(hex);
        }
        rest = &value[close..];
    }
    out.push_str(rest);
    out
}

/// The messages of a file: JSON lines, or length-prefixed protobuf.
fn messages(bytes: &[u8]) -> Result<Vec<ExportTraceServiceRequest>, String> {
    if bytes.first() == Some(&b'{') {
        return bytes
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(&l).map_err(|e| format!("a JSON line: {e}")))
            .collect();
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let body = rest.get(4..4 + n).ok_or("a message cut short")?;
        out.push(ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())?);
        rest = &rest[4 + n..];
    }
    Ok(out)
}

fn run(a: &Args) -> Result<(), String> {
    let file = std::fs::File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut out = BufWriter::new(file);
    let io = |e: std::io::Error| e.to_string();
    for input in &a.inputs {
        let bytes = read(input)?;
        match a.format {
            Format::OtlpJson => {
                let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
                for copy in 0..a.copies {
                    for line in BufReader::new(text.as_bytes()).lines() {
                        let line = line.map_err(io)?;
                        writeln!(out, "{}", rewrite_json_line(&line, copy)).map_err(io)?;
                    }
                }
            }
            Format::OtlpProto => {
                let messages = messages(&bytes)?;
                for copy in 0..a.copies {
                    for message in &messages {
                        let mut m = message.clone();
                        for span in m
                            .resource_spans
                            .iter_mut()
                            .flat_map(|r| &mut r.scope_spans)
                            .flat_map(|s| &mut s.spans)
                        {
                            fresh(&mut span.trace_id, copy);
                            for link in &mut span.links {
                                fresh(&mut link.trace_id, copy);
                            }
                        }
                        let body = m.encode_to_vec();
                        out.write_all(&(body.len() as u32).to_be_bytes())
                            .map_err(io)?;
                        out.write_all(&body).map_err(io)?;
                    }
                }
            }
        }
    }
    out.flush().map_err(io)
}
