//! The command line as the user typed it: clap definitions only, validated but never acted on.

use chokepoint::ingest::Format;
use chokepoint::report::output::Output;
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Finds why a system gets slow under load.
#[derive(Debug, Parser)]
#[command(
    name = "chokepoint",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 a check gate was breached; 2 bad usage or unreadable input."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attribute end-to-end latency to operations by critical path and rank the bottlenecks.
    #[command(after_help = "Examples:
  chokepoint analyze traces/ --out report/              traces in any format, a folder or files
  chokepoint analyze traces/ postgresql.log pgss.csv --schema schema.sql
  chokepoint analyze --level 50rps=run1/ --level 200rps=run2/
  chokepoint analyze traces.jsonl --levels timeline:load.json --json > report.json
  chokepoint analyze                                     the bundled demo, in a clone")]
    Analyze(AnalyzeArgs),
    /// The CI gate: analyze the inputs and check them against the budgets of chokepoint.toml
    /// and a baseline report; exit 1 when a budget is broken.
    #[command(after_help = "Examples:
  chokepoint check traces/ --config chokepoint.toml
  chokepoint check traces/ --baseline main/report.json --sarif chokepoint.sarif --out report/")]
    Check(CheckArgs),
    /// What changed between two report.json files: new, fixed, regressed and improved findings,
    /// slower and faster operations and endpoints.
    #[command(after_help = "Examples:
  chokepoint diff before/report.json after/report.json
  chokepoint diff before/report.json after/report.json --json > diff.json")]
    Diff(DiffArgs),
    /// Shell completions (bash, zsh, fish, elvish, powershell) on standard output.
    #[command(
        hide = true,
        after_help = "Example:
  chokepoint completions bash > /etc/bash_completion.d/chokepoint"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on standard output.
    #[command(
        hide = true,
        after_help = "Example:
  chokepoint man > /usr/local/share/man/man1/chokepoint.1"
    )]
    Man,
}

/// `chokepoint analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Files or folders (read recursively), `-` for standard input; formats (and compression)
    /// are recognized from content. Without any,
    /// the bundled demo under fixtures/ is analyzed.
    pub inputs: Vec<PathBuf>,
    /// A load level: the traces whose roots are in PATH (a file, or a folder read recursively)
    /// ran at the load called NAME. Repeat it for each level, in order of load; a name may be
    /// given several paths. PATH is read as an input too.
    #[arg(long = "level", value_name = "NAME=PATH", value_parser = parse_level)]
    pub level: Vec<(String, PathBuf)>,
    /// Without --level: find the steps of a stepped load profile from the rate of requests
    /// (auto; ramps between steps are in no level), take each request's level from an attribute
    /// of its root span or of that span's resource (attr:KEY, such as attr:load.level), from
    /// the phase of a load generator's record its root span started in (timeline:FILE:
    /// Locust's stats history CSV, k6's JSON output, JMeter's CSV results, or JSON
    /// {"phases": [{"name", "start_unix_ns", "end_unix_ns"}, …]}), or analyze all requests as
    /// one level (none).
    #[arg(
        long,
        value_name = "auto|attr:KEY|timeline:FILE|none",
        default_value = "auto",
        value_parser = parse_levels,
        conflicts_with = "level"
    )]
    pub levels: LevelsMode,
    /// With --level and a pg_stat_statements dump per level: the dumps were not reset between
    /// levels, so each level gets its dump minus the previous one. Without it, each dump is
    /// taken as counting from a reset before its level. Rows with PostgreSQL 17's stats_since
    /// are compared by it either way.
    #[arg(long)]
    pub pgss_cumulative: bool,
    /// A schema for the missing-index suspects: a pg_dump --schema-only file (or other SQL of
    /// CREATE TABLE and CREATE INDEX), a pg_indexes CSV dump, or a pg_stat_user_tables CSV dump
    /// (table sizes). A suggested index that an existing index already starts with is dropped,
    /// and so are suggestions on tables known to be tiny. Repeat it for several files.
    #[arg(long, value_name = "FILE")]
    pub schema: Vec<PathBuf>,
    /// Read every input as this format instead of recognizing it.
    #[arg(long, value_parser = format_parser())]
    pub format: Option<Format>,
    /// The log_line_prefix of PostgreSQL stderr and syslog logs, as in postgresql.conf (for
    /// example '%m [%p] %q%u@%d '); inferred from the lines when not given.
    #[arg(long, value_name = "PREFIX")]
    pub pg_prefix: Option<String>,
    /// Folder to write report.md, report.json and the charts to [default for analyze:
    /// chokepoint-report, or none with --json; for check: none].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Bottlenecks listed per level; the rest are summed in one row (0 lists all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Print JSON on stdout instead of the summary: the report (analyze), or the check's
    /// breaches and comparison (check).
    #[arg(long)]
    pub json: bool,
    /// Link every trace id in the HTML and markdown reports to this address, `{trace_id}`
    /// replaced (a Jaeger or Tempo UI: `https://tempo.example/explore?traceId={trace_id}`)
    /// [default: `trace_url` in chokepoint.toml].
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_trace_url)]
    pub trace_url: Option<String>,
    /// Show the literals of input text in every output (statement values, URL queries, ids in
    /// span names, the ledger's examples); hidden by default.
    #[arg(long)]
    pub show_literals: bool,
    /// Write one output: md, json or terminal to a file (`-` for stdout), charts to a folder.
    /// Repeatable; with any, only these (and --out's files) are written.
    #[arg(long, value_name = "KIND=PATH", value_parser = parse_export)]
    pub export: Vec<(Output, Destination)>,
    /// Largest sibling overlap taken as clock noise, in percent of the parent's duration.
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0, value_parser = parse_percent)]
    pub overlap_tolerance: f64,
    /// Settings file (detector thresholds) [default: ./chokepoint.toml when there is one].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Queries with distinct arguments under one parent that make an N+1 [default: 5].
    #[arg(long, value_name = "N")]
    pub n_plus_one_min: Option<u64>,
    /// Mean saving per trace that makes sequential calls to services a fan-out finding, with
    /// 10% of the parent, ms [default: 10].
    #[arg(long, value_name = "MS")]
    pub fanout_min_saving_ms: Option<f64>,
    /// Services a synchronous chain must cross to be reported [default: 3].
    #[arg(long, value_name = "N")]
    pub chain_min_services: Option<u64>,
}

