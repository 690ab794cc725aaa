//! Tables shared by the markdown report and the terminal summary: one model, two layouts.

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table of already formatted cells.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            columns: columns.iter().map(|&(h, a)| (h.to_string(), a)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// GitHub-flavoured markdown; cells must be escaped already.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |cells: Vec<&str>| format!("| {} |\n", cells.join(" | "));
        out += &line(self.columns.iter().map(|c| c.0.as_str()).collect());
        out += &line(
            self.columns
                .iter()
                .map(|c| if c.1 == Align::Right { "---:" } else { "---" })
                .collect(),
        );
        for row in &self.rows {
            out += &line(row.iter().map(String::as_str).collect());
        }
        out
    }

    /// Aligned plain text, each cell cut to `max_width` characters, its control characters
    /// escaped (`super::units::plain`): a cell cannot break the terminal.
    pub fn text(&self, max_width: usize) -> String {
        let cut = |s: &str| -> String {
            let s = super::units::plain(s);
            if s.chars().count() <= max_width {
                s.to_string()
            } else {
                s.chars().take(max_width - 1).chain(['…']).collect()
            }
        };
        let cells: Vec<Vec<String>> =
            std::iter::once(self.columns.iter().map(|c| cut(&c.0)).collect())
                .chain(self.rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()))
                .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &cells {
            let parts: Vec<String> = row
                .iter()
                .zip(&self.columns)
                .zip(&widths)
                .map(|((cell, col), &w)| {
                    if col.1 == Align::Right {
                        format!("{cell:>w$}")
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            out += parts.join("  ").trim_end();
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts() {
        let mut t = Table::new(&[("name", Align::Left), ("ms", Align::Right)]);
        t.row(vec!["a".into(), "1.000".into()]);
        t.row(vec!["longer name".into(), "10.000".into()]);
        assert_eq!(
            t.markdown(),
            "| name | ms |\n| --- | ---: |\n| a | 1.000 |\n| longer name | 10.000 |\n"
        );
        assert_eq!(
            t.text(8),
            "name          ms\na          1.000\nlonger …  10.000\n"
        );
    }
}
