//! What client commands print: aligned tables and `key  value` blocks for people, the raw JSON
//! answer for scripts (`--json`), and the small cell formatters they share.
//!
//! Every renderer returns a `String` rather than printing, so the layout is unit-tested without
//! a server; [`emit`] and [`emit_page`] are the only places that write to stdout.

use serde_json::Value;

/// Columns are separated by this many spaces: enough to read, narrow enough for 80 columns.
const GAP: usize = 2;

/// A table of text cells, rendered with every column padded to its widest cell.
///
/// Why not a crate: the tables are small, plain ASCII layout is all we need, and the CLI's
/// output format stays under our control (no borders, no colours, easy to `grep`/`cut`).
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers (upper case by convention, like `kubectl`).
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds one row; missing cells render empty and extra cells are dropped, so a row can never
    /// shift the columns after it.
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The header line and one line per row, columns aligned, no trailing spaces.
    /// Widths count characters, not bytes, so `→` or accented names do not skew the layout.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str(&" ".repeat(GAP));
                }
                text.push_str(cell);
                text.push_str(&" ".repeat(w - cell.chars().count()));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key  value` lines with the values aligned: the readable form of one object (`get`).
/// Pairs whose value is empty are skipped, so optional fields do not leave blank lines.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        let pad = " ".repeat(width - k.chars().count() + GAP);
        out.push_str(&format!("{k}{pad}{v}\n"));
    }
    out
}

/// One field of a JSON object as text: `key` or a JSON pointer (`/attempts/succeeded`).
/// Missing and null read `-` so a column never looks shifted; string arrays are comma-joined.
pub fn cell(v: &Value, key: &str) -> String {
    let found = if key.starts_with('/') {
        v.pointer(key)
    } else {
        v.get(key)
    };
    match found {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Shortens `s` to at most `max` characters, ending in `…` when cut: long URLs and error
/// messages would otherwise push every other column off the screen (`--json` has them whole).
pub fn trunc(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A 0..1 ratio as a percentage with one decimal (`0.9912` → `99.1%`); null reads `-`
/// (the API sends null when there were no attempts, which is not the same as 0%).
pub fn percent(v: &Value) -> String {
    match v.as_f64() {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "-".into(),
    }
}

/// A number of seconds as a short age (`45s`, `3m12s`, `2h05m`, `3d04h`); null reads `-`.
pub fn age(v: &Value) -> String {
    let Some(s) = v.as_f64().map(|f| f.max(0.0) as u64) else {
        return "-".into();
    };
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The line that tells people how to get the next page, when the API says there is one.
pub fn next_cursor_line(page: &Value) -> Option<String> {
    match page.get("next_cursor") {
        Some(Value::String(c)) if !c.is_empty() => Some(format!("next cursor: {c}")),
        _ => None,
    }
}

/// A list page (`{data, next_cursor}`) for people: the table, or `no <noun>` when the page is
/// empty, then the `next cursor:` line when there is more.
pub fn page(v: &Value, noun: &str, to_table: impl FnOnce(&[Value]) -> Table) -> String {
    let items = v["data"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = if items.is_empty() {
        format!("no {noun}\n")
    } else {
        to_table(items).render()
    };
    if let Some(line) = next_cursor_line(v) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Prints the answer: pretty JSON with `--json` (for scripts, unchanged from the server), else
/// the human rendering. The one place client commands write their result to stdout.
pub fn emit(json: bool, v: &Value, human: impl FnOnce(&Value) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print!("{}", human(v));
    }
}

/// [`emit`] for a list page: raw JSON, or [`page`]'s table.
pub fn emit_page(json: bool, v: &Value, noun: &str, to_table: impl FnOnce(&[Value]) -> Table) {
    emit(json, v, |v| page(v, noun, to_table));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns_and_trims_trailing_space() {
        let mut t = Table::new(&["ID", "STATUS", "URL"]);
        t.row(vec!["ep_1".into(), "active".into(), "https://a".into()]);
        t.row(vec!["endpoint-long".into(), "-".into(), "x".into()]);
        assert_eq!(
            t.render(),
            "ID             STATUS  URL\n\
             ep_1           active  https://a\n\
             endpoint-long  -       x\n"
        );
    }

    #[test]
    fn table_counts_characters_not_bytes_and_pads_short_rows() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["→é".into(), "1".into()]);
        t.row(vec!["abc".into()]);
        t.row(vec!["x".into(), "2".into(), "dropped".into()]);
        assert_eq!(t.render(), "A    B\n→é   1\nabc\nx    2\n");
    }

    #[test]
    fn page_shows_table_then_next_cursor() {
        let v = json!({"data": [{"id": "a"}, {"id": "b"}], "next_cursor": "c2"});
        let out = page(&v, "things", |items| {
            let mut t = Table::new(&["ID"]);
            for i in items {
                t.row(vec![cell(i, "id")]);
            }
            t
        });
        assert_eq!(out, "ID\na\nb\nnext cursor: c2\n");
    }

    #[test]
    fn empty_page_says_so_and_null_cursor_is_not_shown() {
        let v = json!({"data": [], "next_cursor": null});
        assert_eq!(page(&v, "endpoints", |_| unreachable!()), "no endpoints\n");
    }

    #[test]
    fn fields_align_and_skip_empty_values() {
        let out = fields(&[
            ("id", "ep_1".into()),
            ("description", String::new()),
            ("max in flight", "64".into()),
        ]);
        assert_eq!(out, "id             ep_1\nmax in flight  64\n");
    }

    #[test]
    fn cells_format_missing_null_arrays_numbers_and_pointers() {
        let v = json!({"s": "x", "n": null, "a": ["a.*", "b"], "k": 3, "o": {"p": 7}});
        assert_eq!(cell(&v, "s"), "x");
        assert_eq!(cell(&v, "n"), "-");
        assert_eq!(cell(&v, "missing"), "-");
        assert_eq!(cell(&v, "a"), "a.*,b");
        assert_eq!(cell(&v, "k"), "3");
        assert_eq!(cell(&v, "/o/p"), "7");
        assert_eq!(cell(&v, "/o/q"), "-");
    }

    #[test]
    fn trunc_percent_and_age() {
        assert_eq!(trunc("abcdef", 4), "abc…");
        assert_eq!(trunc("abc", 4), "abc");
        assert_eq!(percent(&json!(0.9912)), "99.1%");
        assert_eq!(percent(&json!(null)), "-");
        assert_eq!(age(&json!(45)), "45s");
        assert_eq!(age(&json!(192)), "3m12s");
        assert_eq!(age(&json!(7500)), "2h05m");
        assert_eq!(age(&json!(3 * 86_400 + 4 * 3600)), "3d04h");
        assert_eq!(age(&json!(null)), "-");
    }
}
