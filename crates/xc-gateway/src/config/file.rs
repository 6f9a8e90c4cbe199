//! A configuration file: TOML text read into [`ConfigDoc`] (unknown keys refused) and checked
//! by [`GatewayConfig::from_doc`], with every error located at its line. The lines come from
//! `toml_edit`'s spans of the same text: the path a [`FieldError`] carries leads to the value,
//! its key, or the nearest table that exists.

use super::{FieldError, GatewayConfig, Seg};
use std::ops::Range;
use std::path::Path;
use toml_edit::{ImDocument, Item, Table, Value};
use xc_types::gateway::ConfigDoc;

/// A refused configuration file: where, which field, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the error has no place in the text (it could not be read).
    pub line: usize,
    pub field: String,
    pub message: String,
}

pub(super) fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        field: "-".into(),
        message: e.to_string(),
    })?;
    parse(&file, &text, path.parent())
}

pub(super) fn parse(
    file: &str,
    text: &str,
    base: Option<&Path>,
) -> Result<GatewayConfig, ConfigError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let syntax = |e: &dyn SpannedError| ConfigError {
        file: file.to_owned(),
        line: e.span().map_or(0, |s| line_of(s.start)),
        field: "-".into(),
        message: e.message().trim().to_owned(),
    };
    let spans = ImDocument::parse(text).map_err(|e| syntax(&e))?;
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let doc: ConfigDoc = serde_ignored::deserialize(toml::Deserializer::new(text), |p| {
        unknown.push(segments(&p))
    })
    .map_err(|e| syntax(&e))?;
    // A file for a newer schema is refused as such, before the keys this build does not know.
    let known = xc_types::gateway::SCHEMA_VERSION;
    if doc.schema == 0 || doc.schema > known {
        return Err(ConfigError {
            file: file.to_owned(),
            line: locate(spans.as_table(), &[Seg::Key("schema")]).map_or(0, |s| line_of(s.start)),
            field: "schema".into(),
            message: format!(
                "this gateway reads configuration schema 1 to {known}, not {}",
                doc.schema
            ),
        });
    }
    if let Some(path) = unknown.first() {
        let key = match path.last() {
            Some(Seg::Key(k)) => (*k).to_owned(),
            _ => "?".to_owned(),
        };
        return Err(ConfigError {
            file: file.to_owned(),
            line: locate(spans.as_table(), path).map_or(0, |s| line_of(s.start)),
            field: dotted(path),
            message: format!("unknown field `{key}`"),
        });
    }
    GatewayConfig::from_doc(&doc, base).map_err(|e: FieldError| ConfigError {
        file: file.to_owned(),
        line: locate(spans.as_table(), &e.path).map_or(0, |s| line_of(s.start)),
        field: e.field,
        message: e.message,
    })
}

/// The errors of the two parsers, which both know where they went wrong.
trait SpannedError {
    fn span(&self) -> Option<Range<usize>>;
    fn message(&self) -> &str;
}

impl SpannedError for toml_edit::TomlError {
    fn span(&self) -> Option<Range<usize>> {
        toml_edit::TomlError::span(self)
    }
    fn message(&self) -> &str {
        toml_edit::TomlError::message(self)
    }
}

impl SpannedError for toml::de::Error {
    fn span(&self) -> Option<Range<usize>> {
        toml::de::Error::span(self)
    }
    fn message(&self) -> &str {
        toml::de::Error::message(self)
    }
}

/// The path serde_ignored reports, as our segments. Keys outside the schema are leaked into
/// `'static` strings: there are only ever a few, and the gateway exits on the first.
fn segments(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    let mut out = match p {
        serde_ignored::Path::Root => return Vec::new(),
        serde_ignored::Path::Seq { parent, .. }
        | serde_ignored::Path::Map { parent, .. }
        | serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => segments(parent),
    };
    match p {
        serde_ignored::Path::Seq { index, .. } => out.push(Seg::Index(*index)),
        serde_ignored::Path::Map { key, .. } => {
            out.push(Seg::Key(Box::leak(key.clone().into_boxed_str())))
        }
        _ => {}
    }
    out
}

/// `link[0].colour`
fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Where a path leads in the text: the value, else the key of the deepest table on the way.
fn locate(root: &Table, path: &[Seg]) -> Option<Range<usize>> {
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Table(&'a Table),
        Item(&'a Item),
        Value(&'a Value),
    }
    let mut node = Node::Table(root);
    let mut best = root.span();
    for seg in path {
        let value: Option<&Value> = match node {
            Node::Item(Item::Value(v)) | Node::Value(v) => Some(v),
            _ => None,
        };
        let next = match (node, seg, value) {
            (_, Seg::Index(i), Some(Value::Array(a))) => a.get(*i).map(Node::Value),
            (_, Seg::Key(k), Some(Value::InlineTable(t))) => t.get(k).map(Node::Value),
            (Node::Table(t), Seg::Key(k), _) | (Node::Item(Item::Table(t)), Seg::Key(k), _) => {
                if let Some(key) = t.key(k) {
                    best = key.span().or(best);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i), _) => a.get(*i).map(Node::Table),
            _ => None,
        };
        let Some(next) = next else { break };
        let span = match next {
            Node::Table(t) => t.span(),
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
        };
        best = span.or(best);
        node = next;
    }
    best
}
