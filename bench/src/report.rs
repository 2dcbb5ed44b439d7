//! Tables for the report: the same rows printed aligned for the terminal and as Markdown for
//! `target/bench-report.md`.

/// A table of text cells; numbers are right-aligned in the terminal form.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are left empty, extra ones dropped).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Columns padded to line up; cells that look like numbers are right-aligned.
    pub fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.headers[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, &w)| {
                    if looks_numeric(cell) {
                        format!("{cell:>w$}")
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        out += &line(&rule);
        for row in &self.rows {
            out += &line(row);
        }
        out
    }

    /// A GitHub-flavoured Markdown table; numeric columns right-aligned.
    pub fn to_markdown(&self) -> String {
        let escape = |cell: &str| cell.replace('|', "\\|");
        let numeric: Vec<bool> = (0..self.headers.len())
            .map(|c| !self.rows.is_empty() && self.rows.iter().all(|r| looks_numeric(&r[c])))
            .collect();
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| escape(h)).collect();
        out += &format!("| {} |\n", headers.join(" | "));
        let align: Vec<&str> = numeric
            .iter()
            .map(|&n| if n { "---:" } else { "---" })
            .collect();
        out += &format!("|{}|\n", align.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out
    }
}

/// `12`, `-3.5`, `0.52x`, `1.2e9`, `n/a`: things to right-align.
fn looks_numeric(cell: &str) -> bool {
    let cell = cell.trim_end_matches(['x', '%']);
    cell == "n/a" || cell == "-" || (!cell.is_empty() && cell.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_markdown() {
        let mut t = Table::new(["job", "MiB/s", "ratio"]);
        t.row(["wordcount", "12.5", "0.52x"]);
        t.row(["inverted-index", "7.0", "n/a"]);
        assert_eq!(
            t.to_text(),
            "job             MiB/s  ratio\n\
             --------------  -----  -----\n\
             wordcount        12.5  0.52x\n\
             inverted-index    7.0    n/a\n"
        );
        assert_eq!(
            t.to_markdown(),
            "| job | MiB/s | ratio |\n|---|---:|---:|\n\
             | wordcount | 12.5 | 0.52x |\n| inverted-index | 7.0 | n/a |\n"
        );
    }
}
