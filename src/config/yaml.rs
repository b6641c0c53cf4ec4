//! YAML text → a small tree of [`Node`]s that remembers where every node and
//! every mapping key sits in the original text.
//!
//! Owns: the only use of the YAML parser (`saphyr-parser`, an event parser),
//! anchors/aliases, duplicate-key detection and the path syntax used in
//! diagnostics (`endpoints[1].rate`). Keeping positions on the tree is what
//! lets every later stage (interpolation, typing, cross-field validation)
//! report `file:line:column: path`. Like the rest of `config`, this file
//! imports nothing from api/store/dispatch/delivery/plugins.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::reader::Ctx;

/// A 1-based line and column (in characters) in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// The start of the file, used for an empty document.
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// The shape of a node. Mapping keys are always scalars (others are rejected).
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar's text plus what later stages need to type it.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// The value (after `${VAR}` interpolation once that pass has run).
    pub text: String,
    /// Plain (unquoted, untagged) scalars may be null/bool/number in free-form data.
    pub plain: bool,
    /// Interpolation changed the text; such values are kept as strings.
    pub interpolated: bool,
    /// Interpolation failed and was reported; later stages stay silent.
    pub failed: bool,
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// True for YAML null (`~`, `null`, empty) and for a value interpolated to "".
    pub fn is_null(&self) -> bool {
        match &self.kind {
            Kind::Scalar(s) if s.interpolated => s.text.is_empty() && !s.failed,
            Kind::Scalar(s) => {
                s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    fn size(&self) -> usize {
        match &self.kind {
            Kind::Scalar(_) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Kind::Map(entries) => 1 + entries.iter().map(|e| e.value.size()).sum::<usize>(),
        }
    }
}

/// Path of a mapping member: `a.b` (or just `b` at the root).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Path of a sequence item: `a[3]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

const MAX_DEPTH: usize = 64;
/// Nodes an alias may expand to beyond the document's own. Every node written out takes at
/// least a byte of the text, so the budget is this plus the text's length: a config of
/// 100,000 endpoints parses, while an alias bomb ("billion laughs") stops here.
const MAX_ALIAS_NODES: usize = 200_000;

/// Parses `text` into a tree. Syntax errors are fatal (`None`); duplicate or
/// non-scalar keys are reported to `ctx` and skipped. An empty document is an
/// empty mapping.
pub(crate) fn parse(text: &str, ctx: &mut Ctx) -> Option<Node> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        budget: MAX_ALIAS_NODES + text.len(),
        last: Pos::START,
    };
    match b.document(ctx) {
        Ok(node) => Some(node),
        Err(Fatal { pos, message }) => {
            ctx.error(pos, "", message);
            None
        }
    }
}

struct Fatal {
    pos: Pos,
    message: String,
}

