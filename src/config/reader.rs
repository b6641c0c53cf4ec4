//! Small helpers for turning [`Node`]s into typed values while collecting
//! diagnostics instead of stopping at the first problem.
//!
//! Owns: [`Ctx`] (the diagnostic sink), mapping views with unknown-key
//! detection ([`Obj`]) and the "parse this scalar or report it here" helper.
//! Imports nothing from api/store/dispatch/delivery/plugins.

use super::yaml::{key_path, Entry, Kind, Node, Pos};
use super::{Diagnostic, DiagnosticCode};

/// Collects diagnostics for one config file.
pub(crate) struct Ctx {
    file: String,
    pub diags: Vec<Diagnostic>,
}

impl Ctx {
    pub fn new(file: &str) -> Ctx {
        Ctx {
            file: file.to_string(),
            diags: Vec::new(),
        }
    }

    /// The file name diagnostics carry.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Records one problem at `pos` for the field at `path`.
    pub fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.push(pos, path, message.into(), None);
    }

    /// Like [`Ctx::error`], for a problem of a kind callers act on (see [`DiagnosticCode`]).
    pub fn error_coded(
        &mut self,
        pos: Pos,
        path: &str,
        code: DiagnosticCode,
        message: impl Into<String>,
    ) {
        self.push(pos, path, message.into(), Some(code));
    }

    fn push(&mut self, pos: Pos, path: &str, message: String, code: Option<DiagnosticCode>) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            path: path.to_string(),
            message,
            code,
        });
    }

    /// Views `node` as a mapping whose keys must be among `known`; unknown
    /// keys are reported. A null node is an empty mapping.
    pub fn object<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Obj<'n>> {
        let obj = self.map(node, path)?;
        for e in obj.entries {
            if !known.contains(&e.key.as_str()) {
                self.unknown_key(e, path, known);
            }
        }
        Some(obj)
    }

    /// Reports entry `e` of the mapping at `path` as an unknown key, listing `known`.
    pub fn unknown_key(&mut self, e: &Entry, path: &str, known: &[&str]) {
        let msg = format!(
            "unknown key `{}` (expected one of: {})",
            e.key,
            known.join(", ")
        );
        self.error(e.key_pos, &key_path(path, &e.key), msg);
    }

    /// Views `node` as a mapping with free-form keys (plugin names, header
    /// names). A null node is an empty mapping.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str) -> Option<Obj<'n>> {
        let entries: &'n [Entry] = match &node.kind {
            Kind::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a mapping, got {}", describe(node)),
                );
                return None;
            }
        };
        Some(Obj {
            node,
            path: path.to_string(),
            entries,
        })
    }

    /// Views `node` as a list; null is an empty list.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a list, got {}", describe(node)),
                );
                None
            }
        }
    }

    /// The text of a scalar. `None` (already reported) for lists, mappings
    /// and scalars whose interpolation failed.
    pub fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar(s) if s.failed => None,
            Kind::Scalar(s) => Some(s.text.clone()),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a single value, got {}", describe(node)),
                );
                None
            }
        }
    }

    /// Parses a scalar with `parse`, reporting its error message at the node.
    pub fn value<T>(
        &mut self,
        node: &Node,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(node, path)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(node.pos, path, msg);
                None
            }
        }
    }

    /// Parses member `key` of `obj` if present and not null.
    pub fn field<T>(
        &mut self,
        obj: &Obj,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let node = obj.get(key)?;
        self.value(node, &obj.path_of(key), parse)
    }

    /// Like [`Ctx::field`], writing the result into `slot` when it parses.
    pub fn set<T>(
        &mut self,
        slot: &mut T,
        obj: &Obj,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) {
        if let Some(v) = self.field(obj, key, parse) {
            *slot = v;
        }
    }

    /// A required member: reports "missing" at the mapping when absent, or
    /// "empty" at the value when it is null.
    pub fn required<'n>(&mut self, obj: &Obj<'n>, key: &str) -> Option<&'n Node> {
        let node = obj.get(key);
        if node.is_none() {
            let path = obj.path_of(key);
            match obj.entry(key) {
                Some(e) => self.error(e.value.pos, &path, format!("`{key}` must not be empty")),
                None => self.error(obj.node.pos, &path, format!("missing required key `{key}`")),
            }
        }
        node
    }
}

/// A mapping whose unknown keys have already been reported.
pub(crate) struct Obj<'n> {
    pub node: &'n Node,
    pub path: String,
    entries: &'n [Entry],
}

impl<'n> Obj<'n> {
    /// The value of `key`, or `None` when it is absent or null.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.value).filter(|n| !n.is_null())
    }

    /// The whole entry for `key` (to report at the key itself).
    pub fn entry(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &'n [Entry] {
        self.entries
    }

    /// The diagnostic path of member `key`.
    pub fn path_of(&self, key: &str) -> String {
        key_path(&self.path, key)
    }
}

/// A short description of a node for "expected X, got Y" messages.
fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Scalar(s) => format!("{:?}", s.text),
        Kind::Seq(_) => "a list".to_string(),
        Kind::Map(_) => "a mapping".to_string(),
    }
}
