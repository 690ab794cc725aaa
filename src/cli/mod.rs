//! Runs the subcommands: turns arguments into library options, runs the pipeline, writes the
//! outputs. The only code that prints, decides on a progress bar, or chooses an exit code.

mod args;
mod config;

use anyhow::{Context, Result};
use args::{AnalyzeArgs, CheckArgs, Cli, Command, Destination, DiffArgs};
use chokepoint::report::output::Output;
use chokepoint::{analysis, gate, ingest, report};
use clap::{CommandFactory, Parser};
use rayon::prelude::*;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Parses the command line, runs it, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    keep_large_blocks_mapped();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Check(c) => check(c),
        Command::Diff(d) => diff(d),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "chokepoint", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("chokepoint: error: {}", report::units::plain(&message));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The bundled demo, when the working directory holds it (a clone of the source, where the
/// README's first command runs); named relative to the working directory, so that reports
/// name it the same on every checkout. An installed binary run elsewhere has none: it does not
/// read the source tree it was built from.
fn demo_dir() -> Option<PathBuf> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("demo");
    let cwd = std::env::current_dir().ok()?;
    let relative = demo.strip_prefix(&cwd).ok()?.to_path_buf();
    relative.is_dir().then_some(relative)
}

/// The demo's data files: the files at its top but its documentation (`EXPECTED.md`); the
/// capture's own records (`capture/`: level windows, schema) are not inputs, and a user's
/// folder would list them in the ledger as unrecognized.
fn demo_inputs(demo: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(demo).with_context(|| format!("cannot read {}", demo.display()))?
    {
        let path = entry?.path();
        if path.is_file() && path.extension().is_none_or(|e| e != "md") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn analyze(a: AnalyzeArgs) -> Result<ExitCode> {
    let config = config::load(a.config.as_deref())?;
    let mut exports = a.export.clone();
    if a.json {
        exports.push((Output::Json, Destination::Stdout));
    }
    let out_dir = a.out.clone().or_else(|| {
        exports
            .is_empty()
            .then(|| PathBuf::from("chokepoint-report"))
    });
    exports.extend(out_dir.iter().flat_map(|dir| folder_outputs(dir)));
    let to_stdout = exports
        .iter()
        .filter(|(_, d)| *d == Destination::Stdout)
        .count();
    anyhow::ensure!(to_stdout <= 1, "only one output can go to stdout");
    let report = build_report(&a, &config)?;
    let written = write_outputs(&report, &exports)?;
    if to_stdout == 0 {
        let mut stdout = std::io::stdout().lock();
        // Colour for a terminal, unless NO_COLOR (https://no-color.org) asks for none.
        let colour =
            stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        stdout.write_all(report::terminal::render_with(&report, colour).as_bytes())?;
        for path in &written {
            writeln!(stdout, "wrote {}", path.display())?;
        }
        stdout.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `check`: the report of the inputs against the budgets and the baseline; exit 1 on a breach.
fn check(c: CheckArgs) -> Result<ExitCode> {
    let a = &c.analyze;
    anyhow::ensure!(
        c.baseline.is_some() || a.config.is_some() || Path::new(config::DEFAULT_NAME).is_file(),
        "check needs a baseline (--baseline report.json) or budgets (--config FILE, or ./{})",
        config::DEFAULT_NAME
    );
    // An empty variable in a CI script must not check the bundled demo and pass.
    anyhow::ensure!(
        !a.inputs.is_empty() || !a.level.is_empty(),
        "check needs the run's inputs (trace files or folders); none was given"
    );
    let config = config::load(a.config.as_deref())?;
    let baseline = c.baseline.as_deref().map(read_report).transpose()?;
    let mut exports = a.export.clone();
    exports.extend(a.out.iter().flat_map(|dir| folder_outputs(dir)));
    anyhow::ensure!(
        exports.iter().all(|(_, d)| *d != Destination::Stdout),
        "check prints its summary on stdout: export the report to a file"
    );
    let mut report = build_report(a, &config)?;
    let outcome = gate::check(&report, baseline.as_ref(), &config.budgets);
    report.check = Some(report::CheckVerdict {
        passed: outcome.passed(),
        checked: outcome.checked,
        breaches: outcome.breaches.clone(),
    });
    write_outputs(&report, &exports)?;
    if let Some(path) = &c.sarif {
        let text = serde_json::to_string_pretty(&gate::sarif::sarif(&report))?;
        write_atomically(path, (text + "\n").as_bytes())?;
    }
    let summary = gate::summary(&outcome);
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open $GITHUB_STEP_SUMMARY ({})", path.display()))?;
        file.write_all(summary.as_bytes())?;
    }
    let mut stdout = std::io::stdout().lock();
    if a.json {
        stdout.write_all(serde_json::to_string_pretty(&outcome)?.as_bytes())?;
        stdout.write_all(b"\n")?;
    } else {
        stdout.write_all(summary.as_bytes())?;
    }
    stdout.flush()?;
    Ok(if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `diff`: what changed from one report to another.
fn diff(d: DiffArgs) -> Result<ExitCode> {
    let config = config::load(d.config.as_deref())?;
    let before = read_report(&d.before)?;
    let after = read_report(&d.after)?;
    let comparison = gate::compare::compare(&before, &after, &config.budgets.regression);
    let mut stdout = std::io::stdout().lock();
    if d.json {
        stdout.write_all(serde_json::to_string_pretty(&comparison)?.as_bytes())?;
        stdout.write_all(b"\n")?;
    } else {
        writeln!(
            stdout,
            "## chokepoint diff: {} → {}\n",
            d.before.display(),
            d.after.display()
        )?;
        stdout.write_all(gate::compare_markdown(&comparison).as_bytes())?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A report.json written by chokepoint.
fn read_report(path: &Path) -> Result<report::Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let report: report::Report = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a chokepoint report.json", path.display()))?;
    anyhow::ensure!(
        report.schema_version == report::SCHEMA_VERSION,
        "{}: report schema version {}, this chokepoint reads {}",
        path.display(),
        report.schema_version,
        report::SCHEMA_VERSION
    );
    Ok(report)
}

/// The outputs an `--out` folder gets.
fn folder_outputs(dir: &Path) -> [(Output, Destination); 4] {
    Output::FOLDER.map(|o| (o, Destination::Folder(dir.to_path_buf())))
}

/// Writes each output where it goes; returns the paths written.
fn write_outputs(
    report: &report::Report,
    exports: &[(Output, Destination)],
) -> Result<Vec<PathBuf>> {
    // Rendered side by side (the charts' PNG compression is the longest), written in order.
    let rendered: Vec<_> = exports
        .par_iter()
        .map(|(output, _)| output.render(report))
        .collect();
    let mut written = Vec::new();
    for ((_, destination), files) in exports.iter().zip(rendered) {
        let files = files.map_err(anyhow::Error::msg)?;
        let paths: Vec<(PathBuf, Vec<u8>)> = match destination {
            Destination::Stdout => {
                let mut stdout = std::io::stdout().lock();
                for (_, bytes) in files {
                    stdout.write_all(&bytes)?;
                }
                stdout.flush()?;
                continue;
            }
            Destination::File(path) => files
                .into_iter()
                .map(|(_, bytes)| (path.clone(), bytes))
                .collect(),
            Destination::Folder(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                files
                    .into_iter()
                    .map(|(name, bytes)| (dir.join(name), bytes))
                    .collect()
            }
        };
        for (path, bytes) in paths {
            write_atomically(&path, &bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes a file whole or not at all: into a temporary file beside it, then renamed over it,
/// so that a full disk or a kill never leaves a truncated report beside a complete one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_os_string());
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(&name);
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temporary);
        return Err(anyhow::Error::new(e).context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

/// Reads the inputs `a` names (or the demo) and analyzes them.
fn build_report(a: &AnalyzeArgs, config: &config::Config) -> Result<report::Report> {
    // Both checked where they were read: the flag by clap, the file by its parser.
    let trace_url = a.trace_url.clone().or_else(|| config.trace_url.clone());
    let detectors = detector_options(a, config)?;
    let mut inputs = a.inputs.clone();
    inputs.extend(a.level.iter().map(|(_, path)| path.clone()));
    let inputs = if inputs.is_empty() {
        let Some(demo) = demo_dir() else {
            anyhow::bail!(
                "no input given: name the traces (files or folders of OTLP, Jaeger or Zipkin \
                 JSON, OTLP protobuf) and any database logs or dumps, as in `chokepoint analyze \
                 traces/ postgresql.log`. To try it first, analyze the demo in chokepoint's \
                 source: `cargo run --release -- analyze` in a clone, or `chokepoint analyze \
                 CLONE/fixtures/demo`"
            );
        };
        eprintln!(
            "chokepoint: no input given; analyzing the bundled demo in {}",
            demo.display()
        );
        demo_inputs(&demo)?
    } else {
        inputs
    };
    let mut options = ingest::Options::default();
    options.format = a.format;
    let bar = progress_bar(&inputs);
    options.progress = bar.clone().map(|bar| {
        let progress: ingest::Progress = std::sync::Arc::new(move |bytes| bar.inc(bytes));
        progress
    });
    options.pglog.prefix = a.pg_prefix.clone();
    if let args::LevelsMode::Attribute(key) = &a.levels {
        options.otlp.level_attribute = Some(key.clone());
    }
    let mut dataset = ingest::read_inputs(&inputs, &options)?;
    let mut schemas = a.schema.clone();
    if a.inputs.is_empty() && a.level.is_empty() && schemas.is_empty() {
        schemas.extend(
            demo_dir()
                .map(|d| d.join("capture/schema.sql"))
                .filter(|p| p.is_file()),
        );
    }
    for path in &schemas {
        let ledger = ingest::schema::read_schema(path, &mut dataset.schema)?;
        dataset.inputs.push(ledger);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    for input in &dataset.inputs {
        let why = match input.format.as_str() {
            "unrecognized" => "matches no input format".to_string(),
            "unreadable" => input
                .skip_examples
                .values()
                .next()
                .cloned()
                .unwrap_or_default(),
            _ => continue,
        };
        eprintln!(
            "chokepoint: warning: {} was not read: {}",
            report::units::plain(&input.path),
            report::units::plain(&why)
        );
    }
    let mut analysis_options = analysis::Options::default();
    analysis_options.top = a.top;
    analysis_options.pgss_cumulative = a.pgss_cumulative;
    analysis_options.detect = Some(detectors);
    analysis_options.levels = if a.level.is_empty() {
        match &a.levels {
            args::LevelsMode::Auto => analysis::levels::Levels::Auto,
            args::LevelsMode::Attribute(_) => analysis::levels::Levels::ByAttribute,
            args::LevelsMode::Timeline(path) => {
                analysis::levels::Levels::ByWindow(ingest::load_timeline::read(path)?)
            }
            args::LevelsMode::None => analysis::levels::Levels::None,
        }
    } else {
        let levels: Vec<(String, &Path)> = a
            .level
            .iter()
            .map(|(n, p)| (n.clone(), p.as_path()))
            .collect();
        analysis::levels::Levels::by_path(&levels, &dataset.inputs)
            .map_err(|m| anyhow::anyhow!("--level: {m}"))?
    };
    analysis_options.critical_path.overlap_tolerance_ppm =
        (a.overlap_tolerance * 10_000.0).round() as u32;
    let mut report = analysis::analyze(&dataset, &analysis_options);
    if let Some(settings) = &mut report.settings {
        settings.trace_url = trace_url;
    }
    if a.show_literals {
        Ok(report)
    } else {
        report::literals::hide_in(&report).map_err(anyhow::Error::msg)
    }
}

/// The detector thresholds: the defaults, then the settings file, then the flags.
fn detector_options(
    a: &AnalyzeArgs,
    config: &config::Config,
) -> Result<chokepoint::model::settings::DetectorThresholds> {
    let mut detectors = config.detectors.clone();
    if let Some(n) = a.n_plus_one_min {
        detectors.n_plus_one.min_repeats = n;
    }
    if let Some(ms) = a.fanout_min_saving_ms {
        detectors.fanout.min_saving_ms = ms;
    }
    if let Some(n) = a.chain_min_services {
        detectors.sync_chain.min_services = n;
    }
    detectors
        .validate()
        .map_err(|m| anyhow::anyhow!("invalid detector threshold: {m}"))?;
    Ok(detectors)
}

/// A byte-count progress bar on stderr, only on a terminal, outside CI, for inputs large enough
/// to take a while.
fn progress_bar(inputs: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    const WORTH_SHOWING: u64 = 64 << 20;
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return None;
    }
    let files = ingest::list_files(inputs).ok()?;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    if total < WORTH_SHOWING {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "reading {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .ok()?;
    bar.set_style(style);
    Some(bar)
}

/// Keeps glibc from holding large freed blocks: by default it raises its mmap threshold each
/// time such a block is freed, after which large buffers come from its arenas and stay there
/// when freed (the readers' batches, the analysis's vectors), so that a run's peak RSS was a
/// third above its peak heap. Fixed at glibc's own default, large blocks stay mappings that a
/// free gives back.
fn keep_large_blocks_mapped() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes an allocator setting; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("chokepoint-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // Into a "folder" that is a file: an error naming the path, and nothing left behind.
        let blocked = path.join("report.md");
        let error = write_atomically(&blocked, b"x").unwrap_err().to_string();
        assert!(error.contains("report.md"), "{error}");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
