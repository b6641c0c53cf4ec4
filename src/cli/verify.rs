//! Glue for `hookgate verify`: turns command-line strings into a call to
//! [`crate::signing::verify`], so people debugging a receiver check
//! signatures with the same code the gateway signs with.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::signing::{self, Secret, SignatureSpec, VerifyError};

/// `hookgate verify --scheme S --secret K [--header 'Name: value']... [--body FILE|-] [--tolerance 300] [--header-name N] [--prefix P]`
///
/// Returns `Ok(message)` or `Err(message)`, both ready to print, so the CLI
/// only maps them to an exit code. `headers` are `"Name: value"` strings;
/// `body_path` is a file, `-` for stdin, or `None` for an empty body. The
/// current clock is used for the timestamp check; a large `tolerance_secs`
/// lets an old captured request be checked.
pub fn run_verify(
    spec: SignatureSpec,
    secret: Secret,
    headers: Vec<String>,
    body_path: Option<PathBuf>,
    tolerance_secs: i64,
) -> Result<String, String> {
    if tolerance_secs < 0 {
        return Err(format!(
            "--tolerance must be zero or more seconds, got {tolerance_secs}"
        ));
    }
    let headers = headers
        .iter()
        .map(|raw| parse_header(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let body = read_body(body_path.as_deref())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or("the system clock is before 1970; cannot check timestamps")?;
    check(&spec, &secret, &headers, &body, now, tolerance_secs)
}

/// Splits `"Name: value"` at the first colon, trimming both sides.
fn parse_header(raw: &str) -> Result<(String, String), String> {
    match raw.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!(
            "bad --header {raw:?}: expected 'Name: value', e.g. 'webhook-id: msg_123'"
        )),
    }
}

/// Reads the body from a file, from stdin for `-`, or returns an empty body.
fn read_body(path: Option<&Path>) -> Result<Vec<u8>, String> {
    match path {
        None => Ok(Vec::new()),
        Some(p) if p.as_os_str() == "-" => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
            Ok(body)
        }
        Some(p) => {
            std::fs::read(p).map_err(|e| format!("cannot read body file {}: {e}", p.display()))
        }
    }
}

/// Runs the verification and words the outcome, adding a hint on what to
/// change in the command line when it fails.
fn check(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<String, String> {
    match signing::verify(spec, secret, headers, body, now, tolerance_secs) {
        Ok(()) => Ok(format!(
            "OK: valid {} signature in header {} ({} body bytes)",
            spec.scheme,
            spec.signature_header(),
            body.len()
        )),
        Err(err) => {
            let hint = match &err {
                VerifyError::MissingHeader(name) => format!("pass it with --header '{name}: ...'"),
                VerifyError::TimestampOutOfTolerance { .. } => {
                    "raise --tolerance to check an older captured request".to_string()
                }
                VerifyError::NoMatchingSignature => {
                    "check --secret, --scheme, and that the body file holds the exact bytes \
                     sent (an editor may add a trailing newline)"
                        .to_string()
                }
                VerifyError::Malformed(_) => {
                    "check the header value, or --header-name/--prefix".to_string()
                }
            };
            Err(format!("FAILED: {err} ({hint})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Scheme;

    fn spec(scheme: Scheme) -> SignatureSpec {
        SignatureSpec {
            scheme,
            ..SignatureSpec::default()
        }
    }

    fn as_cli_headers(headers: &[(String, String)]) -> Vec<String> {
        headers.iter().map(|(n, v)| format!("{n}: {v}")).collect()
    }

    #[test]
    fn parses_name_value_headers() {
        assert_eq!(
            parse_header("X-Hub-Signature-256:  sha256=ab:cd "),
            Ok(("X-Hub-Signature-256".into(), "sha256=ab:cd".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
    }

    #[test]
    fn verifies_a_body_file_signed_now() {
        let secret = Secret::generate();
        let body = br#"{"hello":"world"}"#;
        let path =
            std::env::temp_dir().join(format!("hookgate-verify-{}.json", std::process::id()));
        std::fs::write(&path, body).expect("write temp body");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let signed = signing::sign(
            &spec(Scheme::Standard),
            std::slice::from_ref(&secret),
            "msg_1",
            now,
            body,
        );

        let ok = run_verify(
            spec(Scheme::Standard),
            secret.clone(),
            as_cli_headers(&signed),
            Some(path.clone()),
            300,
        );
        let tampered = run_verify(
            spec(Scheme::Standard),
            secret,
            as_cli_headers(&signed),
            None,
            300,
        );
        std::fs::remove_file(&path).expect("remove temp body");
        assert_eq!(
            ok,
            Ok(
                "OK: valid standard signature in header webhook-signature (17 body bytes)"
                    .to_string()
            )
        );
        let err = tampered.unwrap_err();
        assert!(err.starts_with("FAILED: no signature matched"), "{err}");
    }

    #[test]
    fn explains_failures() {
        let secret = Secret::new("gh");
        let err = run_verify(spec(Scheme::Github), secret.clone(), vec![], None, 300).unwrap_err();
        assert!(err.contains("missing header x-hub-signature-256"), "{err}");
        assert!(err.contains("--header 'x-hub-signature-256: ...'"), "{err}");

        let missing = PathBuf::from("/nonexistent/hookgate/body.json");
        let err = run_verify(
            spec(Scheme::Github),
            secret.clone(),
            vec![],
            Some(missing),
            300,
        )
        .unwrap_err();
        assert!(
            err.starts_with("cannot read body file /nonexistent/hookgate/body.json"),
            "{err}"
        );

        let signed = signing::sign(
            &spec(Scheme::Stripe),
            std::slice::from_ref(&secret),
            "m",
            1_000,
            b"x",
        );
        let err = check(&spec(Scheme::Stripe), &secret, &signed, b"x", 2_000, 300).unwrap_err();
        assert!(err.contains("raise --tolerance"), "{err}");
        assert!(run_verify(spec(Scheme::Github), secret, vec![], None, -1).is_err());
    }
}
