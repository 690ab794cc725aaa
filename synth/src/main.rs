//! `chokepoint-synth`: writes a seeded trace set or database log, and its ground truth beside it
//! (`FILE.truth.json`), for the benchmark scripts.

use chokepoint_synth::{DbLog, Options, Profile};
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// What to write.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// OTLP/JSON lines.
    OtlpJson,
    /// Length-prefixed OTLP protobuf.
    OtlpProto,
    /// One Jaeger JSON document (times in whole microseconds).
    JaegerJson,
    /// One Zipkin v2 span array (times in whole microseconds).
    ZipkinJson,
    /// A PostgreSQL stderr log.
    PgStderr,
    /// A MySQL slow log.
    MysqlSlow,
}

/// Writes a seeded synthetic trace set or database log, with its ground truth.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Number of traces.
    #[arg(long, default_value_t = 1000)]
    traces: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Requests per second.
    #[arg(long, default_value_t = 200)]
    rps: u64,
    /// A stepped load profile instead of --traces at --rps: the rate of each step.
    #[arg(long, value_name = "RPS,RPS,...", value_delimiter = ',')]
    steps: Vec<u64>,
    /// With --steps: the length of each step, s.
    #[arg(long, default_value_t = 30)]
    step_s: u64,
    /// With --steps: the length of the linear ramp between steps, s.
    #[arg(long, default_value_t = 5)]
    ramp_s: u64,
    /// Time added to every fraud check (a slower dependency), ms.
    #[arg(long, default_value_t = 0)]
    slower_fraud_check_ms: u64,
    /// Time added to the network path into the cart service (its callers wait, it does not), ms.
    #[arg(long, default_value_t = 0)]
    slower_cart_network_ms: u64,
    /// With --steps: the inventory stalls more often as load grows, and the frontend's calls
    /// to it time out at 50 ms and are retried.
    #[arg(long)]
    inventory_timeouts: bool,
    /// Database logs only: take each statement from this many distinct shapes (0: the shop's).
    #[arg(long, default_value_t = 0)]
    distinct_statements: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "otlp-json")]
    format: Format,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match write(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chokepoint-synth: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(a: &Args) -> Result<(), String> {
    let options = Options {
        traces: a.traces,
        seed: a.seed,
        rps: a.rps,
        profile: (!a.steps.is_empty()).then(|| Profile {
            rates_rps: a.steps.clone(),
            step_s: a.step_s,
            ramp_s: a.ramp_s,
        }),
        slower_fraud_check_ns: a.slower_fraud_check_ms * 1_000_000,
        slower_cart_network_ns: a.slower_cart_network_ms * 1_000_000,
        whole_microseconds: matches!(a.format, Format::JaegerJson | Format::ZipkinJson),
        distinct_statements: a.distinct_statements,
        inventory_timeouts: a.inventory_timeouts,
        ..Options::default()
    };
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", a.out.display());
    let file = std::fs::File::create(&a.out).map_err(cannot)?;
    let mut out = std::io::BufWriter::new(file);
    let truth = match a.format {
        Format::OtlpJson => chokepoint_synth::write_json(&options, &mut out),
        Format::OtlpProto => chokepoint_synth::write_proto(&options, &mut out),
        Format::JaegerJson => chokepoint_synth::write_jaeger(&options, &mut out),
        Format::ZipkinJson => chokepoint_synth::write_zipkin(&options, &mut out),
        Format::PgStderr => chokepoint_synth::write_db_log(&options, DbLog::Postgres, &mut out),
        Format::MysqlSlow => chokepoint_synth::write_db_log(&options, DbLog::Mysql, &mut out),
    }
    .and_then(|truth| out.flush().map(|()| truth))
    .map_err(cannot)?;
    let mut truth_path = a.out.clone().into_os_string();
    truth_path.push(".truth.json");
    let json = serde_json::to_string_pretty(&truth).expect("the truth serializes");
    std::fs::write(&truth_path, json + "\n")
        .map_err(|e| format!("cannot write {}: {e}", truth_path.to_string_lossy()))
}
