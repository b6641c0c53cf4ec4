//! Header value templates: literal text with `{{event.id}}`, `{{event.type}}`,
//! `{{event.tenant}}` and `{{delivery.id}}` placeholders.
//!
//! Owns: [`HeaderTemplate`] (parsed once at load, rendered per delivery) and
//! [`TemplateVars`]. Imports nothing from api/store/dispatch/delivery/plugins.

use std::fmt;
use std::str::FromStr;

/// The values a header template may reference for one delivery.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    /// `{{event.id}}`
    pub event_id: &'a str,
    /// `{{event.type}}`
    pub event_type: &'a str,
    /// `{{event.tenant}}`
    pub tenant: &'a str,
    /// `{{delivery.id}}`
    pub delivery_id: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    EventId,
    EventType,
    Tenant,
    DeliveryId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A parsed header value; parsing up front means a bad placeholder is a load
/// error, never a delivery-time surprise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTemplate {
    source: String,
    parts: Vec<Part>,
}

impl HeaderTemplate {
    /// The value for one delivery.
    pub fn render(&self, v: &TemplateVars) -> String {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            out.push_str(match part {
                Part::Text(t) => t,
                Part::Var(Var::EventId) => v.event_id,
                Part::Var(Var::EventType) => v.event_type,
                Part::Var(Var::Tenant) => v.tenant,
                Part::Var(Var::DeliveryId) => v.delivery_id,
            });
        }
        out
    }

    /// True when the value has no placeholders, so it can be built once.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The template as written (for showing endpoints back through the API).
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl FromStr for HeaderTemplate {
    type Err = String;

    /// Parses `{{ name }}` placeholders (spaces inside braces allowed). Lone
    /// braces are literal; an unclosed `{{` or unknown name is an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(open) = rest.find("{{") {
            text.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in header template {s:?}"))?;
            let var = match after[..close].trim() {
                "event.id" => Var::EventId,
                "event.type" => Var::EventType,
                "event.tenant" => Var::Tenant,
                "delivery.id" => Var::DeliveryId,
                other => {
                    return Err(format!(
                        "unknown template variable `{other}` (expected event.id, event.type, event.tenant or delivery.id)"
                    ))
                }
            };
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Var(var));
            rest = &after[close + 2..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(HeaderTemplate {
            source: s.to_string(),
            parts,
        })
    }
}

impl fmt::Display for HeaderTemplate {
    /// The template as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: TemplateVars<'static> = TemplateVars {
        event_id: "evt_1",
        event_type: "invoice.paid",
        tenant: "acme",
        delivery_id: "dlv_9",
    };

    fn render(s: &str) -> String {
        s.parse::<HeaderTemplate>()
            .map(|t| t.render(&VARS))
            .unwrap_or_else(|e| e)
    }

    #[test]
    fn renders() {
        assert_eq!(render("billing"), "billing");
        assert_eq!(render("{{event.id}}"), "evt_1");
        assert_eq!(
            render("{{event.type}}/{{ event.tenant }}/{{delivery.id}}!"),
            "invoice.paid/acme/dlv_9!"
        );
        assert_eq!(render("a{b}c}}"), "a{b}c}}");
        assert_eq!(render(""), "");
    }

    #[test]
    fn static_and_source() {
        let t: HeaderTemplate = "x-{{event.id}}".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.is_static());
        assert_eq!(t.as_str(), "x-{{event.id}}");
        let s: HeaderTemplate = "plain".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(s.is_static());
    }

    #[test]
    fn rejects() {
        assert_eq!(
            render("{{event.body}}"),
            "unknown template variable `event.body` (expected event.id, event.type, event.tenant or delivery.id)"
        );
        assert!(render("{{event.id").starts_with("unclosed `{{`"));
        assert!("{{}}".parse::<HeaderTemplate>().is_err());
    }
}
