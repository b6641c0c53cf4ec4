//! Standard Webhooks 1.0 (<https://www.standardwebhooks.com/>): id,
//! timestamp and `v1,<base64>` signature headers; the default scheme.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::mac::{any_matches, hmac_sha256, MAC_LEN};
use super::verify::{check_tolerance, find_header, parse_timestamp, VerifyError};
use super::{Scheme, Secret, SignatureSpec};

/// Header carrying the message id (part of the signed content).
pub(super) const ID_HEADER: &str = "webhook-id";
/// Header carrying the unix timestamp (part of the signed content).
pub(super) const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Default signature header name.
pub(super) const DEFAULT_HEADER: &str = "webhook-signature";
/// Default signature version prefix.
pub(super) const DEFAULT_PREFIX: &str = "v1,";

/// HMAC over `"{msg_id}.{timestamp}.{body}"`. `timestamp` is the decimal text
/// exactly as it appears in the header.
fn mac(secret: &Secret, msg_id: &str, timestamp: &str, body: &[u8]) -> [u8; MAC_LEN] {
    let key = secret.key_bytes(Scheme::Standard);
    let parts: [&[u8]; 5] = [msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    hmac_sha256(&key, &parts)
}

/// Headers for one attempt: id, timestamp, then one space-separated signature
/// per secret, oldest first.
pub(super) fn sign(
    spec: &SignatureSpec,
    secrets: &[Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    let prefix = spec.prefix_or(DEFAULT_PREFIX);
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| format!("{prefix}{}", B64.encode(mac(s, msg_id, &ts, body))))
        .collect();
    vec![
        (ID_HEADER.to_string(), msg_id.to_string()),
        (TIMESTAMP_HEADER.to_string(), ts),
        (spec.signature_header(), signatures.join(" ")),
    ]
}

/// Accepts if the timestamp is within tolerance and any `prefix`-tagged
/// signature matches; signatures with another version tag are ignored, as the
/// spec asks, so senders can add new versions alongside `v1`.
pub(super) fn verify(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let name = spec.signature_header();
    let msg_id = find_header(headers, ID_HEADER)?;
    let ts_raw = find_header(headers, TIMESTAMP_HEADER)?;
    let value = find_header(headers, &name)?;
    let timestamp = parse_timestamp(ts_raw, TIMESTAMP_HEADER)?;
    check_tolerance(timestamp, now, tolerance_secs)?;

    let prefix = spec.prefix_or(DEFAULT_PREFIX);
    let tagged: Vec<&str> = value
        .split_whitespace()
        .filter_map(|token| token.strip_prefix(prefix))
        .collect();
    if tagged.is_empty() {
        return Err(VerifyError::Malformed(format!(
            "header {name} has no signature starting with {prefix:?}"
        )));
    }
    let decoded: Vec<Vec<u8>> = tagged.iter().filter_map(|b| B64.decode(b).ok()).collect();
    if decoded.is_empty() {
        return Err(VerifyError::Malformed(format!(
            "the {prefix:?} signatures in header {name} are not base64"
        )));
    }
    let expected = mac(secret, msg_id, ts_raw, body);
    if any_matches(&expected, decoded.iter().map(Vec::as_slice)) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}
