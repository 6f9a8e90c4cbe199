//! Output for people (aligned tables, key/value blocks) and for scripts (`--output json`: the
//! resource itself as one JSON object).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// Comma-separated values: a list's columns with a heading row (RFC 4180 quoting); a
    /// resource as `field,value` rows.
    Csv,
    /// A command's plain-text export where it has one (`flow-log query`: VPC Flow Logs lines);
    /// elsewhere the same as `table`.
    Text,
}

impl Format {
    /// Whether the output is for people: a table (or text where a command has no export).
    pub fn for_people(self) -> bool {
        matches!(self, Self::Table | Self::Text)
    }
}

/// Prints a resource: as JSON, or as `key: value` lines of its top-level fields.
pub fn print_object<T: Serialize>(format: Format, v: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(v)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        Format::Table | Format::Text => {
            let Some(map) = value.as_object() else {
                println!("{value}");
                return Ok(());
            };
            let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, v) in map {
                println!("{k:<width$}  {}", cell(v));
            }
        }
        Format::Csv => {
            println!("field,value");
            if let Some(map) = value.as_object() {
                for (k, v) in map {
                    println!("{},{}", csv_cell(k), csv_cell(&cell(v)));
                }
            }
        }
    }
    Ok(())
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One CSV row.
pub fn csv_row<S: AsRef<str>>(cells: &[S]) -> String {
    cells
        .iter()
        .map(|c| csv_cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A column of a table: its heading and what it shows of an item. Each table's columns are
/// declared once, with [`columns!`], and the heading and the cells both come from there.
pub struct Column<T> {
    pub name: &'static str,
    pub value: fn(&T) -> serde_json::Value,
}

/// `columns![Type; "heading" => |item| json!(...), ...]`
macro_rules! columns {
    ($t:ty; $($name:literal => $f:expr),* $(,)?) => {
        &[$($crate::output::Column::<$t> { name: $name, value: $f }),*]
    };
}
pub(crate) use columns;

/// Prints a list: as the JSON object holding it, or as a table of `columns` of `items`.
pub fn print_list<W: Serialize, T>(
    format: Format,
    whole: &W,
    items: &[T],
    columns: &[Column<T>],
) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(whole)?),
        Format::Table | Format::Text => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|it| columns.iter().map(|c| cell(&(c.value)(it))).collect())
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([c.name.len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: Vec<String>| {
                let s: Vec<String> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                    .collect();
                println!("{}", s.join("  ").trim_end());
            };
            line(columns.iter().map(|c| c.name.to_uppercase()).collect());
            for r in rows {
                line(r);
            }
            if items.is_empty() {
                println!("(none)");
            }
        }
        Format::Csv => {
            let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
            println!("{}", csv_row(&names));
            for it in items {
                let cells: Vec<String> = columns.iter().map(|c| cell(&(c.value)(it))).collect();
                println!("{}", csv_row(&cells));
            }
        }
    }
    Ok(())
}

pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        serde_json::Value::Object(o) if o.contains_key("code") && o.contains_key("message") => {
            format!("{}: {}", cell(&o["code"]), cell(&o["message"]))
        }
        other => other.to_string(),
    }
}
