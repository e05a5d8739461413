//! Result tables: one row per measurement, typed columns with units. Every table can be
//! written as CSV, as JSON row objects, as an aligned terminal table, as Markdown and as HTML.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One column: a machine name (CSV header / JSON key), its unit ("" if none) and a one-line
/// description used in the README and the HTML report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub unit: String,
    pub description: String,
}

/// A row that does not fit its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("table `{table}`: a row has {got} values for {expected} columns")]
    RowLength {
        table: String,
        expected: usize,
        got: usize,
    },
    #[error("table `{table}`: a `{row}` does not have the table's columns")]
    RowType { table: String, row: &'static str },
}

/// A typed table row: its columns and its values, in the same order. Declare row types with
/// [`table_row!`](crate::table::table_row), which derives both from one list of fields, so a
/// value can only land in its own column and a wrong column is a compile error.
pub trait Row {
    /// (name, unit, description) of each column, in field order.
    const COLUMNS: &'static [(&'static str, &'static str, &'static str)];
    /// The field values, in field order.
    fn values(&self) -> Vec<Value>;
}

/// Declares a row struct (`pub` fields) and its [`Row`] impl from one list of
/// `field: Type => ("unit", "description")`; the field name is the column name. The form
/// `impl Row for Type { field => ("unit", "description"), ... }` makes an existing struct
/// (e.g. a report row of another crate) a row with those of its fields as columns.
macro_rules! table_row {
    (
        impl Row for $name:path {
            $($field:ident => ($unit:expr, $desc:expr)),* $(,)?
        }
    ) => {
        impl $crate::table::Row for $name {
            const COLUMNS: &'static [(&'static str, &'static str, &'static str)] =
                &[$((stringify!($field), $unit, $desc)),*];
            fn values(&self) -> Vec<serde_json::Value> {
                vec![$(serde_json::json!(self.$field)),*]
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($field:ident : $ty:ty => ($unit:expr, $desc:expr)),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name {
            $(pub $field: $ty,)*
        }

        impl $crate::table::Row for $name {
            const COLUMNS: &'static [(&'static str, &'static str, &'static str)] =
                &[$((stringify!($field), $unit, $desc)),*];
            fn values(&self) -> Vec<serde_json::Value> {
                vec![$(serde_json::json!(self.$field)),*]
            }
        }
    };
}
pub(crate) use table_row;

