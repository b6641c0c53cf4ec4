//! The plugin's per-endpoint configuration (`plugins: [{use, config}]` in Hookgate's config).
//!
//! The same parsing serves the handler ([`config`], [`config_with`]) and the load-time check
//! ([`parse_config`], [`check_as`]), so the message a user sees when the gateway loads a bad
//! config is the one the plugin would have failed the delivery with.

use crate::json::escape_token;
use crate::Problem;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The raw `config` JSON text of this chain entry (`null` when absent).
pub fn config_text() -> String {
    crate::host::config()
}

/// Parses this chain entry's `config` into `T`, with the rules of [`parse_config`].
///
/// The error names the problem and where it is (`invalid plugin config: /level: invalid type:
/// string "high", expected u8`), ready to return from `handle`.
pub fn config<T: DeserializeOwned>() -> Result<T, String> {
    config_with(|config| parse_config(config).map_err(|p| vec![p]))
}

/// Reads this chain entry's `config` and runs `load` on it.
///
/// Give it the function your [`Plugin::check_config`](crate::Plugin::check_config) runs too:
/// then a delivery fails with exactly the problems the gateway reported at load, and a config
/// the check accepted loads at delivery time.
pub fn config_with<T>(load: impl FnOnce(&Value) -> Result<T, Vec<Problem>>) -> Result<T, String> {
    let config = parse_text(&config_text())?;
    load(&config).map_err(|problems| crate::problem::describe(&problems))
}

/// The config text as JSON. The host always sends JSON; the error is for hand-made mocks.
pub(crate) fn parse_text(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("plugin config is not JSON: {e}"))
}

/// Parses a `config` value into `T`, or says which value is wrong and why.
///
/// An absent config (`null`) is tried as `null` first (so `Option<T>` gives `None`) and then
/// as `{}` (so a struct whose fields all have `#[serde(default)]` works without any config).
/// The problem's pointer is the field serde stopped at: the unknown field, the value of the
/// wrong type, or where a missing field should be. Only the first problem is found: serde
/// stops there.
///
/// Serde cannot track positions inside `#[serde(flatten)]`, untagged or internally tagged
/// (`#[serde(tag = "…")]`) types, which buffer their input: problems inside one point at the
/// enclosing value. Parse the tag first and then the variant's own struct to keep pointers
/// exact (the `envelope` example does).
pub fn parse_config<T: DeserializeOwned>(config: &Value) -> Result<T, Problem> {
    if config.is_null() {
        if let Ok(t) = T::deserialize(config) {
            return Ok(t);
        }
        return deserialize(&Value::Object(Default::default()));
    }
    deserialize(config)
}

/// [`parse_config`]'s problem as a list, for a `check_config` that only needs the typed parse.
pub fn check_as<T: DeserializeOwned>(config: &Value) -> Vec<Problem> {
    parse_config::<T>(config).err().into_iter().collect()
}

fn deserialize<T: DeserializeOwned>(config: &Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let mut pointer = pointer_of(e.path());
        let message = e.inner().to_string();
        if let Some(field) = missing_field(&message) {
            // Serde reports a missing field at its parent; point where it belongs instead.
            pointer = format!("{pointer}/{}", escape_token(field));
        }
        Problem::new(pointer, message)
    })
}

/// The path serde stopped at, as a JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(escape_token(key)),
            Segment::Enum { variant } => Some(escape_token(variant)),
            Segment::Unknown => None,
        })
        .map(|token| format!("/{token}"))
        .collect()
}

/// The name in serde's `missing field `name`` message (the wording of serde's default
/// `de::Error::missing_field`, which `serde_json` uses).
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Opt {
        level: u8,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Req {
        #[allow(dead_code)]
        url: String,
        #[allow(dead_code)]
        #[serde(default)]
        rules: Vec<Rule>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        #[allow(dead_code)]
        op: Op,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Op {
        Eq,
    }

    fn problem<T: DeserializeOwned + std::fmt::Debug>(config: Value) -> Problem {
        parse_config::<T>(&config).unwrap_err()
    }

    #[test]
    fn null_means_defaults_or_none() {
        assert_eq!(parse_config::<Opt>(&Value::Null).unwrap(), Opt::default());
        assert_eq!(parse_config::<Option<Opt>>(&Value::Null).unwrap(), None);
        assert_eq!(
            parse_config::<Opt>(&json!({"level": 3})).unwrap(),
            Opt { level: 3 }
        );
    }

    #[test]
    fn an_unknown_field_points_at_itself() {
        let p = problem::<Opt>(json!({"lvl": 1}));
        assert_eq!(
            p,
            Problem::new("/lvl", "unknown field `lvl`, expected `level`")
        );
    }

    #[test]
    fn a_wrong_type_points_at_the_value() {
        let p = problem::<Req>(json!({"url": "u", "rules": [{"op": "eq"}, {"op": 5}]}));
        assert_eq!(p.pointer, "/rules/1/op");
        assert!(p.message.starts_with("invalid type: integer `5`"), "{p}");
    }

    #[test]
    fn an_unknown_variant_points_at_the_value() {
        let p = problem::<Req>(json!({"url": "u", "rules": [{"op": "between"}]}));
        assert_eq!(
            p,
            Problem::new("/rules/0/op", "unknown variant `between`, expected `eq`")
        );
    }

    #[test]
    fn a_missing_field_points_where_it_belongs() {
        assert_eq!(
            problem::<Req>(json!({"rules": []})),
            Problem::new("/url", "missing field `url`")
        );
        assert_eq!(
            problem::<Req>(json!({"url": "u", "rules": [{}]})),
            Problem::new("/rules/0/op", "missing field `op`")
        );
    }

    #[test]
    fn an_absent_config_reports_what_an_empty_one_lacks() {
        assert_eq!(
            problem::<Req>(Value::Null),
            Problem::new("/url", "missing field `url`")
        );
    }

    #[test]
    fn keys_are_escaped_in_pointers() {
        assert_eq!(problem::<Opt>(json!({"a/b~c": 1})).pointer, "/a~1b~0c");
    }

    #[test]
    fn the_whole_config_of_the_wrong_type_points_at_the_root() {
        assert_eq!(problem::<Opt>(json!(5)).pointer, "");
    }

    #[test]
    fn check_as_lists_the_parse_problem() {
        assert!(check_as::<Opt>(&json!({"level": 1})).is_empty());
        assert_eq!(check_as::<Opt>(&json!({"level": -1})).len(), 1);
    }

    #[test]
    fn handle_time_errors_carry_the_check_message() {
        crate::testing::reset();
        crate::testing::set_config(&json!({"lvl": 1}));
        let e = config::<Opt>().unwrap_err();
        assert_eq!(
            e,
            "invalid plugin config: /lvl: unknown field `lvl`, expected `level`"
        );
    }

    #[test]
    fn config_text_that_is_not_json_is_explained() {
        crate::testing::reset();
        crate::testing::set_config_text("{");
        assert!(config::<Opt>()
            .unwrap_err()
            .starts_with("plugin config is not JSON"));
    }
}
