//! What an experiment produces and how it is written: `DIR/EXPERIMENT/{results.json,
//! results.csv, <table>.csv, <plot>.svg, README.md}` per experiment and one self-contained
//! `DIR/index.html` (inline SVG, inline CSS, no scripts, no network).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::table::{html_escape, Table};
use crate::{ExperimentId, LabError};

/// Whether an experiment produced numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    /// The experiment could not run (a crate it needs is missing a capability, no checkpoint
    /// was given, ...). The reason is printed and written; no numbers are invented.
    NotAvailable(String),
}

/// A rendered plot: file name (`steps.svg`), a caption, and the SVG text.
#[derive(Clone, Debug)]
pub struct Plot {
    pub file_name: String,
    pub caption: String,
    pub svg: String,
}

/// Everything one experiment run produced.
#[derive(Clone, Debug)]
pub struct ExperimentResult {
    pub id: ExperimentId,
    pub status: Status,
    pub quick: bool,
    /// The parameters of the run (sizes, seeds, limits, data files).
    pub params: Value,
    /// The main table (`results.csv`, the `rows` of `results.json`).
    pub table: Table,
    /// Further tables (`<name>.csv`, under `tables` in `results.json`).
    pub extra_tables: Vec<Table>,
    pub plots: Vec<Plot>,
    /// Paragraphs of interpretation, generated from the numbers.
    pub interpretation: Vec<String>,
    /// Headline numbers for `--json` summaries and the terminal.
    pub summary: serde_json::Map<String, Value>,
    pub elapsed_s: f64,
    /// Columns of the main table shown in the terminal summary (empty = all).
    pub terminal_columns: Vec<&'static str>,
}

impl ExperimentResult {
    /// An experiment that could not run, with the reason.
    pub fn not_available(id: ExperimentId, quick: bool, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ExperimentResult {
            id,
            status: Status::NotAvailable(reason.clone()),
            quick,
            params: json!({}),
            table: Table::new("results", &[]),
            extra_tables: Vec::new(),
            plots: Vec::new(),
            interpretation: vec![format!("Not available: {reason}.")],
            summary: serde_json::Map::new(),
            elapsed_s: 0.0,
            terminal_columns: Vec::new(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The content of `results.json`.
    pub fn to_json(&self) -> Value {
        let (status, reason) = match &self.status {
            Status::Ok => ("ok", Value::Null),
            Status::NotAvailable(r) => ("not_available", Value::String(r.clone())),
        };
        let tables: serde_json::Map<String, Value> = self
            .extra_tables
            .iter()
            .map(|t| (t.name.clone(), t.to_json()))
            .collect();
        json!({
            "experiment": self.id.name(),
            "title": self.id.title(),
            "status": status,
            "reason": reason,
            "quick": self.quick,
            "params": self.params,
            "elapsed_s": self.elapsed_s,
            "summary": self.summary,
            "interpretation": self.interpretation,
            "columns": self.table.columns,
            "rows": self.table.row_objects(),
            "tables": tables,
            "plots": self.plots.iter().map(|p| p.file_name.clone()).collect::<Vec<_>>(),
        })
    }

    /// The content of the experiment's `README.md`.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("# {} (`{}`)\n\n", self.id.title(), self.id.name());
        s.push_str(self.id.description());
        s.push_str("\n\n");
        if let Status::NotAvailable(r) = &self.status {
            s.push_str(&format!("**Not available:** {r}.\n"));
            return s;
        }
        s.push_str(&format!(
            "Mode: {}. Run time: {:.1} s. Parameters: `{}`.\n\n## What the numbers say\n\n",
            if self.quick { "quick" } else { "full" },
            self.elapsed_s,
            self.params
        ));
        for p in &self.interpretation {
            s.push_str(p);
            s.push_str("\n\n");
        }
        s.push_str("## Results (`results.csv`)\n\n");
        s.push_str(&self.table.to_markdown(60));
        s.push_str("\nColumns:\n\n");
        for c in &self.table.columns {
            let unit = if c.unit.is_empty() {
                String::new()
            } else {
                format!(" [{}]", c.unit)
            };
            s.push_str(&format!("- `{}`{}: {}\n", c.name, unit, c.description));
        }
        for t in &self.extra_tables {
            s.push_str(&format!("\n## `{}.csv`\n\n", t.name));
            s.push_str(&t.to_markdown(40));
        }
        if !self.plots.is_empty() {
            s.push_str("\n## Plots\n\n");
            for p in &self.plots {
                s.push_str(&format!("![{}]({})\n\n", p.caption, p.file_name));
            }
        }
        s
    }

    /// Writes `dir/<experiment>/...` and returns that folder.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, LabError> {
        let sub = dir.join(self.id.name());
        fs::create_dir_all(&sub).map_err(|e| LabError::io(&sub, e))?;
        let json = serde_json::to_string_pretty(&self.to_json()).expect("JSON values serialise");
        write_atomic(&sub.join("results.json"), json.as_bytes())?;
        write_atomic(&sub.join("results.csv"), self.table.to_csv().as_bytes())?;
        for t in &self.extra_tables {
            write_atomic(&sub.join(format!("{}.csv", t.name)), t.to_csv().as_bytes())?;
        }
        for p in &self.plots {
            write_atomic(&sub.join(&p.file_name), p.svg.as_bytes())?;
        }
        write_atomic(&sub.join("README.md"), self.to_markdown().as_bytes())?;
        Ok(sub)
    }
}

/// Writes a file atomically: a temporary file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    superpose_fsutil::write_atomic(path, bytes).map_err(|e| LabError::io(path, e))
}