/// A named table of JSON values (numbers, strings, booleans, or null for "not applicable").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// `columns`: (name, unit, description).
    pub fn new(name: &str, columns: &[(&str, &str, &str)]) -> Self {
        Table {
            name: name.to_string(),
            columns: columns
                .iter()
                .map(|(n, u, d)| Column {
                    name: n.to_string(),
                    unit: u.to_string(),
                    description: d.to_string(),
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row, one value per column in header order. A row of any other length is
    /// refused (and the table left unchanged), so a table is always rectangular and a missing
    /// or extra value never shifts a column.
    pub fn push(&mut self, row: Vec<Value>) -> Result<(), TableError> {
        if row.len() != self.columns.len() {
            return Err(TableError::RowLength {
                table: self.name.clone(),
                expected: self.columns.len(),
                got: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// An empty table with the columns of row type `R`.
    pub fn of<R: Row>(name: &str) -> Self {
        Table::new(name, R::COLUMNS)
    }

    /// Appends a typed row; refused unless the table has exactly `R`'s columns.
    pub fn push_row<R: Row>(&mut self, row: &R) -> Result<(), TableError> {
        let same = self.columns.len() == R::COLUMNS.len()
            && self
                .columns
                .iter()
                .zip(R::COLUMNS)
                .all(|(c, r)| c.name == r.0);
        if !same {
            return Err(TableError::RowType {
                table: self.name.clone(),
                row: std::any::type_name::<R>(),
            });
        }
        self.push(row.values())
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The value of column `name` in row `row` (None if either is out of range).
    pub fn get(&self, row: usize, name: &str) -> Option<&Value> {
        let c = self.column_index(name)?;
        self.rows.get(row).map(|r| &r[c])
    }

    /// Every value of one column as f64 (None where the value is not a number).
    pub fn column_f64(&self, name: &str) -> Vec<Option<f64>> {
        match self.column_index(name) {
            Some(c) => self.rows.iter().map(|r| r[c].as_f64()).collect(),
            None => Vec::new(),
        }
    }

    /// A table with only the named columns (unknown names are skipped), in the given order.
    pub fn select(&self, names: &[&str]) -> Table {
        let idx: Vec<usize> = names.iter().filter_map(|n| self.column_index(n)).collect();
        Table {
            name: self.name.clone(),
            columns: idx.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
                .collect(),
        }
    }

    /// Rows as JSON objects keyed by column name (the `rows` of `results.json`).
    pub fn row_objects(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (c, v) in self.columns.iter().zip(r) {
                    m.insert(c.name.clone(), v.clone());
                }
                Value::Object(m)
            })
            .collect()
    }

    /// `{"name", "columns": [...], "rows": [{col: value}, ...]}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "columns": self.columns,
            "rows": self.row_objects(),
        })
    }

    /// RFC 4180 CSV with a header line; null is written as an empty field.
    pub fn to_csv(&self) -> String {
        let mut s = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(&c.name)).collect();
        s.push_str(&header.join(","));
        s.push('\n');
        for r in &self.rows {
            let fields: Vec<String> = r.iter().map(|v| csv_field(&raw_text(v))).collect();
            s.push_str(&fields.join(","));
            s.push('\n');
        }
        s
    }

    /// An aligned plain-text table for the terminal; at most `max_rows` rows (a final line
    /// says how many were left out). Numbers are right-aligned.
    pub fn to_text(&self, max_rows: usize) -> String {
        let shown = self.rows.len().min(max_rows);
        let header: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let body: Vec<Vec<String>> = self.rows[..shown]
            .iter()
            .map(|r| r.iter().map(display_text).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &body {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|c| {
                self.rows[..shown]
                    .iter()
                    .all(|r| r[c].is_number() || r[c].is_null())
            })
            .collect();
        let mut s = String::new();
        let fmt_line = |cells: &[String], s: &mut String| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if numeric[i] {
                        format!("{:>w$}", c, w = widths[i])
                    } else {
                        format!("{:<w$}", c, w = widths[i])
                    }
                })
                .collect();
            s.push_str("  ");
            s.push_str(parts.join("  ").trim_end());
            s.push('\n');
        };
        fmt_line(&header, &mut s);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        s.push_str("  ");
        s.push_str(&rule.join("  "));
        s.push('\n');
        for r in &body {
            fmt_line(r, &mut s);
        }
        if self.rows.len() > shown {
            s.push_str(&format!(
                "  ... {} more rows (see the CSV)\n",
                self.rows.len() - shown
            ));
        }
        s
    }

    /// A Markdown table (at most `max_rows` rows).
    pub fn to_markdown(&self, max_rows: usize) -> String {
        let mut s = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| md_escape(&c.name)).collect();
        s.push_str(&format!("| {} |\n", header.join(" | ")));
        s.push_str(&format!(
            "|{}\n",
            self.columns.iter().map(|_| "---|").collect::<String>()
        ));
        for r in self.rows.iter().take(max_rows) {
            let cells: Vec<String> = r.iter().map(|v| md_escape(&display_text(v))).collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        if self.rows.len() > max_rows {
            s.push_str(&format!(
                "\n({} more rows in the CSV file.)\n",
                self.rows.len() - max_rows
            ));
        }
        s
    }

    /// An HTML `<table>` (at most `max_rows` rows), column descriptions as header tooltips.
    pub fn to_html(&self, max_rows: usize) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for c in &self.columns {
            let unit = if c.unit.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"unit\">[{}]</span>", html_escape(&c.unit))
            };
            s.push_str(&format!(
                "<th title=\"{}\">{}{}</th>",
                html_escape(&c.description),
                html_escape(&c.name),
                unit
            ));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for r in self.rows.iter().take(max_rows) {
            s.push_str("<tr>");
            for v in r {
                let class = if v.is_number() { " class=\"num\"" } else { "" };
                s.push_str(&format!(
                    "<td{}>{}</td>",
                    class,
                    html_escape(&display_text(v))
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        if self.rows.len() > max_rows {
            s.push_str(&format!(
                "<p class=\"note\">{} more rows in <code>{}.csv</code>.</p>\n",
                self.rows.len() - max_rows,
                html_escape(&self.name)
            ));
        }
        s
    }
}

/// The exact text of a value (CSV): numbers in full precision, null as empty.
fn raw_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A short human text of a value: floats with 4 significant digits, null as "–".
pub fn display_text(v: &Value) -> String {
    match v {
        Value::Null => "–".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if n.is_f64() {
                fmt_sig(n.as_f64().unwrap_or(f64::NAN))
            } else {
                n.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A float with about 4 significant digits (scientific notation outside 1e-3..1e6).
pub fn fmt_sig(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Table {
        let mut t = Table::new(
            "t",
            &[
                ("name", "", "a name"),
                ("n", "nodes", "size"),
                ("x", "s", "time"),
            ],
        );
        t.push(vec![json!("a,b"), json!(3), json!(0.5)]).unwrap();
        t.push(vec![json!("c"), json!(10), Value::Null]).unwrap();
        t
    }

    #[test]
    fn csv_quotes_and_nulls() {
        let csv = sample().to_csv();
        assert_eq!(csv, "name,n,x\n\"a,b\",3,0.5\nc,10,\n");
    }

    #[test]
    fn rows_of_the_wrong_length_are_refused() {
        let mut t = sample();
        let short = t.push(vec![json!("d")]).unwrap_err();
        assert_eq!(
            short,
            TableError::RowLength {
                table: "t".into(),
                expected: 3,
                got: 1
            }
        );
        assert_eq!(
            short.to_string(),
            "table `t`: a row has 1 values for 3 columns"
        );
        let long = vec![json!("e"), json!(1), json!(2.0), json!(3)];
        assert!(t.push(long).is_err());
        assert_eq!(t.rows.len(), 2, "a refused row is not appended");
    }

    table_row! {
        /// A row of the sample table.
        struct SampleRow {
            name: String => ("", "a name"),
            n: usize => ("nodes", "size"),
            x: Option<f64> => ("s", "time"),
        }
    }

    #[test]
    fn typed_rows_fill_their_own_columns() {
        let mut t = Table::of::<SampleRow>("t");
        assert_eq!(
            t,
            Table {
                rows: vec![],
                ..sample()
            }
        );
        for (name, n, x) in [("a,b", 3, Some(0.5)), ("c", 10, None)] {
            let row = SampleRow {
                name: name.into(),
                n,
                x,
            };
            t.push_row(&row).unwrap();
        }
        assert_eq!(t, sample());
        // a table with other columns refuses the row type
        let mut other = Table::new("o", &[("n", "", ""), ("name", "", ""), ("x", "", "")]);
        let row = SampleRow {
            name: "d".into(),
            n: 1,
            x: None,
        };
        assert!(matches!(
            other.push_row(&row),
            Err(TableError::RowType { .. })
        ));
        assert!(other.rows.is_empty());
    }

    #[test]
    fn text_table_aligns_numbers_right() {
        let text = sample().to_text(10);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        // the `n` column is right-aligned: "3" ends where "10" ends
        let p3 = lines[2].find(" 3 ").unwrap() + 1;
        let p10 = lines[3].find("10").unwrap() + 1;
        assert_eq!(p3, p10);
        assert!(sample().to_text(1).contains("1 more rows"));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(fmt_sig(0.123456), "0.1235");
        assert_eq!(fmt_sig(1234.6), "1235");
        assert_eq!(fmt_sig(2.0), "2");
        assert_eq!(fmt_sig(1.5e7), "1.500e7");
    }

    #[test]
    fn html_is_escaped() {
        let h = sample().to_html(5);
        assert!(h.contains("<td>a,b</td>"));
        assert_eq!(html_escape("<a&\">"), "&lt;a&amp;&quot;&gt;");
    }
}
