//! Where each value of a chain entry's `config` sits in the file, so a problem a plugin reports
//! by JSON pointer (`/rules/1/op`) becomes a positioned [`Diagnostic`]:
//! `hookgate.yaml:14:19: endpoints[2].plugins[0].config.rules[1].op: unknown op "eq"`.

use super::yaml::{index_path, key_path, Kind, Node, Pos};
use super::Diagnostic;

/// Positions of one `config` value's nodes, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct ConfigSpans {
    file: String,
    /// Field path of the `config` key itself, e.g. `endpoints[2].plugins[0].config`.
    path: String,
    /// Where the chain entry is, for a config that is absent.
    entry: (usize, usize),
    /// (pointer, field path below `config`, line, column), in document order.
    nodes: Vec<(String, String, usize, usize)>,
}

/// Positions are not part of a config's meaning: an endpoint whose plugin config moved down a
/// line has not changed (config diffs compare endpoints with `==`).
impl PartialEq for ConfigSpans {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ConfigSpans {
    /// Records `config` (if present) at field path `path`, for the chain entry at `entry`.
    pub(crate) fn new(file: &str, path: &str, entry: Pos, config: Option<&Node>) -> ConfigSpans {
        let mut spans = ConfigSpans {
            file: file.to_string(),
            path: path.to_string(),
            entry: (entry.line, entry.column),
            nodes: Vec::new(),
        };
        if let Some(node) = config {
            spans.walk(node, String::new(), String::new());
        }
        spans
    }

    fn walk(&mut self, node: &Node, pointer: String, path: String) {
        self.nodes.push((
            pointer.clone(),
            path.clone(),
            node.pos.line,
            node.pos.column,
        ));
        match &node.kind {
            Kind::Scalar(_) => {}
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, format!("{pointer}/{i}"), index_path(&path, i));
                }
            }
            Kind::Map(entries) => {
                for e in entries {
                    let escaped = e.key.replace('~', "~0").replace('/', "~1");
                    self.walk(
                        &e.value,
                        format!("{pointer}/{escaped}"),
                        key_path(&path, &e.key),
                    );
                }
            }
        }
    }

    /// The diagnostic for a problem at `pointer`: positioned at the deepest recorded node on
    /// the pointer's way (a pointer to a missing member lands on its parent object), with the
    /// whole field path.
    pub fn diagnostic(&self, pointer: &str, message: &str) -> Diagnostic {
        let found = (self.nodes.iter().rev())
            .find(|(p, ..)| pointer == p || pointer.starts_with(&format!("{p}/")) || p.is_empty());
        let (p, path, line, column) = match found {
            Some((p, path, line, column)) => (p.as_str(), path.clone(), *line, *column),
            None => ("", String::new(), self.entry.0, self.entry.1),
        };
        let below = (pointer
            .get(p.len()..)
            .unwrap_or_default()
            .split('/')
            .skip(1))
        .map(|seg| seg.replace("~1", "/").replace("~0", "~"))
        .fold(path, |acc, seg| key_path(&acc, &seg));
        let path = match below.as_str() {
            "" => self.path.clone(),
            b if b.starts_with('[') => format!("{}{b}", self.path),
            b => key_path(&self.path, b),
        };
        Diagnostic {
            file: self.file.clone(),
            line,
            column,
            path,
            message: message.to_string(),
            code: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::reader::Ctx;

    fn spans(yaml: &str) -> ConfigSpans {
        let mut ctx = Ctx::new("f.yaml");
        let root = crate::config::yaml::parse(yaml, &mut ctx).unwrap();
        ConfigSpans::new(
            "f.yaml",
            "endpoints[0].plugins[1].config",
            Pos::START,
            Some(&root),
        )
    }

    #[test]
    fn a_pointer_lands_on_its_node_with_the_whole_field_path() {
        let s = spans("format: xml\nrules:\n  - {path: /a, op: eq}\n");
        let d = s.diagnostic("/rules/0/op", "unknown op");
        assert_eq!((d.line, d.column), (3, 20));
        assert_eq!(d.path, "endpoints[0].plugins[1].config.rules[0].op");
        assert_eq!(
            d.to_string(),
            "f.yaml:3:20: endpoints[0].plugins[1].config.rules[0].op: unknown op"
        );
    }

    #[test]
    fn a_missing_member_lands_on_its_parent() {
        let s = spans("format: template\n");
        let d = s.diagnostic("/body", "required");
        assert_eq!(
            (d.line, d.column, d.path.as_str()),
            (1, 1, "endpoints[0].plugins[1].config.body")
        );
    }

    #[test]
    fn the_whole_config_and_an_absent_config() {
        let d = spans("[1, 2]").diagnostic("", "expected an object");
        assert_eq!(d.path, "endpoints[0].plugins[1].config");
        let absent = ConfigSpans::new(
            "f.yaml",
            "plugins[0].config",
            Pos { line: 7, column: 5 },
            None,
        );
        let d = absent.diagnostic("/paths", "required");
        assert_eq!(
            (d.line, d.column, d.path.as_str()),
            (7, 5, "plugins[0].config.paths")
        );
    }
}
