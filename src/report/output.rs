//! The outputs a report can be written as, in the manner of hyperfine's export types: each
//! renders the one [`Report`] into named files' bytes, and the binary decides where they go (a
//! folder, a path, or standard output with `-`).

use super::{Report, charts, html, markdown, terminal};

/// One kind of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `report.md`.
    Markdown,
    /// `report.html`, one self-contained page.
    Html,
    /// `report.json`, the serde form of the report.
    Json,
    /// The PNG charts, one file each.
    Charts,
    /// The short plain-text summary.
    Terminal,
}

impl Output {
    /// Every output, as `--export` names them.
    pub const ALL: [Output; 5] = [
        Output::Markdown,
        Output::Html,
        Output::Json,
        Output::Charts,
        Output::Terminal,
    ];

    /// The outputs written to an `--out` folder.
    pub const FOLDER: [Output; 4] = [Output::Markdown, Output::Html, Output::Json, Output::Charts];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Output::Markdown => "md",
            Output::Html => "html",
            Output::Json => "json",
            Output::Charts => "charts",
            Output::Terminal => "terminal",
        }
    }

    /// The output of a name.
    pub fn from_name(name: &str) -> Option<Output> {
        Output::ALL.into_iter().find(|o| o.name() == name)
    }

    /// True when it is several files, so that it needs a folder rather than a path or `-`.
    pub fn is_folder(self) -> bool {
        self == Output::Charts
    }

    /// Renders the report: each file's name (in a folder) and its bytes.
    pub fn render(self, report: &Report) -> Result<Vec<(String, Vec<u8>)>, String> {
        Ok(match self {
            Output::Markdown => vec![("report.md".into(), markdown::render(report).into_bytes())],
            Output::Html => vec![("report.html".into(), html::render(report).into_bytes())],
            Output::Json => vec![("report.json".into(), report.to_json().into_bytes())],
            Output::Terminal => vec![("summary.txt".into(), terminal::render(report).into_bytes())],
            Output::Charts => charts::render(report)
                .map_err(|e| format!("cannot draw the charts: {e}"))?
                .into_iter()
                .map(|(chart, png)| (chart.file().to_string(), png))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn names_round_trip() {
        for o in Output::ALL {
            assert_eq!(Output::from_name(o.name()), Some(o));
        }
        assert_eq!(Output::from_name("pdf"), None);
    }
}