/// Strips the XML prolog so an SVG document can be inlined in HTML.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;font-size:.85em;margin:1em 0}th,td{border:1px solid #ddd;padding:.2em .5em}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.unit{color:#777;font-weight:normal}.na{color:#a33}.note{color:#666;font-size:.9em}\
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\
code{background:#f5f5f5;padding:0 .2em}";

/// The self-contained HTML report over all experiments that ran.
pub fn index_html(title: &str, intro: &str, results: &[ExperimentResult]) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    s.push_str(&format!("<title>{}</title>\n", html_escape(title)));
    s.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n"));
    s.push_str(&format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        html_escape(title),
        html_escape(intro)
    ));
    s.push_str("<ul>\n");
    for r in results {
        let status = match &r.status {
            Status::Ok => format!("{:.1} s", r.elapsed_s),
            Status::NotAvailable(_) => "not available".into(),
        };
        s.push_str(&format!(
            "<li><a href=\"#{}\">{}</a> ({})</li>\n",
            r.id.name(),
            html_escape(r.id.title()),
            status
        ));
    }
    s.push_str("</ul>\n");
    for r in results {
        s.push_str(&format!(
            "<section id=\"{}\">\n<h2>{} <code>{}</code></h2>\n<p>{}</p>\n",
            r.id.name(),
            html_escape(r.id.title()),
            r.id.name(),
            html_escape(r.id.description())
        ));
        if let Status::NotAvailable(reason) = &r.status {
            s.push_str(&format!(
                "<p class=\"na\"><strong>Not available:</strong> {}.</p>\n</section>\n",
                html_escape(reason)
            ));
            continue;
        }
        s.push_str("<h3>What the numbers say</h3>\n");
        for p in &r.interpretation {
            s.push_str(&format!("<p>{}</p>\n", html_escape(p)));
        }
        for p in &r.plots {
            s.push_str(&format!(
                "<figure>\n{}\n<figcaption>{} (<code>{}/{}</code>)</figcaption>\n</figure>\n",
                inline_svg(&p.svg),
                html_escape(&p.caption),
                r.id.name(),
                html_escape(&p.file_name)
            ));
        }
        s.push_str(&format!(
            "<h3>Results</h3>\n<p class=\"note\">Full data: <code>{}/results.csv</code>, <code>{}/results.json</code>. Parameters: <code>{}</code>.</p>\n",
            r.id.name(),
            r.id.name(),
            html_escape(&r.params.to_string())
        ));
        s.push_str(&r.table.to_html(40));
        for t in &r.extra_tables {
            s.push_str(&format!(
                "<h4><code>{}.csv</code></h4>\n",
                html_escape(&t.name)
            ));
            s.push_str(&t.to_html(30));
        }
        s.push_str("</section>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// Writes every experiment folder and `dir/index.html`; returns the index path.
pub fn write_report(
    dir: &Path,
    title: &str,
    intro: &str,
    results: &[ExperimentResult],
) -> Result<PathBuf, LabError> {
    fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    for r in results {
        r.write(dir)?;
    }
    let index = dir.join("index.html");
    write_atomic(&index, index_html(title, intro, results).as_bytes())?;
    Ok(index)
}
