//! `chokepoint.toml`: the settings a team keeps beside its load tests (detector thresholds, and
//! the budgets of `chokepoint check`, documented in `chokepoint::gate`), read once, checked, and
//! overridden by the command-line flags.
//!
//! ```toml
//! [detectors.n_plus_one]
//! min_repeats = 5        # calls with distinct arguments under one parent
//! min_redundant = 2      # extra calls with the same arguments
//! [detectors.fanout]
//! min_saving_ms = 20     # or min_saving_percent of the parent's duration
//! min_saving_percent = 10
//! min_trace_percent = 20 # share of the parent's traces it must occur in
//! min_traces = 3
//! [detectors.sync_chain]
//! min_services = 3
//! [detectors.missing_index]
//! min_rows_read_per_call = 1000 # rows a scan reads, or MySQL examines, per call
//! min_read_per_returned = 100   # rows read per row returned
//! min_blocks_per_row = 100      # pg_stat_statements buffers per returned row…
//! min_mean_ms = 5               # …with this mean per call
//! min_calls = 10                # calls for the buffer and growth rules
//! min_growth = 2                # mean per call, last level over first
//! min_table_rows = 1000         # smaller tables get no suggestion when their size is known
//! [detectors.slow_statement]
//! min_mean_ms = 100             # per call, or
//! min_share = 0.5               # of all statements' time, with
//! min_total_ms = 1000
//! ```

use anyhow::{Context, Result};
use chokepoint::gate;
use chokepoint::model::settings::DetectorThresholds;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's contents; every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Detector thresholds.
    pub detectors: DetectorThresholds,
    /// What `chokepoint check` holds a run to.
    pub budgets: gate::Budgets,
}

/// The name looked for in the working directory when `--config` is not given.
pub const DEFAULT_NAME: &str = "chokepoint.toml";

/// Reads `path`, or `./chokepoint.toml` when there is one, or the defaults; says on stderr which
/// file it read when it was not named.
pub fn load(path: Option<&Path>) -> Result<Config> {
    let path: PathBuf = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_NAME).is_file() => {
            eprintln!("chokepoint: using settings from ./{DEFAULT_NAME}");
            PathBuf::from(DEFAULT_NAME)
        }
        None => return Ok(Config::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("{}: invalid settings", path.display()))
}

fn parse(text: &str) -> Result<Config> {
    let config: Config = toml::from_str(text)?;
    config
        .detectors
        .validate()
        .map_err(|m| anyhow::anyhow!("detectors.{m}"))?;
    config
        .budgets
        .validate()
        .map_err(|m| anyhow::anyhow!("budgets.{m}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_read_and_the_rest_default() {
        let c = parse(
            "[detectors.n_plus_one]\nmin_repeats = 3\n[detectors.fanout]\nmin_saving_ms = 5\n",
        )
        .unwrap();
        assert_eq!(c.detectors.n_plus_one.min_repeats, 3);
        assert_eq!(c.detectors.fanout.min_saving_ms, 5.0);
        assert_eq!(
            c.detectors.sync_chain,
            DetectorThresholds::default().sync_chain
        );
        assert_eq!(parse("").unwrap().detectors, DetectorThresholds::default());
    }

    #[test]
    fn mistakes_name_the_line_or_the_setting() {
        let e = format!(
            "{:#}",
            parse("[detectors.n_plus_one]\nmin_repeat = 3\n").unwrap_err()
        );
        assert!(e.contains("line 2") && e.contains("min_repeat"), "{e}");
        let e = format!(
            "{:#}",
            parse("[detectors.sync_chain]\nmin_services = 1\n").unwrap_err()
        );
        assert!(
            e.contains("detectors.sync_chain.min_services must be at least 2"),
            "{e}"
        );
    }
}