/// `chokepoint check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The inputs and options, as for analyze (--out writes the report files too).
    #[command(flatten)]
    pub analyze: AnalyzeArgs,
    /// A report.json of an earlier run (the main branch's, say): new findings and regressions
    /// beyond their noise are breaches.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Also write the findings that carry code locations as SARIF 2.1.0 to FILE.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
}

/// `chokepoint diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report.json.
    pub before: PathBuf,
    /// The later report.json.
    pub after: PathBuf,
    /// Print the comparison as JSON instead of markdown.
    #[arg(long)]
    pub json: bool,
    /// Settings file: [budgets.regression] says what counts as a change [default:
    /// ./chokepoint.toml when there is one].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--levels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelsMode {
    /// Steps of the request rate.
    Auto,
    /// The value of this attribute.
    Attribute(String),
    /// The phases of this load timeline file.
    Timeline(PathBuf),
    /// One level, `all`.
    None,
}

fn parse_levels(s: &str) -> Result<LevelsMode, String> {
    match s {
        "auto" => Ok(LevelsMode::Auto),
        "none" => Ok(LevelsMode::None),
        _ => match (s.strip_prefix("attr:"), s.strip_prefix("timeline:")) {
            (Some(key), _) if !key.is_empty() => Ok(LevelsMode::Attribute(key.to_string())),
            (_, Some(path)) if !path.is_empty() => Ok(LevelsMode::Timeline(path.into())),
            _ => Err(format!(
                "{s:?} is not auto, none, attr:KEY or timeline:FILE"
            )),
        },
    }
}

/// `--format`: one of the formats' names, listed in `--help`.
fn format_parser() -> impl TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new(Format::ALL.map(Format::as_str))
        .map(|name| Format::from_name(&name).expect("clap accepts only the listed names"))
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
    /// A folder, for outputs of several files.
    Folder(PathBuf),
}

fn parse_export(s: &str) -> Result<(Output, Destination), String> {
    let names: Vec<&str> = Output::ALL.iter().map(|o| o.name()).collect();
    let (name, path) = s
        .split_once('=')
        .filter(|(_, p)| !p.is_empty())
        .ok_or_else(|| format!("{s:?} is not KIND=PATH ({})", names.join(", ")))?;
    let output = Output::from_name(name)
        .ok_or_else(|| format!("{name:?} is not an output ({})", names.join(", ")))?;
    let destination = match path {
        "-" if output.is_folder() => return Err(format!("{name} is several files: give a folder")),
        "-" => Destination::Stdout,
        _ if output.is_folder() => Destination::Folder(PathBuf::from(path)),
        _ => Destination::File(PathBuf::from(path)),
    };
    Ok((output, destination))
}

fn parse_level(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("{s:?} is not NAME=PATH")),
    }
}

fn parse_trace_url(s: &str) -> Result<String, String> {
    chokepoint::model::settings::validate_trace_url(s)?;
    Ok(s.to_string())
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a percentage from 0 to 100")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
