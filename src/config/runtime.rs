//! Endpoints defined at run time (through the API) are validated by the same rules as the
//! config file's `endpoints:` entries: the JSON definition is read as a YAML flow mapping (JSON
//! is YAML) and goes through the same reader, so a URL, header or pattern the file would refuse
//! is refused here with the same message, and a new rule never has to be written twice.
//!
//! Unlike a file, an API definition is never `${VAR}`-interpolated: a client must not be able to
//! read the gateway's environment.

use super::endpoint::endpoint;
use super::reader::Ctx;
use super::types::{EndpointConfig, NetworkConfig};
use super::Diagnostic;

/// Validates one endpoint definition (`id`, `tenant`, `url`, `events`, `signature`, `headers`,
/// `plugins`, `rate`, `max_in_flight`, `ordering`, `enabled`; unknown keys are errors; a chain
/// may use any of `plugin_names` and the built-in plugins). The
/// diagnostics' `path` names the field (`url`, `headers.X-Team`…); line and column are those of
/// the JSON text, which callers usually drop.
pub fn parse_endpoint(
    spec: &serde_json::Value,
    network: &NetworkConfig,
    plugin_names: &[String],
) -> Result<EndpointConfig, Vec<Diagnostic>> {
    let text = serde_json::to_string(spec).unwrap_or_default();
    let mut ctx = Ctx::new("request");
    let mut names = plugin_names.to_vec();
    names.extend(crate::builtin_plugins::names().map(String::from));
    let parsed = super::yaml::parse(&text, &mut ctx)
        .and_then(|root| endpoint(&root, "", network, &names, &mut ctx));
    match parsed {
        Some(ep) if ctx.diags.is_empty() => Ok(ep),
        _ if !ctx.diags.is_empty() => Err(ctx.diags),
        _ => Err(vec![Diagnostic {
            file: "request".into(),
            line: 1,
            column: 1,
            path: String::new(),
            message: "expected a JSON object".into(),
            code: None,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn net() -> NetworkConfig {
        NetworkConfig::default()
    }

    #[test]
    fn a_valid_definition_reads_like_a_file_entry() {
        let ep = parse_endpoint(
            &json!({"id": "billing", "tenant": "acme", "url": "https://billing.example.com/h",
                    "events": ["invoice.*"], "headers": {"X-Team": "billing"}, "rate": "5/s"}),
            &net(),
            &[],
        )
        .unwrap();
        assert_eq!(ep.id, "billing");
        assert_eq!(ep.tenant, "acme");
        assert_eq!(ep.headers.len(), 1);
        assert_eq!(ep.rate.unwrap().per_second, 5.0);
    }

    #[test]
    fn the_same_rules_as_the_file_apply_with_field_paths() {
        let errs = parse_endpoint(
            &json!({"id": "x", "url": "https://169.254.169.254/latest", "headers": {"Host": "a"},
                    "colour": 1}),
            &net(),
            &[],
        )
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
        assert!(paths.contains(&"url"), "{errs:?}");
        assert!(paths.contains(&"headers.Host"), "{errs:?}");
        assert!(
            errs.iter().any(|d| d.message.contains("ssrf_blocked")),
            "{errs:?}"
        );
        let coded: Vec<&str> = errs
            .iter()
            .filter(|d| d.code == Some(super::super::DiagnosticCode::SsrfBlocked))
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(
            coded,
            ["url"],
            "only the URL carries the SSRF code: {errs:?}"
        );
        assert!(
            errs.iter().any(|d| d.message.contains("colour")),
            "{errs:?}"
        );
    }

    #[test]
    fn environment_references_are_not_interpolated() {
        std::env::set_var("HOOKGATE_TEST_RUNTIME_SECRET", "leak");
        let ep = parse_endpoint(
            &json!({"id": "x", "url": "https://a.example.com/", "headers": {"X-A": "${HOOKGATE_TEST_RUNTIME_SECRET}"}}),
            &net(),
            &[],
        )
        .unwrap();
        assert_eq!(ep.headers[0].1.as_str(), "${HOOKGATE_TEST_RUNTIME_SECRET}");
    }

    #[test]
    fn a_non_object_is_refused() {
        assert!(parse_endpoint(&json!([1, 2]), &net(), &[]).is_err());
    }
}
