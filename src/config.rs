//! `chokepoint.toml`: the settings a team keeps beside its load tests (detector thresholds, and
//! the budgets of `chokepoint check`, documented in [`crate::gate`]), parsed and checked. It is
//! in the library so that a team's own tooling, and the fuzzer, read it as the binary does; the
//! binary finds the file and lets its flags override it.
//!
//! `fixtures/chokepoint.toml` lists every detector threshold with its default and what it
//! means; a test holds it, and the README's table, to `DetectorThresholds::default()`.

use crate::gate;
use crate::model::settings::DetectorThresholds;
use serde::Deserialize;

/// The file's contents; every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Detector thresholds.
    pub detectors: DetectorThresholds,
    /// What `chokepoint check` holds a run to.
    pub budgets: gate::Budgets,
    /// Where a trace id links to in the reports: an address with `{trace_id}` in it.
    pub trace_url: Option<String>,
}

/// The name looked for in the working directory when no settings file is named.
pub const DEFAULT_NAME: &str = "chokepoint.toml";

/// Reads the text of a settings file; an error names the line, or the setting out of range.
pub fn parse(text: &str) -> Result<Config, String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    config
        .detectors
        .validate()
        .map_err(|m| format!("detectors.{m}"))?;
    config
        .budgets
        .validate()
        .map_err(|m| format!("budgets.{m}"))?;
    if let Some(template) = &config.trace_url {
        crate::model::settings::validate_trace_url(template)
            .map_err(|m| format!("trace_url: {m}"))?;
    }
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

    /// The documented example holds every threshold at its default, and the README lists
    /// each with its default.
    #[test]
    fn the_example_file_and_the_readme_list_every_threshold_at_its_default() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("fixtures/chokepoint.toml")).unwrap();
        assert_eq!(
            parse(&text).unwrap().detectors,
            DetectorThresholds::default()
        );
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let defaults = serde_json::to_value(DetectorThresholds::default()).unwrap();
        for (section, keys) in defaults.as_object().unwrap() {
            for (key, value) in keys.as_object().unwrap() {
                let line = format!("{key} = {value}");
                let in_file = text
                    .split(&format!("[detectors.{section}]"))
                    .nth(1)
                    .and_then(|rest| rest.split("\n[").next())
                    .is_some_and(|body| body.lines().any(|l| l.starts_with(&line)));
                assert!(
                    in_file,
                    "fixtures/chokepoint.toml lacks `{line}` in {section}"
                );
                let row = format!("| `{section}.{key}` | {value} |");
                assert!(readme.contains(&row), "README.md lacks the row `{row}`");
            }
        }
    }

    #[test]
    fn the_trace_url_is_read_and_checked() {
        let c = parse("trace_url = \"http://localhost:16686/trace/{trace_id}\"\n").unwrap();
        assert_eq!(
            c.trace_url.as_deref(),
            Some("http://localhost:16686/trace/{trace_id}")
        );
        let e = parse("trace_url = \"http://localhost:16686/trace/\"\n").unwrap_err();
        assert!(e.contains("trace_url") && e.contains("{trace_id}"), "{e}");
        let e = parse("trace_url = \"javascript:alert(1)//{trace_id}\"\n").unwrap_err();
        assert!(e.contains("http"), "{e}");
    }

    #[test]
    fn mistakes_name_the_line_or_the_setting() {
        let e = parse("[detectors.n_plus_one]\nmin_repeat = 3\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("min_repeat"), "{e}");
        let e = parse("[detectors.sync_chain]\nmin_services = 1\n").unwrap_err();
        assert!(
            e.contains("detectors.sync_chain.min_services must be at least 2"),
            "{e}"
        );
    }
}
