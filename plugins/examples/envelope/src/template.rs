//! `format: template`: the output body is a JSON template, so any receiver's shape is one line
//! of config.
//!
//! ```json
//! {"format": "template",
//!  "body": {"id": "{{event.id}}", "type": "{{event.type}}",
//!           "created_at": "{{event.timestamp}}", "data": "{{/data}}"}}
//! ```
//!
//! Only strings are templated; numbers, booleans, `null` and object keys are copied as they
//! are.
//!
//! * A string that is exactly one `{{/json/pointer}}` becomes the value at that pointer in the
//!   incoming body, whatever its type (an object stays an object), or `null` when nothing is
//!   there. The incoming body is by default the gateway's envelope `{id, type, timestamp,
//!   data}`, so `{{/data}}` is the event's data; `{{}}` (the empty pointer) is the whole body.
//! * Inside a longer string, `{{/pointer}}` inserts the value's text: a string without quotes,
//!   any other value as compact JSON, nothing when absent (as the `slack` plugin does).
//! * `{{event.id}}`, `{{event.type}}`, `{{event.timestamp}}` (RFC 3339), `{{event.tenant}}`,
//!   `{{delivery.id}}` and `{{endpoint.id}}` are replaced inside any string. They come from the
//!   event record, not the body, so they hold even after an earlier plugin reshaped it.
//! * Spaces inside the braces are allowed (`{{ event.id }}`). Lone braces are text.
//!
//! An unknown name, an invalid pointer, an unclosed `{{` and a `{{` in an object key (keys are
//! not templated, and refusing them keeps that open) are problems found at load, pointing at
//! the string.

use hookgate_plugin_sdk::json::{escape_token, to_text, validate_pointer};
use hookgate_plugin_sdk::serde_json::Map;
use hookgate_plugin_sdk::{Delivery, Problem, Value};

/// A compiled template: placeholders parsed once per call, before the body is looked at.
#[derive(Debug)]
pub struct Template {
    root: Node,
}

#[derive(Debug)]
enum Node {
    /// A value without placeholders, copied as is.
    Literal(Value),
    /// A string that is exactly `{{/pointer}}`: the value there, of any type.
    Pointer(String),
    /// A string with placeholders in it: always a string.
    Text(Vec<Part>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

#[derive(Debug)]
enum Part {
    Text(String),
    Var(Var),
    Pointer(String),
}

/// The delivery's own values a template may name.
#[derive(Debug, Clone, Copy)]
enum Var {
    EventId,
    EventType,
    EventTimestamp,
    EventTenant,
    DeliveryId,
    EndpointId,
}

const VARS: [(&str, Var); 6] = [
    ("event.id", Var::EventId),
    ("event.type", Var::EventType),
    ("event.timestamp", Var::EventTimestamp),
    ("event.tenant", Var::EventTenant),
    ("delivery.id", Var::DeliveryId),
    ("endpoint.id", Var::EndpointId),
];

impl Template {
    /// Compiles `template`; every problem points into it (`/created_at`, `/items/0`).
    pub fn compile(template: &Value) -> Result<Self, Vec<Problem>> {
        if template.is_null() {
            // Almost surely a YAML slip (`body:` with the template mis-indented below it).
            let message = "`body` is the output body's template and must not be null";
            return Err(vec![Problem::new("", message)]);
        }
        let mut problems = Vec::new();
        let root = node(template, "", &mut problems);
        if problems.is_empty() {
            Ok(Template { root })
        } else {
            Err(problems)
        }
    }

    /// The output body for `delivery`, whose (parsed) incoming body is `body`.
    pub fn render(&self, delivery: &Delivery, body: &Value) -> Value {
        self.root.render(delivery, body)
    }
}

/// Compiles the value at `at`, recording problems rather than stopping, so one load reports
/// every bad string.
fn node(value: &Value, at: &str, problems: &mut Vec<Problem>) -> Node {
    match value {
        Value::String(s) => string(s).unwrap_or_else(|message| {
            problems.push(Problem::new(at, message));
            Node::Literal(Value::Null)
        }),
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| node(v, &format!("{at}/{i}"), problems))
                .collect(),
        ),
        Value::Object(map) => Node::Object(
            map.iter()
                .map(|(k, v)| {
                    let at = format!("{at}/{}", escape_token(k));
                    if k.contains("{{") {
                        let message = format!("object keys are not templated, only values: {k:?}");
                        problems.push(Problem::new(&at, message));
                    }
                    (k.clone(), node(v, &at, problems))
                })
                .collect(),
        ),
        other => Node::Literal(other.clone()),
    }
}

/// Compiles one string: a lone pointer, text with placeholders, or plain text.
fn string(s: &str) -> Result<Node, String> {
    let parts = parts(s)?;
    Ok(match parts.as_slice() {
        [Part::Pointer(p)] => Node::Pointer(p.clone()),
        [] | [Part::Text(_)] => Node::Literal(Value::String(s.to_owned())),
        _ => Node::Text(parts),
    })
}

/// Splits `s` into text and placeholders (the gateway's header templates split the same way).
fn parts(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            format!("unclosed `{{{{` in {s:?} (placeholders look like {{{{event.id}}}} or {{{{/data}}}})")
        })?;
        parts.push(placeholder(after[..close].trim())?);
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

fn placeholder(inner: &str) -> Result<Part, String> {
    if inner.is_empty() || inner.starts_with('/') {
        validate_pointer(inner)?;
        return Ok(Part::Pointer(inner.to_owned()));
    }
    match VARS.iter().find(|(name, _)| *name == inner) {
        Some((_, var)) => Ok(Part::Var(*var)),
        None => {
            let names: Vec<&str> = VARS.iter().map(|(name, _)| *name).collect();
            Err(format!(
                "unknown placeholder `{inner}` (expected {} or a JSON pointer such as /data)",
                names.join(", ")
            ))
        }
    }
}

impl Node {
    fn render(&self, delivery: &Delivery, body: &Value) -> Value {
        match self {
            Node::Literal(v) => v.clone(),
            Node::Pointer(p) => body.pointer(p).cloned().unwrap_or(Value::Null),
            Node::Text(parts) => Value::String(text(parts, delivery, body)),
            Node::Array(items) => items.iter().map(|n| n.render(delivery, body)).collect(),
            Node::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, n)| (k.clone(), n.render(delivery, body)))
                    .collect();
                Value::Object(map)
            }
        }
    }
}

fn text(parts: &[Part], delivery: &Delivery, body: &Value) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var(var) => out.push_str(var.value(delivery)),
            Part::Pointer(p) => out.push_str(&body.pointer(p).map(to_text).unwrap_or_default()),
        }
    }
    out
}

impl Var {
    fn value(self, delivery: &Delivery) -> &str {
        let event = delivery.event();
        match self {
            Var::EventId => &event.id,
            Var::EventType => &event.event_type,
            Var::EventTimestamp => &event.timestamp,
            Var::EventTenant => &event.tenant,
            Var::DeliveryId => delivery.id(),
            Var::EndpointId => &delivery.endpoint().id,
        }
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