impl From<ScanError> for Fatal {
    fn from(e: ScanError) -> Self {
        Fatal {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: format!("YAML syntax error: {}", e.info()),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    budget: usize,
    last: Pos,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Fatal> {
        match self.parser.next() {
            Some(Ok((ev, span))) => {
                self.last = Pos::of(&span);
                Ok((ev, span))
            }
            Some(Err(e)) => Err(e.into()),
            None => Err(self.fatal(self.last, "unexpected end of YAML input")),
        }
    }

    fn fatal(&self, pos: Pos, message: &str) -> Fatal {
        Fatal {
            pos,
            message: message.to_string(),
        }
    }

    fn document(&mut self, ctx: &mut Ctx) -> Result<Node, Fatal> {
        let empty = |pos| Node {
            pos,
            kind: Kind::Map(Vec::new()),
        };
        let root = loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(empty(Pos::START)),
                Event::DocumentStart(_) => {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::DocumentEnd) {
                        break empty(Pos::START);
                    }
                    break self.node(ev, span, "", 0, ctx)?;
                }
                _ => return Err(self.fatal(Pos::of(&span), "unexpected YAML event")),
            }
        };
        // Expect the end of this document, then the end of the stream.
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart(_) => {
                    return Err(self.fatal(
                        Pos::of(&span),
                        "only one YAML document is allowed in the config file",
                    ))
                }
                _ => return Err(self.fatal(Pos::of(&span), "unexpected YAML event")),
            }
        }
    }

    fn node(
        &mut self,
        ev: Event<'a>,
        span: Span,
        path: &str,
        depth: usize,
        ctx: &mut Ctx,
    ) -> Result<Node, Fatal> {
        let pos = Pos::of(&span);
        if depth > MAX_DEPTH {
            return Err(self.fatal(pos, "YAML nested too deeply"));
        }
        self.spend(1, pos)?;
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let scalar = Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain && !is_str_tag,
                    interpolated: false,
                    failed: false,
                };
                let kind = Kind::Scalar(scalar);
                (Node { pos, kind }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    let item_path = index_path(path, items.len());
                    items.push(self.node(ev, span, &item_path, depth + 1, ctx)?);
                }
                let kind = Kind::Seq(items);
                (Node { pos, kind }, anchor)
            }
            Event::MappingStart(anchor, _) => {
                let kind = Kind::Map(self.mapping(path, depth, ctx)?);
                (Node { pos, kind }, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id).cloned() else {
                    return Err(self.fatal(pos, "alias refers to an unknown anchor"));
                };
                self.spend(target.size(), pos)?;
                let node = Node {
                    pos,
                    kind: target.kind,
                };
                (node, 0)
            }
            _ => return Err(self.fatal(pos, "unexpected YAML event")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, path: &str, depth: usize, ctx: &mut Ctx) -> Result<Vec<Entry>, Fatal> {
        let mut entries: Vec<Entry> = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                return Ok(entries);
            }
            let key_node = self.node(ev, span, path, depth + 1, ctx)?;
            let key = match key_node.kind {
                Kind::Scalar(s) => Some(s.text),
                _ => {
                    ctx.error(key_node.pos, path, "mapping keys must be plain strings");
                    None
                }
            };
            let (ev, span) = self.next()?;
            let child = key_path(path, key.as_deref().unwrap_or("?"));
            let value = self.node(ev, span, &child, depth + 1, ctx)?;
            let Some(key) = key else { continue };
            if let Some(first) = entries.iter().find(|e| e.key == key) {
                let msg = format!(
                    "duplicate key `{key}` (first at line {})",
                    first.key_pos.line
                );
                ctx.error(key_node.pos, &child, msg);
                continue;
            }
            entries.push(Entry {
                key,
                key_pos: key_node.pos,
                value,
            });
        }
    }

    fn spend(&mut self, n: usize, pos: Pos) -> Result<(), Fatal> {
        match self.budget.checked_sub(n) {
            Some(rest) => {
                self.budget = rest;
                Ok(())
            }
            None => Err(self.fatal(pos, "YAML document too large (too many nodes/aliases)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Option<Node>, Vec<String>) {
        let mut ctx = Ctx::new("t.yaml");
        let node = parse(text, &mut ctx);
        (node, ctx.diags.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn positions_are_one_based() {
        let (node, diags) = tree("a: 1\nb:\n  c: [x, 'y']\n");
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Node {
            kind: Kind::Map(entries),
            ..
        }) = node
        else {
            panic!("not a map")
        };
        assert_eq!(entries[1].key_pos, Pos { line: 2, column: 1 });
        let Kind::Map(inner) = &entries[1].value.kind else {
            panic!("b not a map")
        };
        assert_eq!(inner[0].value.pos, Pos { line: 3, column: 6 });
        let Kind::Seq(items) = &inner[0].value.kind else {
            panic!("c not a seq")
        };
        assert_eq!(
            items[1].pos,
            Pos {
                line: 3,
                column: 10
            }
        );
        let Kind::Scalar(s) = &items[1].kind else {
            panic!()
        };
        assert!(!s.plain);
    }

    #[test]
    fn duplicate_keys_and_syntax_errors() {
        let (_, diags) = tree("a: 1\nb:\n  x: 1\n  x: 2\n");
        assert_eq!(
            diags,
            ["t.yaml:4:3: b.x: duplicate key `x` (first at line 3)"]
        );
        let (node, diags) = tree("a: [1\nb: 2\n");
        assert!(node.is_none());
        assert!(diags[0].starts_with("t.yaml:2:"), "{diags:?}");
        let (node, diags) = tree("a: 1\n---\nb: 2\n");
        assert!(node.is_none());
        assert!(diags[0].contains("only one YAML document"), "{diags:?}");
    }

    #[test]
    fn empty_and_aliases() {
        let (node, diags) = tree("# nothing\n");
        assert!(diags.is_empty());
        assert!(matches!(node, Some(Node { kind: Kind::Map(ref e), .. }) if e.is_empty()));
        let (node, diags) = tree("a: &x [1, 2]\nb: *x\n");
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Node {
            kind: Kind::Map(entries),
            ..
        }) = node
        else {
            panic!()
        };
        assert!(matches!(&entries[1].value.kind, Kind::Seq(v) if v.len() == 2));
        let bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        let (node, diags) = tree(bomb);
        assert!(node.is_none());
        assert!(diags[0].contains("too large"), "{diags:?}");
    }
}
