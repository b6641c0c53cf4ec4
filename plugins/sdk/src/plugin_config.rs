//! The plugin's per-endpoint configuration (`plugins: [{use, config}]` in Hookgate's config).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The raw `config` JSON text of this chain entry (`null` when absent).
pub fn config_text() -> String {
    crate::host::config()
}

/// Parses this chain entry's `config` into `T`.
///
/// An absent config (`null`) is tried as `null` first (so `Option<T>` gives `None`) and then
/// as `{}` (so a struct whose fields all have `#[serde(default)]` works without any config).
/// The error names the problem, ready to return from `handle`.
pub fn config<T: DeserializeOwned>() -> Result<T, String> {
    parse(&config_text())
}

/// The parsing behind [`config`], separate so it is testable without a host.
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("plugin config is not JSON: {e}"))?;
    if value.is_null() {
        if let Ok(t) = T::deserialize(&value) {
            return Ok(t);
        }
        return T::deserialize(&Value::Object(Default::default()))
            .map_err(|e| format!("plugin config is required: {e}"));
    }
    T::deserialize(&value).map_err(|e| format!("invalid plugin config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Opt {
        level: u8,
    }

    #[derive(Deserialize, Debug)]
    struct Req {
        #[allow(dead_code)]
        url: String,
    }

    #[test]
    fn null_means_defaults_or_none() {
        assert_eq!(parse::<Opt>("null").unwrap(), Opt::default());
        assert_eq!(parse::<Option<Opt>>("null").unwrap(), None);
        assert_eq!(parse::<Opt>(r#"{"level":3}"#).unwrap(), Opt { level: 3 });
    }

    #[test]
    fn errors_are_explained() {
        let e = parse::<Req>("null").unwrap_err();
        assert!(
            e.starts_with("plugin config is required: missing field `url`"),
            "{e}"
        );
        let e = parse::<Opt>(r#"{"lvl":1}"#).unwrap_err();
        assert!(
            e.starts_with("invalid plugin config: unknown field `lvl`"),
            "{e}"
        );
        assert!(parse::<Opt>("{")
            .unwrap_err()
            .starts_with("plugin config is not JSON"));
    }
}
