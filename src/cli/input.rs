//! Reading what the user points the client commands at: inline JSON, `@file`, `@-` for stdin,
//! and the small value syntaxes checked before anything is sent (`--since`, `--grace`, `--rate`,
//! `--header`). Checking here gives a clap usage error (exit 2) naming the flag, instead of a
//! round trip and a server error; the server still validates everything again.

use anyhow::{anyhow, Context};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Where a JSON document comes from: `@-` (or `-`) is stdin, `@path` a file; anything else is
/// inline JSON when `inline` is true (`--data '{"a":1}'`) and a file path when it is false
/// (`--from body.json`).
fn read_source(arg: &str, inline: bool) -> anyhow::Result<(String, String)> {
    let from_file = |path: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading {path}"))
            .map(|t| (t, path.to_string()))
    };
    match arg.strip_prefix('@') {
        Some("-") => Ok((std::io::read_to_string(std::io::stdin())?, "stdin".into())),
        Some(path) => from_file(path),
        None if arg == "-" => Ok((std::io::read_to_string(std::io::stdin())?, "stdin".into())),
        None if inline => Ok((arg.to_string(), "the argument".into())),
        None => from_file(arg),
    }
}

/// `--data JSON|@file|@-`: any JSON value.
pub fn json_arg(flag: &str, arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = read_source(arg, true)?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{flag}: {origin} is not valid JSON: {e}"))
}

/// `--from FILE|@FILE|@-`: a whole request body, which must be a JSON object.
pub fn json_object_file(flag: &str, arg: &str) -> anyhow::Result<Map<String, Value>> {
    let (text, origin) = read_source(arg, false)?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(anyhow!("{flag}: {origin} must hold a JSON object")),
        Err(e) => Err(anyhow!("{flag}: {origin} is not valid JSON: {e}")),
    }
}

/// A JSON file read whole (`plugin test --event`, a plugin project's `package.json`); the
/// error names the file.
pub fn json_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// `--since 24h|RFC3339`: a duration back from now, or an instant. Returned unchanged (trimmed):
/// the API takes the same two spellings.
pub fn parse_since(s: &str) -> Result<String, String> {
    let t = s.trim();
    if crate::config::parse_duration(t).is_ok() || OffsetDateTime::parse(t, &Rfc3339).is_ok() {
        Ok(t.to_string())
    } else {
        Err(format!(
            "expected a duration like 30m, 24h or 7d, or an RFC 3339 time like 2024-05-01T00:00:00Z, got {s:?}"
        ))
    }
}

/// `--grace 24h`: a duration in the config file's spelling.
pub fn parse_duration_text(s: &str) -> Result<String, String> {
    crate::config::parse_duration(s).map(|_| s.trim().to_string())
}

/// `--rate 50/s`: a rate in the config file's spelling (`N/s`, `N/m`, `N/h`).
pub fn parse_rate_text(s: &str) -> Result<String, String> {
    s.parse::<crate::config::Rate>()
        .map(|_| s.trim().to_string())
}

/// `--header Name=value`: split at the first `=`; the name must be non-empty. Which names are
/// allowed (no hop-by-hop or signature headers) is the server's rule, not repeated here.
pub fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected Name=value, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn since_accepts_durations_and_rfc3339_only() {
        assert_eq!(parse_since("24h").unwrap(), "24h");
        assert_eq!(parse_since(" 30m ").unwrap(), "30m");
        assert_eq!(
            parse_since("2024-05-01T00:00:00Z").unwrap(),
            "2024-05-01T00:00:00Z"
        );
        assert!(parse_since("2024-05-01T10:00:00.5+02:00").is_ok());
        for bad in ["yesterday", "24", "2024-05-01", "h24", ""] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grace_rate_and_header_syntax() {
        assert_eq!(parse_duration_text("24h").unwrap(), "24h");
        assert!(parse_duration_text("1 day").is_err());
        assert_eq!(parse_rate_text("50/s").unwrap(), "50/s");
        assert!(parse_rate_text("50").is_err());
        assert_eq!(
            parse_header("X-Team=payments=eu").unwrap(),
            ("X-Team".into(), "payments=eu".into())
        );
        assert_eq!(
            parse_header("X-Empty=").unwrap(),
            ("X-Empty".into(), "".into())
        );
        assert!(parse_header("NoEquals").is_err());
        assert!(parse_header("=v").is_err());
    }

    #[test]
    fn json_sources_inline_and_file() {
        assert_eq!(json_arg("--data", r#"{"a":1}"#).unwrap(), json!({"a": 1}));
        assert!(json_arg("--data", "{nope")
            .unwrap_err()
            .to_string()
            .starts_with("--data: the argument is not valid JSON"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.json");
        std::fs::write(&path, r#"{"url": "https://r.example/h"}"#).unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(
            json_arg("--data", &format!("@{p}")).unwrap()["url"],
            "https://r.example/h"
        );
        assert_eq!(
            json_object_file("--from", p).unwrap()["url"],
            "https://r.example/h"
        );
        assert_eq!(
            json_object_file("--from", &format!("@{p}")).unwrap().len(),
            1
        );
        std::fs::write(&path, "[1]").unwrap();
        assert!(json_object_file("--from", p)
            .unwrap_err()
            .to_string()
            .contains("must hold a JSON object"));
    }
}
