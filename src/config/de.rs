//! A serde `Deserializer` over the positioned YAML tree, for the two places
//! where the config holds types it does not define field by field: the
//! endpoint `signature` ([`crate::signing::SignatureSpec`], owned by the
//! signing module) and free-form plugin `config` (`serde_json::Value`).
//!
//! Owns: YAML core-schema typing of plain scalars (null/bool/int/float) and
//! attaching the innermost node's position and path to serde's errors.
//! Imports nothing from api/store/dispatch/delivery/plugins.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::reader::Ctx;
use super::yaml::{index_path, key_path, Entry, Kind, Node, Pos, Scalar};

/// Deserializes `node` as `T`, reporting any error at the node serde was on.
pub(crate) fn from_node<T: de::DeserializeOwned>(
    node: &Node,
    path: &str,
    ctx: &mut Ctx,
) -> Option<T> {
    match T::deserialize(NodeDe { node, path }) {
        Ok(v) => Some(v),
        Err(DeError { msg, at }) => {
            if !msg.is_empty() {
                let (pos, path) = at.unwrap_or((node.pos, path.to_string()));
                ctx.error(pos, &path, msg);
            }
            None
        }
    }
}

/// A serde error plus where it happened (filled in by the innermost node).
#[derive(Debug)]
pub(crate) struct DeError {
    msg: String,
    at: Option<(Pos, String)>,
}

impl DeError {
    fn locate(mut self, pos: Pos, path: &str) -> Self {
        if self.at.is_none() {
            self.at = Some((pos, path.to_string()));
        }
        self
    }

    /// An error that was already reported (failed interpolation): stays silent.
    fn reported() -> Self {
        DeError {
            msg: String::new(),
            at: None,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            msg: msg.to_string(),
            at: None,
        }
    }
}

struct NodeDe<'n, 'p> {
    node: &'n Node,
    path: &'p str,
}

impl<'n> NodeDe<'n, '_> {
    fn scalar(&self) -> Option<&'n Scalar> {
        match &self.node.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    fn any<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let result = match &self.node.kind {
            Kind::Scalar(s) if s.failed => Err(DeError::reported()),
            Kind::Scalar(_) if self.node.is_null() => v.visit_unit(),
            Kind::Scalar(s) if !s.plain || s.interpolated => v.visit_str(&s.text),
            Kind::Scalar(s) => visit_plain(&s.text, v),
            Kind::Seq(items) => v.visit_seq(Items {
                iter: items.iter().enumerate(),
                path: self.path,
            }),
            Kind::Map(entries) => v.visit_map(Members {
                iter: entries.iter(),
                path: self.path,
                value: None,
            }),
        };
        result.map_err(|e: DeError| e.locate(self.node.pos, self.path))
    }
}

/// Types a plain scalar by the YAML 1.2 core schema.
fn visit_plain<'de, V: Visitor<'de>>(t: &str, v: V) -> Result<V::Value, DeError> {
    match t {
        "true" | "True" | "TRUE" => return v.visit_bool(true),
        "false" | "False" | "FALSE" => return v.visit_bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return v.visit_f64(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return v.visit_f64(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return v.visit_f64(f64::NAN),
        _ => {}
    }
    if let Ok(n) = t.parse::<u64>() {
        return v.visit_u64(n);
    }
    if let Ok(n) = t.parse::<i64>() {
        return v.visit_i64(n);
    }
    let float_chars = t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if float_chars && t.chars().any(|c| c.is_ascii_digit()) {
        if let Ok(f) = t.parse::<f64>() {
            return v.visit_f64(f);
        }
    }
    v.visit_str(t)
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.any(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) if !s.failed && !self.node.is_null() => v
                .visit_str(&s.text)
                .map_err(|e: DeError| e.locate(self.node.pos, self.path)),
            _ => self.any(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) if !s.failed => {
                let variant: StrDeserializer<'_, DeError> = s.text.as_str().into_deserializer();
                v.visit_enum(variant)
                    .map_err(|e: DeError| e.locate(self.node.pos, self.path))
            }
            _ => self.any(v),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct ignored_any
    }
}

struct Items<'n, 'p> {
    iter: std::iter::Enumerate<std::slice::Iter<'n, Node>>,
    path: &'p str,
}

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.iter.next() else {
            return Ok(None);
        };
        let path = index_path(self.path, i);
        seed.deserialize(NodeDe { node, path: &path }).map(Some)
    }
}

struct Members<'n, 'p> {
    iter: std::slice::Iter<'n, Entry>,
    path: &'p str,
    value: Option<&'n Entry>,
}

impl<'de> MapAccess<'de> for Members<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let key: StrDeserializer<'_, DeError> = entry.key.as_str().into_deserializer();
        seed.deserialize(key)
            .map(Some)
            .map_err(|e| e.locate(entry.key_pos, &key_path(self.path, &entry.key)))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let entry = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before key"))?;
        let path = key_path(self.path, &entry.key);
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: &path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Scheme, SignatureSpec};

    fn de<T: de::DeserializeOwned>(text: &str) -> Result<T, Vec<String>> {
        let mut ctx = Ctx::new("f.yaml");
        let node = super::super::yaml::parse(text, &mut ctx);
        let value = node.and_then(|n| from_node::<T>(&n, "sig", &mut ctx));
        match value {
            Some(v) if ctx.diags.is_empty() => Ok(v),
            _ => Err(ctx.diags.iter().map(|d| d.to_string()).collect()),
        }
    }

    #[test]
    fn json_values_follow_yaml_core_schema() {
        let v: serde_json::Value =
            de("a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: '1'\ng: [x, {h: null}]\ni: 1e3\n")
                .unwrap_or_else(|e| panic!("{e:?}"));
        let want = serde_json::json!({"a": 1, "b": -2, "c": 1.5, "d": true, "e": null, "f": "1", "g": ["x", {"h": null}], "i": 1000.0});
        assert_eq!(v, want);
    }

    #[test]
    fn signature_spec_and_error_positions() {
        let s: SignatureSpec =
            de("scheme: github\nheader: X-Sig\n").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.scheme, Scheme::Github);
        assert_eq!(s.header.as_deref(), Some("X-Sig"));
        assert_eq!(s.prefix, None);
        let e = de::<SignatureSpec>("scheme: standard\nnope: 1\n")
            .err()
            .unwrap_or_default();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("f.yaml:2:1: sig.nope: unknown field `nope`"),
            "{e:?}"
        );
        let e = de::<SignatureSpec>("header: X\nscheme: rot13\n")
            .err()
            .unwrap_or_default();
        assert!(
            e[0].starts_with("f.yaml:2:9: sig.scheme: unknown variant `rot13`"),
            "{e:?}"
        );
        let e = de::<SignatureSpec>("header: X\n").err().unwrap_or_default();
        assert_eq!(e, ["f.yaml:1:1: sig: missing field `scheme`"]);
    }
}
