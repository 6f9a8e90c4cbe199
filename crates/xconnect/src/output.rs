//! Output for people (aligned tables, key/value blocks) and for scripts (`--output json`: the
//! resource itself as one JSON object).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Prints a resource: as JSON, or as `key: value` lines of its top-level fields.
pub fn print_object<T: Serialize>(format: Format, v: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(v)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        Format::Table => {
            let Some(map) = value.as_object() else {
                println!("{value}");
                return Ok(());
            };
            let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, v) in map {
                println!("{k:<width$}  {}", cell(v));
            }
        }
    }
    Ok(())
}

/// Prints a list: as the JSON object holding it, or as a table of `columns`.
pub fn print_list<T: Serialize>(
    format: Format,
    whole: &T,
    items: &[serde_json::Value],
    columns: &[&str],
) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(whole)?),
        Format::Table => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|it| columns.iter().map(|c| cell(&it[*c])).collect())
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([c.len()])
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
            line(columns.iter().map(|c| c.to_uppercase()).collect());
            for r in rows {
                line(r);
            }
            if items.is_empty() {
                println!("(none)");
            }
        }
    }
    Ok(())
}

fn cell(v: &serde_json::Value) -> String {
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
