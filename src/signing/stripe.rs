//! Stripe-style signatures: one header `t=<unix>,v1=<hex>[,v1=<hex>...]`,
//! HMAC over `"{t}.{body}"` keyed by the secret string's bytes.

use super::mac::{any_matches, hmac_sha256, MAC_LEN};
use super::verify::{check_tolerance, find_header, parse_timestamp, VerifyError};
use super::{Scheme, Secret, SignatureSpec};

/// Default signature header name (the `header` override renames it).
pub(super) const DEFAULT_HEADER: &str = "webhook-signature";

/// HMAC over `"{timestamp}.{body}"`, `timestamp` as the decimal text sent.
fn mac(secret: &Secret, timestamp: &str, body: &[u8]) -> [u8; MAC_LEN] {
    let key = secret.key_bytes(Scheme::Stripe);
    hmac_sha256(&key, &[timestamp.as_bytes(), b".", body])
}

/// One header: the timestamp, then one `v1=` entry per secret, oldest first.
/// The `prefix` override has no meaning here and is ignored.
pub(super) fn sign(
    spec: &SignatureSpec,
    secrets: &[Secret],
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    let mut value = format!("t={ts}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&hex::encode(mac(secret, &ts, body)));
    }
    vec![(spec.signature_header(), value)]
}

/// Accepts if `t=` is within tolerance and any `v1=` entry matches. Entries
/// with other keys (`v0=`, future versions) are ignored, as Stripe does.
pub(super) fn verify(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let name = spec.signature_header();
    let value = find_header(headers, &name)?;

    let mut ts_raw = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" if ts_raw.is_none() => ts_raw = Some(val.trim()),
            "v1" => signatures.push(val.trim()),
            _ => {}
        }
    }
    let ts_raw = ts_raw.ok_or_else(|| {
        VerifyError::Malformed(format!("header {name} has no t=<unix seconds> entry"))
    })?;
    let timestamp = parse_timestamp(ts_raw, &format!("t= in header {name}"))?;
    check_tolerance(timestamp, now, tolerance_secs)?;

    if signatures.is_empty() {
        return Err(VerifyError::Malformed(format!(
            "header {name} has no v1=<hex> entry"
        )));
    }
    let decoded: Vec<Vec<u8>> = signatures
        .iter()
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    if decoded.is_empty() {
        return Err(VerifyError::Malformed(format!(
            "the v1= entries in header {name} are not hex"
        )));
    }
    let expected = mac(secret, ts_raw, body);
    if any_matches(&expected, decoded.iter().map(Vec::as_slice)) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}
